// The JavaScript SDK v3 against `cairn serve --auth`: its SigV4 signature passes (StartSyncExecution
// included), a wrong secret and an unknown key are refused with AWS's error names.
// Usage: CAIRN_ENDPOINT=... CAIRN_KEY_ID=... CAIRN_SECRET=... CAIRN_EXPRESS_ARN=... node auth.mjs
// Run by tests/clients/test_auth.py; exits non-zero on the first mismatch.
import assert from "node:assert/strict";
import { ListStateMachinesCommand, SFNClient, StartSyncExecutionCommand } from "@aws-sdk/client-sfn";

const { CAIRN_ENDPOINT: endpoint, CAIRN_KEY_ID: keyId, CAIRN_SECRET: secret, CAIRN_EXPRESS_ARN: express } = process.env;
if (!endpoint || !keyId || !secret || !express) {
  console.error("auth.mjs: set CAIRN_ENDPOINT, CAIRN_KEY_ID, CAIRN_SECRET and CAIRN_EXPRESS_ARN");
  process.exit(2);
}

const client = (accessKeyId, secretAccessKey) =>
  new SFNClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId, secretAccessKey },
    disableHostPrefix: true,
    maxAttempts: 1,
  });

const good = client(keyId, secret);
const synced = await good.send(new StartSyncExecutionCommand({ stateMachineArn: express, input: "{}" }));
assert.equal(synced.status, "SUCCEEDED");
assert.ok(Array.isArray((await good.send(new ListStateMachinesCommand({}))).stateMachines));

for (const [accessKeyId, secretAccessKey, name] of [
  [keyId, "not-the-secret", "InvalidSignatureException"],
  ["AKIDUNKNOWN", secret, "UnrecognizedClientException"],
]) {
  await assert.rejects(client(accessKeyId, secretAccessKey).send(new ListStateMachinesCommand({})), (error) => {
    assert.equal(error.name, name, `${accessKeyId}: ${error.name}: ${error.message}`);
    assert.equal(error.$metadata.httpStatusCode, 400);
    assert.equal(error.$fault, "client");
    return true;
  });
}
console.log("JavaScript SDK v3 --auth checks passed");
