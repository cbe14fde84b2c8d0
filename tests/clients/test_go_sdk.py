"""The Step Functions API through the AWS SDK for Go v2: go/scenario.go against the server.

The SDK comes from Debian (golang-github-aws-aws-sdk-go-v2-dev, with golang-go), since the Go
module proxy is not reachable from the project's machines; run.sh installs both. It is built in
GOPATH mode from /usr/share/gocode. A missing toolchain or SDK fails this test rather than
skipping it, so the client matrix cannot shrink silently.
"""

import os
import shutil
import subprocess
import tempfile

GO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "go")
GOPATH = "/usr/share/gocode"
SDK = os.path.join(GOPATH, "src", "github.com", "aws", "aws-sdk-go-v2", "service", "sfn")


def test_go_sdk_v2_scenario(server):
    go = shutil.which("go")
    assert go, "go is not on PATH: tests/clients/run.sh installs Debian's golang-go"
    assert os.path.isdir(SDK), f"{SDK} is missing: tests/clients/run.sh installs golang-github-aws-aws-sdk-go-v2-dev"
    cache = os.environ.get("CAIRN_GO_CACHE") or os.path.join(tempfile.gettempdir(), "cairn-go-cache")
    result = subprocess.run(
        [go, "run", "scenario.go"],
        cwd=GO,
        env={
            **os.environ,
            "CAIRN_ENDPOINT": server.endpoint,
            "GO111MODULE": "off",
            "GOPATH": GOPATH,
            "GOCACHE": cache,
            "GOFLAGS": "",
            "GOTOOLCHAIN": "local",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"go run scenario.go exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    assert "Go SDK v2 scenario passed" in result.stdout
