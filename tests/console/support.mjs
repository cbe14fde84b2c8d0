// What the Chromium and Firefox runs share: named checks that are counted and reported the same
// way (run.sh and the test harness read the closing "N passed, N failed" line), and unsigned Step
// Functions calls to the server under test.

// `label` goes before each check's name and the closing line; a failure shows `stackLines` of
// its stack.
export function checker(label, stackLines) {
  let passed = 0;
  let failed = 0;
  const check = async (name, fn) => {
    try {
      await fn();
      passed++;
      console.log("ok   " + label + name);
    } catch (error) {
      failed++;
      console.log("FAIL " + label + name + "\n     " + String(error && error.stack ? error.stack : error).split("\n").slice(0, stackLines).join("\n     "));
    }
  };
  const finish = () => {
    console.log(`${label}${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  };
  return { check, finish };
}

export const assert = (cond, message) => {
  if (!cond) throw new Error(message);
};

// An action of the Step Functions JSON protocol against `base`; a non-2xx answer throws with
// AWS's error body.
export function stepFunctions(base) {
  return async function api(action, body) {
    const response = await fetch(base + "/", {
      method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions." + action },
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(action + ": " + JSON.stringify(data));
    return data;
  };
}
