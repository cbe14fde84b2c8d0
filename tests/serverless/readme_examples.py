"""The deployment examples in functions/README.md work as written:

- the samconfig.toml example is one `sam deploy` reads as meant: SAM CLI's own parser turns its
  parameter_overrides into values, each names a parameter of template.yaml and fits the
  parameter's AllowedValues (a space inside a value, as in a cron expression, must be quoted, or
  SAM cuts the value there);
- the schedules file the README documents is the one the template ships to the schedule
  function (a layer), and the Schedules custom resource syncs it (`schedules_wiring`).

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


def schedules_wiring(readme):
    """Problems of the schedules file's way into the stack: the README documents the file the
    template's layer ships (the Rust tests of cairn-schedules parse it and the README's example
    with the sync's own parser), the schedule function carries that layer, and the Schedules
    custom resource is served by the schedule function, names the layer's version (so a changed
    file is an Update) and the target, role and dead-letter queue the sample schedule uses."""
    problems = []
    template, _ = decode(str(ROOT / "template.yaml"))
    resources = template["Resources"]
    layers = {n: r for n, r in resources.items() if r.get("Type") == "AWS::Serverless::LayerVersion"}
    layer = next((n for n, r in layers.items() if (ROOT / r["Properties"]["ContentUri"] / "schedules.json").is_file()), None)
    if layer is None:
        return ["no layer of template.yaml ships a schedules.json"]
    folder = layers[layer]["Properties"]["ContentUri"].rstrip("/")
    if f"`{folder}/schedules.json`" not in readme:
        problems.append(f"functions/README.md does not name the schedules file {folder}/schedules.json")
    if not re.search(r"```json\n\{\n  \"schedules\": \[", readme):
        problems.append("functions/README.md has no schedules file example")
    function = resources.get("ScheduleFunction", {}).get("Properties", {})
    if {"Ref": layer} not in function.get("Layers", []):
        problems.append(f"ScheduleFunction does not carry {layer}")
    custom = [r for r in resources.values() if r.get("Type") == "Custom::CairnSchedules"]
    if len(custom) != 1:
        return problems + ["template.yaml has no (or more than one) Custom::CairnSchedules resource"]
    props = custom[0]["Properties"]
    sample = resources["SampleSchedule"]["Properties"]["Target"]
    expected = {
        "ServiceToken": {"Fn::GetAtt": ["ScheduleFunction", "Arn"]},
        "TargetArn": sample["Arn"],
        "RoleArn": sample["RoleArn"],
        "DeadLetterArn": sample["DeadLetterConfig"]["Arn"],
        "SchedulesVersion": {"Ref": layer},
    }
    for key, value in expected.items():
        if props.get(key) != value:
            problems.append(f"the Schedules resource's {key} is {props.get(key)}, not {value}")
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
    schedule_problems = schedules_wiring(readme)
    failures += [f"schedules file: {problem}" for problem in schedule_problems]
    print("schedules file: documented, shipped as the schedule function's layer, synced by the Schedules resource" if not schedule_problems else "schedules file: wrong")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures or not overrides else 0


if __name__ == "__main__":
    sys.exit(main())
