// The console in Debian's headless Firefox ESR, driven through WebDriver BiDi directly:
// Playwright's BiDi driver needs commands this Firefox does not have yet
// (emulation.setMediaFeaturesOverride), and its own Firefox build cannot be installed here.
// Runs after console.test.mjs against the same server, reading what that test made: the
// list, a machine's graph, the failed execution with its caught error, and the B1 timing.
//
// Usage: node --experimental-websocket firefox.mjs BASE_URL
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, checker, stepFunctions } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const base = process.argv[2];
if (!base) throw new Error("usage: node --experimental-websocket firefox.mjs BASE_URL");
const artifacts = join(here, "artifacts");
mkdirSync(artifacts, { recursive: true });
const executable = process.env.FIREFOX || "/usr/bin/firefox-esr";

const { check, finish } = checker("firefox: ", 5);
const api = stepFunctions(base);

// A profile that keeps Firefox off the (closed) network: no updates, telemetry, experiments,
// safe browsing or connectivity checks.
const profile = mkdtempSync(join(tmpdir(), "cairn-firefox-"));
writeFileSync(
  join(profile, "user.js"),
  [
    ["app.normandy.enabled", false],
    ["app.update.auto", false],
    ["browser.safebrowsing.malware.enabled", false],
    ["browser.safebrowsing.phishing.enabled", false],
    ["browser.safebrowsing.downloads.enabled", false],
    ["datareporting.healthreport.uploadEnabled", false],
    ["datareporting.policy.dataSubmissionEnabled", false],
    ["toolkit.telemetry.enabled", false],
    ["network.captive-portal-service.enabled", false],
    ["network.connectivity-service.enabled", false],
    ["messaging-system.rsexperimentloader.enabled", false],
    ["services.settings.server", "http://127.0.0.1:9/"],
    ["extensions.update.enabled", false],
    ["browser.search.update", false],
    ["network.dns.disablePrefetch", true],
    ["network.prefetch-next", false],
  ]
    .map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`)
    .join("\n") + "\n",
);

const firefox = spawn(executable, ["--headless", "--no-remote", "--remote-debugging-port=0", "--profile", profile, "about:blank"], { stdio: ["ignore", "pipe", "pipe"] });
let log = "";
const wsUrl = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("Firefox did not start its WebDriver BiDi server:\n" + log)), 60000);
  const read = (chunk) => {
    log += chunk;
    const m = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(log);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]);
    }
  };
  firefox.stdout.on("data", read);
  firefox.stderr.on("data", read);
  firefox.on("exit", (code) => reject(new Error("Firefox exited (" + code + "):\n" + log)));
});

const ws = new WebSocket(wsUrl + "/session");
await new Promise((resolve, reject) => {
  ws.onopen = resolve;
  ws.onerror = () => reject(new Error("cannot connect to " + wsUrl));
});
let nextId = 1;
const pending = new Map();
const events = [];
ws.onmessage = (message) => {
  const data = JSON.parse(message.data);
  if (data.id && pending.has(data.id)) {
    const { resolve, reject } = pending.get(data.id);
    pending.delete(data.id);
    if (data.type === "error") reject(new Error(data.error + ": " + data.message));
    else resolve(data.result);
  } else if (data.type === "event") events.push(data);
};
const send = (method, params) =>
  new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ id, method, params }));
  });

let context;
// Evaluates `expression` (a function body's expression) in the page, its value as JSON.
const evaluate = async (expression) => {
  const r = await send("script.evaluate", { expression: `JSON.stringify((() => ${expression})())`, target: { context }, awaitPromise: false });
  if (r.type === "exception") throw new Error("page exception: " + JSON.stringify(r.exceptionDetails).slice(0, 300));
  return JSON.parse(r.result.value ?? "null");
};
const waitFor = async (expression, what, timeoutMs = 15000) => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await evaluate(expression).catch(() => false)) return;
    if (Date.now() > until) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
};
const navigate = (url) => send("browsingContext.navigate", { context, url, wait: "complete" });
const screenshot = async (name) => {
  const r = await send("browsingContext.captureScreenshot", { context });
  writeFileSync(join(artifacts, "firefox-" + name + ".png"), Buffer.from(r.data, "base64"));
};

try {
  const session = await send("session.new", { capabilities: {} });
  console.log("browser: " + session.capabilities.browserName + " " + session.capabilities.browserVersion);
  await send("session.subscribe", { events: ["log.entryAdded"] });
  const tree = await send("browsingContext.getTree", {});
  context = tree.contexts[0].context;
  await send("browsingContext.setViewport", { context, viewport: { width: 1400, height: 1000 } });

  const machines = (await api("ListStateMachines", {})).stateMachines.filter((m) => m.name.startsWith("console-test-"));
  assert(machines.length > 0, "console.test.mjs made no machine to look at");
  const machine = machines[machines.length - 1];
  const failedRun = (await api("ListExecutions", { stateMachineArn: machine.stateMachineArn, statusFilter: "FAILED" })).executions[0];

  await check("GET / lands on the console and lists the machines", async () => {
    await navigate(base + "/");
    assert((await evaluate("location.pathname")) === "/console/", "landed elsewhere");
    await waitFor(`!!document.querySelector('tr[data-machine="${machine.name}"]')`, "the machine's row");
  });

  await check("the graph draws every state and edge, nested", async () => {
    await navigate(base + "/console/#/machine/" + encodeURIComponent(machine.stateMachineArn));
    await waitFor(`document.querySelectorAll('#graph [data-state]').length === 8`, "8 states");
    assert((await evaluate(`document.querySelectorAll('#graph .edge').length`)) === 8, "8 edges");
    assert((await evaluate(`!!document.querySelector('#graph [data-state="Fan"] [data-state="Each"] [data-state="Double"]')`)) === true, "nested");
    await screenshot("definition");
  });

  await check("a failed execution shows the caught error on the right state", async () => {
    assert(failedRun, "console.test.mjs left no failed execution");
    await navigate(base + "/console/#/execution/" + encodeURIComponent(failedRun.executionArn));
    await waitFor(`document.querySelector('#graph [data-state="Explode"]')?.getAttribute('data-status') === 'caught'`, "Explode caught");
    assert((await evaluate(`document.querySelector('#graph [data-state="ReportFailure"]').getAttribute('data-status')`)) === "failed", "ReportFailure failed");
    await evaluate(`(document.querySelector('#graph [data-state="Explode"]').dispatchEvent(new MouseEvent('click', { bubbles: true })), true)`);
    await waitFor(`document.querySelectorAll('#state-details .failure[data-error="ValueError"]').length === 2`, "both failures listed");
    // The Chromium run redrove it once; it failed again at ReportFailure.
    assert((await evaluate(`document.getElementById('redrive-count')?.textContent`)) === "1", "redriveCount 1 shown");
    assert((await evaluate(`document.querySelectorAll('#events-section tr[data-event-type="ExecutionRedriven"]').length`)) === 1, "the ExecutionRedriven row");
    await screenshot("execution-caught");
  });

  await check("a machine's versions and alias weights", async () => {
    const versioned = (await api("ListStateMachines", {})).stateMachines.filter((m) => m.name.startsWith("console-versions-")).pop();
    assert(versioned, "console.test.mjs left no versioned machine");
    await navigate(base + "/console/#/machine/" + encodeURIComponent(versioned.stateMachineArn));
    await waitFor(`document.querySelectorAll('#versions tr[data-version]').length === 2`, "2 versions");
    await waitFor(`document.querySelector('#aliases tr[data-alias="live"] .routing [data-version="2"]')?.getAttribute('data-weight') === '70'`, "alias live: version 2 at 70%");
    assert((await evaluate(`document.querySelectorAll('#start-target option').length`)) === 4, "latest, the alias and two versions to start");
  });

  const b1Path = join(here, "../../../shared/bench/asl/b1_pass_chain.asl.json");
  if (existsSync(b1Path)) {
    await check("the 1,000-state B1 graph lays out and draws", async () => {
      const def = readFileSync(b1Path, "utf8");
      const t = await evaluate(`(() => {
        const box = document.createElement("div");
        document.body.appendChild(box);
        const t0 = performance.now();
        const g = window.CairnGraph.render(box, ${def}, {});
        box.getBoundingClientRect();
        const r = { states: g.nodes.size, layoutMs: g.timing.layoutMs, drawMs: g.timing.drawMs, totalMs: performance.now() - t0 };
        box.remove();
        return r;
      })()`);
      console.log(`     B1 in firefox (${t.states} states): layout ${t.layoutMs.toFixed(1)} ms, SVG ${t.drawMs.toFixed(1)} ms, with browser layout ${t.totalMs.toFixed(1)} ms`);
      assert(t.states === 1000, "1000 states drawn");
    });
  } else {
    console.log("SKIPPED: firefox B1 timing (no ../shared/bench/asl beside the checkout)");
  }

  await check("no script errors", async () => {
    const errors = events.filter((e) => e.method === "log.entryAdded" && e.params.type === "javascript" && e.params.level === "error");
    assert(errors.length === 0, "errors: " + errors.map((e) => e.params.text).join("; "));
  });
} finally {
  try {
    await send("browser.close", {});
  } catch (_) {}
  ws.close();
  firefox.kill();
  rmSync(profile, { recursive: true, force: true });
}

finish();
