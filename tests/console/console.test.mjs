// The console in a real headless Chromium against a running `cairn serve` (issue 15's test):
// a machine with a Choice, a Map, a Parallel, a Retry and a Catch; its graph has every state
// and edge; an execution waiting on a task token shows in progress; success sent from the
// console turns the graph succeeded without a reload; a failed execution shows the caught
// error on the right state; Redrive from the console runs it again (RUNNING, its end,
// redriveCount, the ExecutionRedriven event); versions published from a machine's page and an
// alias listed with its weights, a start through the alias showing the version it drew.
// Screenshots go to tests/console/artifacts/.
//
// Usage: node console.test.mjs BASE_URL   (run.sh starts the server and passes its URL)
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, checker, stepFunctions } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const base = process.argv[2];
if (!base) throw new Error("usage: node console.test.mjs BASE_URL");
const artifacts = join(here, "artifacts");
mkdirSync(artifacts, { recursive: true });
const region = "us-east-1";
const account = "123456789012";

const { check, finish } = checker("", 6);
const api = stepFunctions(base);

const definition = readFileSync(join(here, "machine.asl.json"), "utf8");
const machineName = "console-test-" + Date.now();
const machineArn = `arn:aws:states:${region}:${account}:stateMachine:${machineName}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
page.on("console", (m) => {
  // Chromium logs every HTTP 400 as "Failed to load resource"; the API answers errors so.
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(m.text());
});
// The console must need nothing but its own server.
const foreign = [];
page.on("request", (r) => {
  const url = r.url();
  const ours = [base, process.argv[3], process.argv[4]].filter(Boolean);
  if (!ours.some((b) => url.startsWith(b)) && !url.startsWith("data:")) foreign.push(url);
});
const shot = (name) => page.screenshot({ path: join(artifacts, name + ".png"), fullPage: false });
const ready = () => page.waitForFunction(() => document.body.dataset.ready !== undefined);

try {
  await check("a browser's GET / lands on the console, and the API still answers POST /", async () => {
    await page.goto(base + "/");
    assert(new URL(page.url()).pathname === "/console/", "landed on " + page.url());
    await ready();
    const list = await api("ListStateMachines", {});
    assert(Array.isArray(list.stateMachines), "the API answers");
  });

  await check("the machine is created from the console's form", async () => {
    await page.click("#create-link");
    await page.locator("#create-form").waitFor();
    await page.fill("#create-name", machineName);
    await page.fill("#create-definition", definition);
    await page.click("#preview");
    await page.locator('#graph [data-state="Approve"]').waitFor();
    await page.click("#create");
    await page.waitForURL(/#\/machine\//);
    const list = await api("ListStateMachines", {});
    assert(list.stateMachines.some((m) => m.name === machineName), "the API lists the machine");
    await page.goto(base + "/console/#/");
  });

  await check("the state machine list shows the machine with its type and execution counts", async () => {
    const row = page.locator(`tr[data-machine="${machineName}"]`);
    await row.waitFor();
    const text = await row.innerText();
    assert(text.includes("STANDARD"), "type shown: " + text);
    await page.waitForFunction((n) => document.querySelector(`tr[data-machine="${n}"] td[data-count="RUNNING"]`).textContent === "0", machineName);
    await shot("01-state-machines");
  });

  const states = ["Route", "Explode", "ReportFailure", "Fan", "Approve", "Each", "Double", "Done"];
  const types = { Route: "Choice", Explode: "Task", ReportFailure: "Fail", Fan: "Parallel", Approve: "Task", Each: "Map", Double: "Pass", Done: "Succeed" };
  const edges = [
    ["@start", "Route", "next"],
    ["Route", "Explode", "choice"],
    ["Route", "Fan", "default"],
    ["Explode", "Done", "next"],
    ["Explode", "ReportFailure", "catch"],
    ["Fan", "Done", "next"],
    ["ReportFailure", "@end", "end"],
    ["Done", "@end", "end"],
  ];
  await check("the graph draws every state with its type, every edge, and the insides nested", async () => {
    await page.locator(`tr[data-machine="${machineName}"] a`).click();
    await page.locator("#graph svg").waitFor();
    for (const s of states) {
      const node = page.locator(`#graph [data-state="${s}"]`);
      assert((await node.count()) === 1, "one node for " + s);
      assert((await node.getAttribute("data-type")) === types[s], s + " drawn as " + types[s]);
    }
    for (const [from, to, kind] of edges) {
      const n = await page.locator(`#graph .edge[data-from="${from}"][data-to="${to}"][data-kind="${kind}"]`).count();
      assert(n === 1, `edge ${from} -> ${to} (${kind}) drawn ${n} times`);
    }
    const drawn = await page.locator("#graph .edge").count();
    assert(drawn === edges.length, `${drawn} edges drawn, ${edges.length} expected`);
    // Nested groups: Approve and Each inside Fan's box, Double inside Each's.
    assert((await page.locator('#graph [data-state="Fan"] [data-state="Approve"]').count()) === 1, "Approve inside Fan");
    assert((await page.locator('#graph [data-state="Fan"] [data-state="Each"] [data-state="Double"]').count()) === 1, "Double inside Each inside Fan");
    const choiceLabel = await page.locator('#graph .edge[data-from="Route"][data-to="Explode"] .edge-label').textContent();
    assert(choiceLabel.includes("$.mode"), "the Choice rule is labelled: " + choiceLabel);
    assert((await page.locator('#graph .edge[data-from="Route"][data-to="Fan"] .edge-label').textContent()) === "Default", "Default labelled");
    const dash = await page.locator('#graph .edge-catch path').evaluate((p) => getComputedStyle(p).strokeDasharray);
    assert(dash && dash !== "none", "Catch edge dashed: " + dash);
    // Nodes do not overlap within the top level.
    const boxes = await page.$$eval("#graph svg > g > .nodes > .node", (ns) => ns.map((n) => n.getBoundingClientRect().toJSON()));
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i];
        const b = boxes[j];
        assert(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top, "two nodes overlap");
      }
    await page.locator("#diagnostics .diag").first().waitFor();
    assert((await page.locator("#diagnostics").innerText()).includes("valid"), "the stored definition validates");
    // A new machine has no versions or aliases; the start form runs its latest revision.
    await page.waitForFunction(() => !document.getElementById("aliases").textContent.includes("\u2026"));
    assert((await page.locator("#versions").innerText()).includes("No versions yet"), "no versions: " + (await page.locator("#versions").innerText()));
    assert((await page.locator("#aliases").innerText()).includes("No aliases"), "no aliases: " + (await page.locator("#aliases").innerText()));
    assert((await page.inputValue("#start-target")) === machineArn, "the start form runs the machine's ARN");
    await shot("02-definition");
  });

  await check("validation diagnostics point at their states", async () => {
    const broken = JSON.parse(definition);
    broken.States.Done = { Type: "Succeed", Next: "Route" };
    await page.fill("#definition", JSON.stringify(broken, null, 2));
    await page.click("#validate");
    await page.locator("#diagnostics .error-diag").first().waitFor();
    const text = await page.locator("#diagnostics").innerText();
    assert(text.includes("/States/Done"), "diagnostic locates Done: " + text);
    assert((await page.locator('#graph [data-state="Done"].has-diagnostic').count()) === 1, "Done marked in the graph");
    await page.click("#save-definition");
    await page.locator("#save-result .error").waitFor();
    assert((await page.locator("#save-result").innerText()).includes("InvalidDefinition"), "an invalid definition is not saved");
    await page.fill("#definition", JSON.stringify(JSON.parse(definition), null, 2));
    await page.click("#save-definition");
    await page.locator("#save-result .ok").waitFor();
    await page.locator("#diagnostics .ok").waitFor();
  });

  let executionUrl;
  await check("an execution started from the console waits on its task token, shown in progress", async () => {
    await page.fill("#start-input", "not json");
    assert((await page.locator("#start-form .hint.bad").count()) === 1, "the input editor flags bad JSON");
    await page.fill("#start-name", "waits");
    await page.fill("#start-input", '{"items": [1, 2, 3]}');
    await page.click("#start");
    await page.waitForURL(/#\/execution\//);
    executionUrl = page.url();
    await page.locator('#graph [data-state="Approve"][data-status="in-progress"]').waitFor({ timeout: 15000 });
    await page.locator('#graph [data-state="Fan"][data-status="in-progress"]').waitFor();
    await page.locator('#graph [data-state="Each"][data-status="succeeded"]').waitFor();
    assert((await page.locator('#graph [data-state="Explode"]').getAttribute("data-status")) === "not-reached", "Explode not reached");
    const label = await page.locator('#graph [data-state="Approve"] > .sub').textContent();
    assert(label.includes("in progress"), "status in the node's label too: " + label);
    assert((await page.locator('#graph [data-state="Each"] > .sub').textContent()).includes("3/3 ok"), "Map iterations counted");
    assert((await page.locator("#execution-status").innerText()).includes("RUNNING"), "execution running");
    await page.locator('.waiting-task[data-state="Approve"]').waitFor();
    const token = await page.inputValue("#task-token-0");
    assert(token.length >= 32, "the token was found in the history: " + token);
    await shot("03-execution-waiting");
  });

  await check("keyboard: a focused state opens its details with Enter; Map iterations and Parallel branches summarised", async () => {
    await page.locator('#graph [data-state="Each"]').focus();
    await page.keyboard.press("Enter");
    await page.locator('#state-details[data-selected="Each"]').waitFor();
    const it = page.locator("#state-details .iterations");
    assert((await it.getAttribute("data-succeeded")) === "3", "3 iterations succeeded");
    await page.locator('#graph [data-state="Fan"]').focus();
    await page.keyboard.press("Enter");
    await page.locator('#state-details[data-selected="Fan"]').waitFor();
    assert((await page.locator('#state-details .branches li[data-branch="0"]').getAttribute("data-status")) === "in-progress", "branch 1 runs");
    assert((await page.locator('#state-details .branches li[data-branch="1"]').getAttribute("data-status")) === "succeeded", "branch 2 done");
    await page.locator('#graph [data-state="Each"]').focus();
    await page.keyboard.press("Enter");
    await page.locator('#state-details[data-selected="Each"]').waitFor();
    await page.selectOption("#iteration-pick", "1");
    await page.locator('#iteration-events tr[data-event-type="PassStateEntered"]').waitFor();
    assert((await page.locator("#iteration-events").innerText()).includes("Double"), "iteration 1's events list its state");
  });

  await check("Send success from the console turns the graph succeeded without a reload", async () => {
    await page.evaluate(() => (window.__sameDocument = true));
    await page.fill("#task-output-0", '{"approved": true}');
    await page.click(".waiting-task .send-success");
    await page.locator('#execution-status [data-execution-status="SUCCEEDED"]').waitFor({ timeout: 15000 });
    for (const s of ["Route", "Fan", "Approve", "Each", "Double", "Done"]) {
      await page.locator(`#graph [data-state="${s}"][data-status="succeeded"]`).waitFor({ timeout: 5000 });
    }
    assert((await page.evaluate(() => window.__sameDocument)) === true, "the page was reloaded");
    assert((await page.locator(".waiting-task").count()) === 0, "nothing waits any more");
    const output = await page.locator("#execution-output").innerText();
    assert(output.includes("approved"), "the sent output reached the execution: " + output);
    await page.locator('#graph [data-state="Approve"]').click();
    await page.locator('#state-details[data-selected="Approve"]').waitFor();
    await shot("04-execution-succeeded");
  });

  await check("a failed execution shows the retried, caught error on the right state", async () => {
    const r = await api("StartExecution", { stateMachineArn: machineArn, name: "fails", input: '{"mode": "fail"}' });
    await page.goto(base + "/console/#/execution/" + encodeURIComponent(r.executionArn));
    await page.locator('#execution-status [data-execution-status="FAILED"]').waitFor({ timeout: 20000 });
    await page.locator('#graph [data-state="Explode"][data-status="caught"]').waitFor();
    assert((await page.locator('#graph [data-state="ReportFailure"]').getAttribute("data-status")) === "failed", "the Fail state failed");
    assert((await page.locator('#graph [data-state="Fan"]').getAttribute("data-status")) === "not-reached", "Fan not reached");
    assert((await page.locator('#graph [data-state="Explode"] > .sub').textContent()).includes("2 errors"), "both attempts counted");
    await page.locator('#graph [data-state="Explode"]').click();
    const details = page.locator('#state-details[data-selected="Explode"]');
    await details.waitFor();
    assert((await details.locator('.failure[data-error="ValueError"]').count()) === 2, "the first try and the retry failed with ValueError");
    assert((await details.locator(".caught-note").innerText()).includes("ReportFailure"), "the Catch's next state named");
    await page.fill("#event-filter", "TaskFailed");
    assert((await page.locator('#events-section tr[data-event-type="TaskFailed"]').count()) === 2, "event filter");
    assert((await page.locator('#events-section tbody tr').count()) === 2, "filter leaves only TaskFailed rows");
    assert((await page.locator(".timeline .tl-row").count()) >= 3, "a timeline row per state visit");
    await page.locator('#graph [data-state="Explode"]').scrollIntoViewIfNeeded();
    await shot("05-execution-caught");
  });

  await check("Redrive from the console runs the failed state again: it fails again the same way, redriveCount 1, ExecutionRedriven listed", async () => {
    // The Catch handled Explode's error, so the redrive enters ReportFailure (a Fail state) again.
    await page.fill("#event-filter", "");
    assert((await page.locator("#redrive-status").getAttribute("data-redrive-status")) === "REDRIVABLE", "REDRIVABLE before");
    assert((await page.locator("#redrive-count").innerText()) === "0", "redriveCount 0 before");
    assert(!(await page.locator("#redrive").isDisabled()), "the button is active");
    await page.click("#redrive");
    await page.locator("#redrive-result .ok").waitFor({ timeout: 10000 });
    await page.waitForFunction(() => document.getElementById("redrive-count") && document.getElementById("redrive-count").textContent === "1");
    await page.locator('#execution-status [data-execution-status="FAILED"]').waitFor({ timeout: 10000 });
    await page.locator('#events-section tr[data-event-type="ExecutionRedriven"]').waitFor({ timeout: 10000 });
    assert((await page.locator('#events-section tr[data-event-type="ExecutionFailed"]').count()) === 2, "failed in each attempt");
    assert((await page.locator("#redrive-date").innerText()).length > 0, "redriveDate shown");
    assert((await page.locator("#execution-header .error").innerText()).includes("Workflow.Failed"), "the same error");
    assert((await page.locator('#graph [data-state="ReportFailure"]').getAttribute("data-status")) === "failed", "ReportFailure failed again");
    assert((await page.locator('#graph [data-state="Explode"]').getAttribute("data-status")) === "caught", "Explode (caught, so succeeded) not run again");
    assert((await page.locator('#graph [data-state="ReportFailure"] > .sub').textContent()).includes("redriven"), "the node says it ran in the redrive");
    const api1 = await api("DescribeExecution", { executionArn: `arn:aws:states:${region}:${account}:execution:${machineName}:fails` });
    assert(api1.redriveCount === 1 && api1.status === "FAILED", "the API agrees: " + JSON.stringify(api1));
  });

  await check("an execution that fails until redriven: Redrive shows it RUNNING, the graph recoloured, then SUCCEEDED", async () => {
    // Pick fails while $$.Execution.RedriveCount picks "not json", and passes once redriven;
    // Settle then keeps the execution running long enough to be seen.
    const def = {
      StartAt: "Pick",
      States: {
        Pick: { Type: "Pass", Parameters: { "v.$": "States.StringToJson(States.ArrayGetItem($.attempts, $$.Execution.RedriveCount))" }, Next: "Settle" },
        Settle: { Type: "Wait", Seconds: 3, Next: "Ok" },
        Ok: { Type: "Succeed" },
      },
    };
    const created = await api("CreateStateMachine", { name: "console-redrive-" + Date.now(), definition: JSON.stringify(def), roleArn: `arn:aws:iam::${account}:role/console` });
    const r = await api("StartExecution", { stateMachineArn: created.stateMachineArn, name: "second-try", input: JSON.stringify({ attempts: ["not json", "{}"] }) });
    await page.goto(base + "/console/#/execution/" + encodeURIComponent(r.executionArn));
    await page.locator('#execution-status [data-execution-status="FAILED"]').waitFor({ timeout: 10000 });
    await page.locator('#graph [data-state="Pick"][data-status="failed"]').waitFor();
    await page.click("#redrive");
    await page.locator('#execution-status [data-execution-status="RUNNING"]').waitFor({ timeout: 5000 });
    await page.locator('#graph [data-state="Settle"][data-status="in-progress"]').waitFor({ timeout: 5000 });
    assert((await page.locator('#graph [data-state="Pick"]').getAttribute("data-status")) === "succeeded", "Pick recoloured: it passed in the new attempt");
    assert((await page.locator("#redrive-count").innerText()) === "1", "redriveCount 1");
    assert((await page.locator("#redrive").count()) === 0, "no Redrive while it runs");
    assert((await page.locator("#stop").count()) === 1, "Stop offered while it runs");
    await page.locator('#events-section tr[data-event-type="ExecutionRedriven"]').waitFor();
    await shot("09-execution-redriven");
    await page.locator('#execution-status [data-execution-status="SUCCEEDED"]').waitFor({ timeout: 10000 });
    await page.locator('#graph [data-state="Ok"][data-status="succeeded"]').waitFor();
    assert((await page.locator("#redrive-count").innerText()) === "1", "still redriveCount 1");
    assert((await page.locator("#redrive-status").getAttribute("data-redrive-status")) === "NOT_REDRIVABLE", "a succeeded execution is not redrivable");
    assert((await page.locator("#redrive-reason").innerText()).includes("Execution is SUCCEEDED and cannot be redriven"), "AWS's reason shown");
    assert((await page.locator("#redrive").count()) === 0, "no Redrive button");
    assert((await page.locator("#execution-output").innerText()).includes('"v"'), "the output of the redriven run");
  });

  await check("a failed execution that cannot be redriven shows AWS's reason and no active button", async () => {
    const name = "console-deleted-" + Date.now();
    const created = await api("CreateStateMachine", { name, definition: '{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Gone"}}}', roleArn: `arn:aws:iam::${account}:role/console` });
    const r = await api("StartExecution", { stateMachineArn: created.stateMachineArn, name: "orphan" });
    for (let i = 0; i < 50 && (await api("DescribeExecution", { executionArn: r.executionArn })).status === "RUNNING"; i++) await new Promise((f) => setTimeout(f, 100));
    await api("DeleteStateMachine", { stateMachineArn: created.stateMachineArn });
    await page.goto(base + "/console/#/execution/" + encodeURIComponent(r.executionArn));
    await page.locator('#execution-status [data-execution-status="FAILED"]').waitFor({ timeout: 10000 });
    assert((await page.locator("#redrive-status").getAttribute("data-redrive-status")) === "NOT_REDRIVABLE", "NOT_REDRIVABLE");
    assert((await page.locator("#redrive-reason").innerText()).includes("State machine is in DELETING status"), "AWS's reason: " + (await page.locator("#redrive-reason").innerText()));
    assert(await page.locator("#redrive").isDisabled(), "the Redrive button is not active");
  });

  await check("the executions list filters by status", async () => {
    await page.goto(base + "/console/#/machine/" + encodeURIComponent(machineArn));
    await page.locator('#executions tr[data-execution="fails"]').waitFor();
    assert((await page.locator("#executions tr[data-execution]").count()) === 2, "both executions listed");
    await page.selectOption("#status-filter", "FAILED");
    await page.waitForFunction(() => document.querySelectorAll("#executions tr[data-execution]").length === 1);
    assert((await page.locator('#executions tr[data-execution="fails"]').count()) === 1, "only the failed one");
  });

  await check("Stop from the console aborts a running execution", async () => {
    const r = await api("StartExecution", { stateMachineArn: machineArn, name: "stopped", input: '{"items": []}' });
    await page.goto(base + "/console/#/execution/" + encodeURIComponent(r.executionArn));
    await page.locator('#graph [data-state="Approve"][data-status="in-progress"]').waitFor({ timeout: 15000 });
    page.once("dialog", (d) => d.accept());
    await page.click("#stop");
    await page.locator('#execution-status [data-execution-status="ABORTED"]').waitFor({ timeout: 10000 });
    assert((await page.locator('#graph [data-state="Approve"]').getAttribute("data-status")) === "failed", "the waiting state ends failed");
    assert((await page.locator(".waiting-task").count()) === 0, "no task left to answer");
  });

  await check("a redriven aborted execution waits on a new task token inside its Parallel, and succeeds when sent", async () => {
    const arn = `arn:aws:states:${region}:${account}:execution:${machineName}:stopped`;
    const before = await api("GetExecutionHistory", { executionArn: arn });
    const oldScheduled = before.events.filter((e) => e.type === "TaskScheduled").length;
    await page.click("#redrive");
    await page.locator('#execution-status [data-execution-status="RUNNING"]').waitFor({ timeout: 10000 });
    await page.locator('#graph [data-state="Approve"][data-status="in-progress"]').waitFor({ timeout: 10000 });
    await page.locator('.waiting-task[data-state="Approve"]').waitFor();
    assert((await page.locator(".waiting-task").count()) === 1, "one task waits: the new attempt's");
    const token = await page.inputValue("#task-token-0");
    const after = await api("GetExecutionHistory", { executionArn: arn });
    const scheduled = after.events.filter((e) => e.type === "TaskScheduled");
    assert(scheduled.length === oldScheduled + 1, "the redrive scheduled Approve again");
    assert(scheduled[scheduled.length - 1].taskScheduledEventDetails.parameters.includes(token), "the console offers the new attempt's token");
    await page.fill("#task-output-0", '{"second": true}');
    await page.click(".waiting-task .send-success");
    await page.locator('#execution-status [data-execution-status="SUCCEEDED"]').waitFor({ timeout: 15000 });
    for (const s of ["Fan", "Approve", "Done"]) await page.locator(`#graph [data-state="${s}"][data-status="succeeded"]`).waitFor({ timeout: 5000 });
    assert((await page.locator("#redrive-count").innerText()) === "1", "redriveCount 1");
    assert((await page.locator("#execution-output").innerText()).includes("second"), "the answer reached the output");
  });

  await check("the executions list follows a running execution without a reload", async () => {
    const r = await api("StartExecution", { stateMachineArn: machineArn, name: "watched", input: '{"items": []}' });
    await page.goto(base + "/console/#/machine/" + encodeURIComponent(machineArn));
    await page.locator('#executions tr[data-execution="watched"] [data-execution-status="RUNNING"]').waitFor();
    await page.evaluate(() => (window.__sameDocument = true));
    await api("StopExecution", { executionArn: r.executionArn });
    await page.locator('#executions tr[data-execution="watched"] [data-execution-status="ABORTED"]').waitFor({ timeout: 10000 });
    assert((await page.evaluate(() => window.__sameDocument)) === true, "the page was reloaded");
  });

  await check("versions published from the console and an alias listed with their weights; a start through the alias shows the version it ran", async () => {
    const name = "console-versions-" + Date.now();
    const defOf = (result) => JSON.stringify({ StartAt: "Hello", States: { Hello: { Type: "Pass", Result: result, End: true } } });
    const created = await api("CreateStateMachine", { name, definition: defOf("v1"), roleArn: `arn:aws:iam::${account}:role/console` });
    const arn = created.stateMachineArn;
    await page.goto(base + "/console/#/machine/" + encodeURIComponent(arn));
    await page.locator("#versions").getByText("No versions yet").waitFor();
    await page.fill("#publish-description", "the first");
    await page.click("#publish");
    await page.locator('#versions tr[data-version="1"]').waitFor();
    await api("UpdateStateMachine", { stateMachineArn: arn, definition: defOf("v2") });
    await page.fill("#publish-description", "the second");
    await page.click("#publish");
    await page.locator('#versions tr[data-version="2"]').waitFor();
    assert((await page.locator('#versions tr[data-version="1"] .description').innerText()) === "the first", "version 1's description");
    assert((await page.locator('#versions tr[data-version="2"] .description').innerText()) === "the second", "version 2's description");
    const order = await page.$$eval("#versions tr[data-version]", (rows) => rows.map((r) => r.dataset.version));
    assert(order.join() === "2,1", "newest first: " + order);
    const listed = await api("ListStateMachineVersions", { stateMachineArn: arn });
    assert(listed.stateMachineVersions.length === 2, "the API lists both versions");
    await api("CreateStateMachineAlias", { name: "live", description: "30/70", routingConfiguration: [{ stateMachineVersionArn: arn + ":1", weight: 30 }, { stateMachineVersionArn: arn + ":2", weight: 70 }] });
    await page.reload();
    const routing = page.locator('#aliases tr[data-alias="live"] .routing');
    await routing.waitFor();
    assert((await routing.locator('[data-version="1"]').getAttribute("data-weight")) === "30", "version 1 at 30%");
    assert((await routing.locator('[data-version="2"]').getAttribute("data-weight")) === "70", "version 2 at 70%");
    assert((await routing.innerText()).includes("version 2: 70%"), "weights shown: " + (await routing.innerText()));
    await shot("10-versions-aliases");
    await page.selectOption("#start-target", arn + ":live");
    await page.fill("#start-name", "through-alias");
    await page.click("#start");
    await page.waitForURL(/#\/execution\//);
    await page.locator('#execution-status [data-execution-status="SUCCEEDED"]').waitFor({ timeout: 10000 });
    const described = await api("DescribeExecution", { executionArn: `arn:aws:states:${region}:${account}:execution:${name}:through-alias` });
    assert(described.stateMachineAliasArn === arn + ":live", "started through the alias: " + JSON.stringify(described));
    const version = described.stateMachineVersionArn.split(":").pop();
    assert(version === "1" || version === "2", "a version drawn: " + described.stateMachineVersionArn);
    assert((await page.locator("#execution-version").getAttribute("data-version")) === version, "the page shows the version the alias drew");
    assert((await page.locator("#execution-version").innerText()).includes("version " + version), "version shown");
    assert((await page.locator("#execution-alias").innerText()) === "live", "the alias shown");
    assert((await page.locator("#execution-output").innerText()) === '"v' + version + '"', "that version's definition ran");
    await page.locator('#graph [data-state="Hello"][data-status="succeeded"]').waitFor();
    // A start on a version ARN, and the list says what each execution ran.
    await page.goto(base + "/console/#/machine/" + encodeURIComponent(arn));
    await page.locator('#start-target option[value="' + arn + ':1"]').waitFor({ state: "attached" });
    await page.selectOption("#start-target", arn + ":1");
    await page.fill("#start-name", "on-version-1");
    await page.click("#start");
    await page.waitForURL(/on-version-1/);
    await page.locator('#execution-status [data-execution-status="SUCCEEDED"]').waitFor({ timeout: 10000 });
    assert((await page.locator("#execution-version").getAttribute("data-version")) === "1", "version 1 ran");
    assert((await page.locator("#execution-alias").count()) === 0, "no alias");
    assert((await page.locator("#execution-output").innerText()) === '"v1"', "version 1's definition ran");
  });

  await check("a 50-state machine draws with no two states overlapping", async () => {
    // Ten stages of five states: a Choice fanning out to three Tasks that meet in a Pass.
    const st = {};
    for (let i = 0; i < 10; i++) {
      const next = i < 9 ? `Check${i + 1}` : "Finish";
      st[`Check${i}`] = { Type: "Choice", Choices: [{ Variable: "$.kind", StringEquals: "a", Next: `DoA${i}` }, { Variable: "$.kind", StringEquals: "b", Next: `DoB${i}` }], Default: `DoC${i}` };
      for (const k of ["A", "B", "C"]) st[`Do${k}${i}`] = { Type: "Task", Resource: "arn:aws:states:::lambda:invoke", Parameters: { FunctionName: "echo", "Payload.$": "$" }, Catch: [{ ErrorEquals: ["States.ALL"], Next: "Finish" }], Next: `Join${i}` };
      st[`Join${i}`] = { Type: "Pass", Next: next };
    }
    st.Finish = { Type: "Succeed" };
    const big = { StartAt: "Check0", States: st };
    assert(Object.keys(st).length === 51, "51 states");
    const name = "console-fifty-" + Date.now();
    const created = await api("CreateStateMachine", { name, definition: JSON.stringify(big), roleArn: `arn:aws:iam::${account}:role/console` });
    await page.goto(base + "/console/#/machine/" + encodeURIComponent(created.stateMachineArn));
    await page.locator('#graph [data-state="Finish"]').waitFor();
    assert((await page.locator("#graph [data-state]").count()) === 51, "every state drawn");
    const boxes = await page.$$eval("#graph .node[data-state] > .box", (ns) => ns.map((n) => n.getBoundingClientRect().toJSON()));
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i];
        const b = boxes[j];
        assert(a.right <= b.left + 0.5 || b.right <= a.left + 0.5 || a.bottom <= b.top + 0.5 || b.bottom <= a.top + 0.5, "two states overlap");
      }
    await shot("06-fifty-states");
  });

  // Not a timed assertion: the issue asks how long the 1,000-state B1 graph takes.
  const b1Path = join(here, "../../../shared/bench/asl/b1_pass_chain.asl.json");
  if (existsSync(b1Path)) {
    await check("the 1,000-state B1 graph lays out and draws", async () => {
      const b1 = JSON.parse(readFileSync(b1Path, "utf8"));
      const t = await page.evaluate((def) => {
        const box = document.createElement("div");
        document.body.appendChild(box);
        const t0 = performance.now();
        const g = window.CairnGraph.render(box, def, {});
        box.getBoundingClientRect(); // force style and layout of the drawn SVG
        const total = performance.now() - t0;
        const r = { states: g.nodes.size, layoutMs: g.timing.layoutMs, drawMs: g.timing.drawMs, totalMs: total };
        box.remove();
        return r;
      }, b1);
      console.log(`     B1 (${t.states} states): layout ${t.layoutMs.toFixed(1)} ms, SVG ${t.drawMs.toFixed(1)} ms, with browser layout ${t.totalMs.toFixed(1)} ms`);
      assert(t.states === 1000, "1000 states drawn, got " + t.states);
    });
  } else {
    console.log("SKIPPED: B1 timing (no ../shared/bench/asl beside the checkout)");
  }

  const authBase = process.argv[3];
  if (authBase) {
    await check("against cairn serve --auth the console asks for a key and signs its calls", async () => {
      await page.goto(authBase + "/console/");
      await page.locator("#signin").waitFor();
      assert((await page.locator("main .error").innerText()).includes("MissingAuthenticationTokenException"), "says why");
      await page.fill("#signin-key", "AKIDCONSOLE");
      await page.fill("#signin-secret", "not-the-secret");
      await page.click("#signin button[type=submit]");
      await page.waitForFunction(() => document.querySelector("main .error") && document.querySelector("main .error").textContent.includes("InvalidSignatureException"));
      await page.fill("#signin-secret", "console-test-secret");
      await page.click("#signin button[type=submit]");
      await page.locator("#machines").waitFor();
      assert((await page.locator("#who").innerText()).includes("AKIDCONSOLE"), "shows the key in use");
      // Signed calls that change state work too: validate a definition through the API.
      const r = await page.evaluate(() => window.CairnConsole.call("ValidateStateMachineDefinition", { definition: '{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}' }));
      assert(r.result === "OK", "signed ValidateStateMachineDefinition: " + JSON.stringify(r));
      await shot("07-signed-in");
      await page.click("#who button");
      await page.locator("#signin").waitFor();
    });
  }

  const proxyBase = process.argv[4];
  if (proxyBase) {
    await check("cairn console --endpoint forwards the console's calls signed with the user's credentials", async () => {
      // Through the forwarder, an unsigned client reaches the --auth server as the user.
      const post = (action, body) =>
        fetch(proxyBase + "/", { method: "POST", headers: { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions." + action }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));
      const created = await post("CreateStateMachine", { name: "remote", definition: '{"StartAt":"Hello","States":{"Hello":{"Type":"Pass","Result":"hi","End":true}}}', roleArn: `arn:aws:iam::${account}:role/console` });
      assert(created.status === 200, "CreateStateMachine through the forwarder: " + JSON.stringify(created));
      const missing = await post("DescribeExecution", { executionArn: `arn:aws:states:${region}:${account}:execution:remote:nope` });
      assert(missing.status === 400 && String(missing.body.__type).includes("ExecutionDoesNotExist"), "API errors come back as they are: " + JSON.stringify(missing));
      await page.goto(proxyBase + "/");
      assert(new URL(page.url()).pathname === "/console/", "the forwarder serves the console");
      await page.locator('tr[data-machine="remote"] a').click();
      await page.locator('#graph [data-state="Hello"]').waitFor();
      await page.fill("#start-input", '{"who": "remote"}');
      await page.click("#start");
      await page.locator('#execution-status [data-execution-status="SUCCEEDED"]').waitFor({ timeout: 10000 });
      await page.locator('#graph [data-state="Hello"][data-status="succeeded"]').waitFor();
      assert((await page.locator("#signin").count()) === 0, "no key asked for");
      await shot("08-console-endpoint");
    });
  }

  await check("no script errors and no request beyond the server", async () => {
    assert(pageErrors.length === 0, "page errors: " + pageErrors.join("; "));
    assert(foreign.length === 0, "requests elsewhere: " + foreign.join(", "));
  });
} finally {
  await browser.close();
}

finish();
