"""The deployment examples in functions/README.md work as written:

- the samconfig.toml example is one `sam deploy` reads as meant: SAM CLI's own parser turns its
  parameter_overrides into values, each names a parameter of template.yaml and fits the
  parameter's AllowedValues (a space inside a value, as in a cron expression, must be quoted, or
  SAM cuts the value there);
- the further schedule (a YAML resource) pasted into template.yaml's Resources lints clean with
  cfn-lint, as the template itself does, and sends the input the schedule function reads.

Run with the Python of SAM CLI's virtualenv (tests/serverless/run.sh does).
"""

import pathlib
import re
import sys
import tempfile

from cfnlint.decode import decode
from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig

ROOT = pathlib.Path(__file__).resolve().parents[2]


def schedule_example(readme):
    """Problems of the README's schedule resource, pasted into the template."""
    found = re.search(r"```yaml\n(.*?)```", readme, re.S)
    if not found or "AWS::Scheduler::Schedule" not in found.group(1):
        return ["functions/README.md has no schedule resource example"]
    from cfnlint.api import ManualArgs, lint

    template = (ROOT / "template.yaml").read_text()
    at = template.index("\nOutputs:")
    pasted = template[:at] + "\n" + found.group(1) + template[at:]
    problems = [str(match) for match in lint(pasted, config=ManualArgs(regions=["us-east-1"]))]
    for key in ("stateMachineArn", "input", "scheduleArn", "scheduledTime"):
        if f'"{key}":' not in found.group(1):
            problems.append(f"the schedule example's input lacks {key}")
    return problems


def main():
    readme = (ROOT / "functions/README.md").read_text()
    found = re.search(r"```toml\n(.*?)```", readme, re.S)
    if not found:
        print("FAIL: functions/README.md has no samconfig.toml example")
        return 1
    template, problems = decode(str(ROOT / "template.yaml"))
    if template is None:
        print(f"template.yaml cannot be read: {problems}")
        return 1
    parameters = template["Parameters"]
    with tempfile.TemporaryDirectory() as folder:
        (pathlib.Path(folder) / "samconfig.toml").write_text(found.group(1))
        deploy = SamConfig(folder).get_all(["deploy"], "parameters", "default")
    overrides = CfnParameterOverridesType().convert(deploy.get("parameter_overrides", []), None, None)
    failures = []
    for name, value in overrides.items():
        if name not in parameters:
            failures.append(f"{name} is not a parameter of template.yaml")
            continue
        allowed = parameters[name].get("AllowedValues")
        if allowed and value not in [str(a) for a in allowed]:
            failures.append(f"{name}={value!r} is not one of {allowed}")
        if name.endswith("Expression") and value.count("(") != value.count(")"):
            failures.append(f"{name}={value!r} was cut (quote a value with spaces)")
    if "CAPABILITY_IAM" not in str(deploy.get("capabilities", "")):
        failures.append("the example deploys without CAPABILITY_IAM (the stack creates roles)")
    print(f"samconfig.toml example: {len(overrides)} parameter overrides")
    schedule_problems = schedule_example(readme)
    failures += [f"schedule example: {problem}" for problem in schedule_problems]
    print("schedule example: pasted into template.yaml, " + ("lints clean" if not schedule_problems else "fails"))
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures or not overrides else 0


if __name__ == "__main__":
    sys.exit(main())
