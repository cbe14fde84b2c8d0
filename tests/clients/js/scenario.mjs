// Drives `cairn serve` with the AWS SDK for JavaScript v3 (@aws-sdk/client-sfn).
// Usage: CAIRN_ENDPOINT=http://127.0.0.1:PORT node scenario.mjs
// Run by tests/clients/test_js_sdk.py; exits non-zero on the first mismatch.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListTagsForResourceCommand,
  SFNClient,
  StartExecutionCommand,
  StartSyncExecutionCommand,
  TestStateCommand,
} from "@aws-sdk/client-sfn";

const endpoint = process.env.CAIRN_ENDPOINT;
if (!endpoint) {
  console.error("scenario.mjs: set CAIRN_ENDPOINT to the cairn serve URL");
  process.exit(2);
}

const ROLE = "arn:aws:iam::123456789012:role/cairn-test";
const sfn = new SFNClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  // StartSyncExecution and TestState are modelled with the `sync-` host prefix; a local endpoint has none.
  disableHostPrefix: true,
  maxAttempts: 1,
});

const unique = (prefix) => `${prefix}-${randomUUID().slice(0, 10)}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function step(name, body) {
  try {
    await body();
    console.log(`ok   ${name}`);
  } catch (error) {
    console.error(`FAIL ${name}`);
    throw error;
  }
}

const PASS_CHOICE = {
  StartAt: "Prepare",
  States: {
    Prepare: { Type: "Pass", Parameters: { "n.$": "$.n", tag: "js" }, Next: "Decide" },
    Decide: {
      Type: "Choice",
      Choices: [{ Variable: "$.n", NumericGreaterThan: 0, Next: "Done" }],
      Default: "Refuse",
    },
    Done: { Type: "Succeed" },
    Refuse: { Type: "Fail", Error: "NotPositive", Cause: "n <= 0" },
  },
};
const SUM = {
  StartAt: "P",
  States: { P: { Type: "Pass", Parameters: { "sum.$": "States.MathAdd($.a, $.b)" }, End: true } },
};
const TAGS = [
  { key: "client", value: "js-sdk-v3" },
  { key: "team", value: "cairn" },
];

let standard;
let express;
let executionArn;

await step("CreateStateMachine STANDARD and EXPRESS with tags", async () => {
  const standardName = unique("js-std");
  const created = await sfn.send(
    new CreateStateMachineCommand({
      name: standardName,
      definition: JSON.stringify(PASS_CHOICE),
      roleArn: ROLE,
      type: "STANDARD",
      tags: TAGS,
    }),
  );
  standard = created.stateMachineArn;
  assert.equal(standard, `arn:aws:states:us-east-1:123456789012:stateMachine:${standardName}`);
  assert.ok(created.creationDate instanceof Date, `creationDate is not a Date: ${created.creationDate}`);
  express = (
    await sfn.send(
      new CreateStateMachineCommand({
        name: unique("js-exp"),
        definition: JSON.stringify(SUM),
        roleArn: ROLE,
        type: "EXPRESS",
        tags: TAGS,
      }),
    )
  ).stateMachineArn;
  assert.match(express, /^arn:aws:states:us-east-1:123456789012:stateMachine:js-exp-/);
});

await step("StartExecution and DescribeExecution until SUCCEEDED", async () => {
  const started = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: standard, name: "first", input: JSON.stringify({ n: 3 }) }),
  );
  executionArn = started.executionArn;
  assert.ok(executionArn.endsWith(`:execution:${standard.split(":").at(-1)}:first`), executionArn);
  assert.ok(started.startDate instanceof Date, `StartExecution startDate is not a Date: ${started.startDate}`);
  const deadline = Date.now() + 30_000;
  let described;
  for (;;) {
    described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (described.status !== "RUNNING") break;
    assert.ok(Date.now() < deadline, `${executionArn} still RUNNING after 30 s`);
    await sleep(50);
  }
  assert.equal(described.status, "SUCCEEDED");
  assert.deepEqual(JSON.parse(described.output), { n: 3, tag: "js" });
  assert.ok(described.startDate instanceof Date, `startDate is not a Date: ${described.startDate}`);
  assert.ok(described.stopDate instanceof Date, `stopDate is not a Date: ${described.stopDate}`);
  assert.ok(!Number.isNaN(described.startDate.getTime()), "startDate is an invalid Date");
  assert.ok(described.stopDate >= described.startDate, "stopDate before startDate");
  assert.ok(Math.abs(Date.now() - described.startDate.getTime()) < 5 * 60_000, `startDate ${described.startDate} is not now`);
});

await step("GetExecutionHistory, maxResults 2, paging through nextToken", async () => {
  const events = [];
  let nextToken;
  let pages = 0;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 2, nextToken }));
    assert.ok(page.events.length <= 2, `page of ${page.events.length} events`);
    events.push(...page.events);
    nextToken = page.nextToken;
    pages += 1;
    assert.ok(pages <= 10, "nextToken never ran out");
  } while (nextToken);
  assert.deepEqual(
    events.map((e) => e.type),
    [
      "ExecutionStarted",
      "PassStateEntered",
      "PassStateExited",
      "ChoiceStateEntered",
      "ChoiceStateExited",
      "SucceedStateEntered",
      "SucceedStateExited",
      "ExecutionSucceeded",
    ],
  );
  assert.equal(pages, 4);
  assert.deepEqual(
    events.map((e) => e.id),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.ok(events.every((e) => e.timestamp instanceof Date), "an event timestamp is not a Date");
  assert.deepEqual(JSON.parse(events[0].executionStartedEventDetails.input), { n: 3 });
  assert.deepEqual(JSON.parse(events[7].executionSucceededEventDetails.output), { n: 3, tag: "js" });
});

await step("StartSyncExecution on the EXPRESS machine", async () => {
  const result = await sfn.send(
    new StartSyncExecutionCommand({ stateMachineArn: express, input: JSON.stringify({ a: 2, b: 5 }) }),
  );
  assert.equal(result.status, "SUCCEEDED");
  assert.deepEqual(JSON.parse(result.output), { sum: 7 });
  assert.match(result.executionArn, /:express:/);
  assert.ok(result.startDate instanceof Date && result.stopDate instanceof Date, "sync dates are not Dates");
});

await step("TestState of a Pass state", async () => {
  const answer = await sfn.send(
    new TestStateCommand({
      definition: JSON.stringify({ Type: "Pass", Parameters: { "doubled.$": "States.MathAdd($.n, $.n)" }, End: true }),
      roleArn: ROLE,
      input: JSON.stringify({ n: 21 }),
    }),
  );
  assert.equal(answer.status, "SUCCEEDED");
  assert.deepEqual(JSON.parse(answer.output), { doubled: 42 });
});

await step("DescribeExecution of a missing ARN: typed ExecutionDoesNotExist", async () => {
  const missing = `${executionArn.replace(/:first$/, "")}:nope`;
  await assert.rejects(sfn.send(new DescribeExecutionCommand({ executionArn: missing })), (error) => {
    assert.equal(error.name, "ExecutionDoesNotExist", `error name ${error.name}: ${error.message}`);
    assert.ok(error instanceof ExecutionDoesNotExist, `not an instance of ExecutionDoesNotExist: ${error.constructor.name}`);
    assert.equal(error.$metadata.httpStatusCode, 400);
    assert.equal(error.$fault, "client");
    assert.match(error.message, /Execution Does Not Exist/);
    return true;
  });
});

await step("ListTagsForResource", async () => {
  for (const arn of [standard, express]) {
    const { tags } = await sfn.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    const sorted = [...tags].sort((a, b) => a.key.localeCompare(b.key));
    assert.deepEqual(sorted, TAGS);
  }
});

console.log("JavaScript SDK v3 scenario passed");
