"""The Step Functions API through the AWS SDK for JavaScript v3: js/scenario.mjs against the server.

run.sh installs the pinned SDK (js/package-lock.json) into js/node_modules; a missing node or SDK
fails this test rather than skipping it, so the client matrix cannot shrink silently.
"""

import os
import shutil
import subprocess

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")


def test_js_sdk_v3_scenario(server):
    node = shutil.which("node")
    assert node, "node is not on PATH: the JavaScript SDK leg needs Node 20 or later (tests/clients/run.sh)"
    sdk = os.path.join(JS, "node_modules", "@aws-sdk", "client-sfn", "package.json")
    assert os.path.exists(sdk), f"{sdk} is missing: run tests/clients/run.sh, which runs npm ci in {JS}"
    result = subprocess.run(
        [node, "scenario.mjs"],
        cwd=JS,
        env={**os.environ, "CAIRN_ENDPOINT": server.endpoint},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, (
        f"node scenario.mjs exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
