"""Starts `cairn serve` for the client tests and hands out boto3 clients and AWS CLI runners."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque

import boto3
import pytest
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
FUNCTIONS = os.path.join(HERE, "functions.json")
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/cairn-test"


class Server:
    """One `cairn serve` process on a free loopback port over a data directory."""

    def __init__(self, data_dir, *extra_args, env=None):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        # Environment for the process (None: this one's), e.g. the AWS emulators' endpoints.
        self.env = env
        self.process = None
        self.endpoint = None
        # The server's last lines, for a failing test to show.
        self.output = deque(maxlen=200)

    def start(self):
        binary = os.environ.get("CAIRN_BIN")
        if not binary:
            raise RuntimeError("CAIRN_BIN must name the cairn binary (tests/clients/run.sh sets it)")
        self.process = subprocess.Popen(
            [binary, "serve", "--port", "0", "--data", self.data_dir, "--functions", FUNCTIONS, *self.extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        line = self.process.stdout.readline()
        match = re.search(r"listening on (http://[0-9.]+:\d+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"cairn serve did not start: {line!r}")
        self.endpoint = match.group(1)
        # Keep reading what the server prints: a full pipe (64 KB of logs) would block it.
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self):
        for line in self.process.stdout:
            self.output.append(line)

    def kill(self):
        """SIGKILL: no chance to flush or clean up, as in a crash."""
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def client(self):
        return sfn_client(self.endpoint)


def require_emulator(*variables):
    """Skips the test unless every CAIRN_TEST_* endpoint named is set (tests/emulators/start.sh's
    env file sets them); under CAIRN_REQUIRE_EMULATORS=1 a missing one fails it instead."""
    if all(os.environ.get(v) for v in variables):
        return
    verb = "is" if len(variables) == 1 else "are"
    reason = f"{' and '.join(variables)} {verb} unset: start tests/emulators/start.sh and source its env file"
    if os.environ.get("CAIRN_REQUIRE_EMULATORS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def emulator_env(**endpoints):
    """The environment for a `cairn serve` towards the emulators: the caller's, less its own AWS
    settings, with test credentials, the tests' region and the given AWS_ENDPOINT_URL* values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
        **endpoints,
    )
    return env


def sfn_client(endpoint):
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        # StartSyncExecution is modelled with the `sync-` host prefix; a local endpoint has none.
        config=Config(inject_host_prefix=False, read_timeout=75, retries={"max_attempts": 1}),
    )


def serving(prefix, *args, env=None):
    """For a fixture to `yield from`: a `cairn serve` on a fresh data directory named from
    `prefix`, stopped and its directory removed when the fixture's scope ends."""
    data_dir = tempfile.mkdtemp(prefix=prefix)
    server = Server(data_dir, *args, env=env).start()
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    yield from serving("cairn-clients-")


@pytest.fixture
def sfn(server):
    return server.client()


@pytest.fixture
def aws(server):
    """Runs the AWS CLI against the server and returns its parsed JSON output."""
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION=REGION,
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
        AWS_PAGER="",
    )

    def run(*args, check=True):
        result = subprocess.run(
            ["aws", "--endpoint-url", server.endpoint, "--output", "json", "stepfunctions", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {result.stderr}")
        if not check:
            return result
        return json.loads(result.stdout) if result.stdout.strip() else {}

    return run


def wait_until_done(sfn, arn, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{arn} still RUNNING after {timeout}s")


def history(sfn, arn):
    events = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events.extend(page["events"])
    return events
