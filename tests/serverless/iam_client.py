"""The deployed API's client configuration works: boto3 signing for `execute-api`.

The serverless API sits behind API Gateway with IAM authorization, which accepts only SigV4
signatures scoped to the service `execute-api`; the SDKs sign Step Functions calls for
`states`. functions/README.md ("Calling the deployed API") documents a boto3 client that signs
for `execute-api` instead, keeps the `sync-` host prefix off, and sends to the stage URL. This
checks that configuration against a local stand-in of API Gateway's IAM authorization (this
file's own SigV4 verification, written from AWS's signing rules, not botocore's signer) in front
of `cairn serve`, which speaks the same AWS JSON 1.0 protocol as the api function's `POST /`:

- the documented client creates a state machine, starts an execution (asynchronous and
  synchronous), and reads it back through the stand-in;
- a stock client (signing for `states`) is refused with API Gateway's 403 message;
- a request whose signature does not match (a secret other than the caller's) is refused;
- the AWS CLI with the documented plugin lists and runs executions, and is refused without it.

Run with a Python that has boto3 (tests/serverless/run.sh uses the emulators' virtualenv), the
`cairn` binary built, and an AWS CLI v1 for the plugin check:
`python tests/serverless/iam_client.py target/debug/cairn [path/to/aws]`.
"""

import hashlib
import hmac
import http.client
import http.server
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "eu-west-1"
KEY_ID = "AKIDEXECUTEAPITEST"
SECRET = "execute-api-secret/with+chars"
STAGE = "v1"


# --- the documented client configuration (functions/README.md keeps the same code) ---------
def cairn_client(api_url, region, **kwargs):
    """A boto3 Step Functions client for Cairn's API Gateway URL (`ApiUrl` output)."""
    client = boto3.client(
        "stepfunctions",
        endpoint_url=api_url,
        region_name=region,
        # StartSyncExecution would otherwise go to sync-<api id>.execute-api..., which does not exist.
        config=Config(inject_host_prefix=False),
        **kwargs,
    )

    def sign_for_api_gateway(request, **_):
        request.context.setdefault("signing", {})["signing_name"] = "execute-api"

    client.meta.events.register("before-sign.sfn", sign_for_api_gateway)
    return client
# ----------------------------------------------------------------------------------------------


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def hmac_sha256(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def verify(method, path, query, headers, body, secrets, region):
    """API Gateway's IAM check of one request: None when it passes, else its 403 message."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "Missing Authentication Token"
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    key_id, date, scope_region, service, terminal = fields["Credential"].split("/")
    if service != "execute-api":
        return "Credential should be scoped to correct service: 'execute-api'. "
    if scope_region != region or terminal != "aws4_request":
        return f"Credential should be scoped to a valid region, not '{scope_region}'. "
    secret = secrets.get(key_id)
    if secret is None:
        return "The security token included in the request is invalid."
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed:
        return "'Host' must be a 'SignedHeader' in the AWS Authorization."
    canonical_query = "&".join(
        sorted(
            f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
            for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
        )
    )
    canonical_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    canonical = "\n".join(
        [
            method,
            urllib.parse.quote(path, safe="/-_.~"),
            canonical_query,
            canonical_headers,
            fields["SignedHeaders"],
            sha256(body),
        ]
    )
    amz_date = headers.get("x-amz-date", "")
    scope = f"{date}/{scope_region}/{service}/{terminal}"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, sha256(canonical.encode())])
    key = ("AWS4" + secret).encode()
    for part in (date, scope_region, service, terminal):
        key = hmac_sha256(key, part)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return None


class Gateway(http.server.BaseHTTPRequestHandler):
    """API Gateway with IAM authorization in front of one backend (its `POST /` route)."""

    backend = None  # (host, port)
    seen = []

    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)
        parsed = urllib.parse.urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        refusal = verify("POST", parsed.path, parsed.query, headers, body, {KEY_ID: SECRET}, REGION)
        Gateway.seen.append((parsed.path, headers.get("x-amz-target"), refusal))
        if refusal is not None:
            self.answer(403, {"message": refusal}, {"x-amzn-ErrorType": "AccessDeniedException"})
            return
        if parsed.path.rstrip("/") != f"/{STAGE}":
            self.answer(403, {"message": "Missing Authentication Token"}, {})
            return
        forward = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "x-amz-target")}
        connection = http.client.HTTPConnection(*self.backend, timeout=30)
        connection.request("POST", "/", body=body, headers=forward)
        response = connection.getresponse()
        data = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def answer(self, status, body, headers):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    cairn = sys.argv[1] if len(sys.argv) > 1 else "target/debug/cairn"
    aws_cli = sys.argv[2] if len(sys.argv) > 2 else None
    data = tempfile.mkdtemp(prefix="cairn-execute-api-")
    port = free_port()
    server = subprocess.Popen(
        [cairn, "serve", "--port", str(port), "--data", os.path.join(data, "store"), "--region", REGION],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(data, "serve.log"), "w"),
    )
    passed, failed = 0, 0
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        Gateway.backend = ("127.0.0.1", port)
        gateway = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
        threading.Thread(target=gateway.serve_forever, daemon=True).start()
        api_url = f"http://127.0.0.1:{gateway.server_address[1]}/{STAGE}/"
        credentials = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET}

        def check(name, test):
            nonlocal passed, failed
            try:
                test()
                passed += 1
                print(f"ok: {name}")
            except Exception as error:  # a failed check, whatever its kind, is reported
                failed += 1
                print(f"FAIL: {name}: {error!r}")

        sfn = cairn_client(api_url, REGION, **credentials)
        state = {}

        def documented_client_runs_an_execution():
            definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"signed": "execute-api"}, "End": True}}}
            machine = sfn.create_state_machine(
                name="execute-api", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
            )["stateMachineArn"]
            arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
            for _ in range(100):
                described = sfn.describe_execution(executionArn=arn)
                if described["status"] != "RUNNING":
                    break
                time.sleep(0.05)
            assert described["status"] == "SUCCEEDED", described
            assert json.loads(described["output"]) == {"signed": "execute-api"}, described
            assert all(seen[0] == f"/{STAGE}/" and seen[2] is None for seen in Gateway.seen), Gateway.seen
            state["machine"] = machine

        def documented_client_reaches_sync_actions_without_the_host_prefix():
            express = sfn.create_state_machine(
                name="execute-api-express",
                definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
                roleArn="arn:aws:iam::123456789012:role/r",
                type="EXPRESS",
            )["stateMachineArn"]
            out = sfn.start_sync_execution(stateMachineArn=express, input='{"a": 1}')
            assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"a": 1}, out

        def stock_client_is_refused_as_api_gateway_refuses_it():
            stock = boto3.client("stepfunctions", endpoint_url=api_url, region_name=REGION, **credentials)
            try:
                stock.list_state_machines()
            except ClientError as error:
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                message = error.response.get("Error", {}).get("Message", "")
                assert status == 403, error.response
                assert "scoped to correct service: 'execute-api'" in message, error.response
                return
            raise AssertionError("a request signed for 'states' was accepted")

        def a_wrong_secret_is_refused():
            forged = cairn_client(api_url, REGION, aws_access_key_id=KEY_ID, aws_secret_access_key="not-the-secret")
            try:
                forged.list_state_machines()
            except ClientError as error:
                assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403, error.response
                assert "signature we calculated does not match" in error.response["Error"]["Message"]
                return
            raise AssertionError("a request signed with the wrong secret was accepted")

        def readme_documents_this_client():
            readme = (pathlib.Path(__file__).resolve().parents[2] / "functions/README.md").read_text()
            for line in (
                'config=Config(inject_host_prefix=False)',
                'request.context.setdefault("signing", {})["signing_name"] = "execute-api"',
                'client.meta.events.register("before-sign.sfn", sign_for_api_gateway)',
            ):
                assert line in readme, f"functions/README.md lacks {line!r}"

        def aws_cli_with_the_documented_plugin():
            readme = (pathlib.Path(__file__).resolve().parents[2] / "functions/README.md").read_text()
            plugin = next(
                block for block in readme.split("```python\n")[1:] if "def awscli_initialize" in block
            ).split("```", 1)[0]
            folder = tempfile.mkdtemp(prefix="cairn-cli-plugin-")
            pathlib.Path(folder, "cairn_execute_api.py").write_text(plugin)
            config = pathlib.Path(folder, "config")
            config.write_text(
                f"[default]\nregion = {REGION}\n[plugins]\ncairn = cairn_execute_api\n"
            )
            env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET,
                       AWS_CONFIG_FILE=str(config), PYTHONPATH=folder, AWS_DEFAULT_REGION=REGION)
            for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
                env.pop(name, None)

            def aws(*args):
                return subprocess.run([aws_cli, "stepfunctions", *args, "--endpoint-url", api_url],
                                      capture_output=True, text=True, env=env, timeout=60)

            listed = aws("list-state-machines")
            assert listed.returncode == 0, listed.stderr
            machines = {m["name"]: m["stateMachineArn"] for m in json.loads(listed.stdout)["stateMachines"]}
            assert "execute-api-express" in machines, machines
            synced = aws("start-sync-execution", "--state-machine-arn", machines["execute-api-express"],
                         "--input", '{"cli": true}')
            assert synced.returncode == 0, synced.stderr
            assert json.loads(json.loads(synced.stdout)["output"]) == {"cli": True}, synced.stdout
            # Without the plugin the CLI signs for states and is refused.
            config.write_text(f"[default]\nregion = {REGION}\n")
            stock = aws("list-state-machines")
            assert stock.returncode != 0 and "execute-api" in stock.stderr, (stock.returncode, stock.stderr)

        check("functions/README.md documents this client", readme_documents_this_client)
        check("the documented client runs an execution through IAM auth", documented_client_runs_an_execution)
        check("the documented client calls StartSyncExecution at the stage URL", documented_client_reaches_sync_actions_without_the_host_prefix)
        check("a stock client (signing for states) is refused", stock_client_is_refused_as_api_gateway_refuses_it)
        check("a wrong secret is refused", a_wrong_secret_is_refused)
        if aws_cli:
            check("the AWS CLI with the documented plugin signs for execute-api", aws_cli_with_the_documented_plugin)
        else:
            print("SKIPPED: the AWS CLI check (no aws given: iam_client.py CAIRN AWS_CLI)")
        gateway.shutdown()
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
