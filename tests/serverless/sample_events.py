"""The sample events in events/ match the template they stand for: the API events name the
stage and a path the API Gateway of template.yaml has, with its method, so `sam local invoke`
and `cargo lambda invoke` with them exercise what a deployment receives; the custom resource
request names the template's Schedules resource and its properties; the Function URL events
(payload format 2.0) name a path and method of the API routes of a function the template gives a
Function URL.

Run with a Python that has cfn-lint (tests/serverless/run.sh uses the emulators' virtualenv).
"""

import json
import pathlib
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]


def api_routes(template):
    """(stage, {(path, method)}) of the template's API and the api function's events."""
    resources = template["Resources"]
    stage = next(
        r["Properties"]["StageName"] for r in resources.values() if r.get("Type") == "AWS::Serverless::Api"
    )
    routes = set()
    for resource in resources.values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") == "Api":
                routes.add((event["Properties"]["Path"], event["Properties"]["Method"].upper()))
    return stage, routes


def function_url_problems(template, routes):
    """events/function-url-*.json: what a Function URL of the template sends the api binary,
    a route the API Gateway also has (the binary routes both payloads the same way)."""
    resources = template["Resources"]
    urls = {
        name: r["Properties"]["FunctionUrlConfig"]
        for name, r in resources.items()
        if r.get("Type") == "AWS::Serverless::Function" and "FunctionUrlConfig" in r.get("Properties", {})
    }
    problems, checked = [], 0
    for path in sorted((ROOT / "events").glob("function-url-*.json")):
        event = json.loads(path.read_text())
        checked += 1
        if not urls:
            problems.append(f"{path.name}: the template has no function with a FunctionUrlConfig")
        for name, config in urls.items():
            binary = resources[name].get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            if binary != "api":
                problems.append(f"{path.name}: {name} has a Function URL but runs {binary!r}, not the api binary")
            if config.get("AuthType") != "AWS_IAM":
                problems.append(f"{name}: Function URL AuthType {config.get('AuthType')!r}, not AWS_IAM")
            iam = event.get("requestContext", {}).get("authorizer", {}).get("iam")
            if config.get("AuthType") == "AWS_IAM" and not iam:
                problems.append(f"{path.name}: no requestContext.authorizer.iam, which an AWS_IAM URL sends")
        if event.get("version") != "2.0":
            problems.append(f"{path.name}: version {event.get('version')!r}, a Function URL sends '2.0'")
        method = event.get("requestContext", {}).get("http", {}).get("method")
        if (event.get("rawPath"), method) not in routes:
            problems.append(f"{path.name}: {(event.get('rawPath'), method)} is not one of the API routes {sorted(routes)}")
    return checked, problems


def custom_resource_problems(template):
    """events/schedule-custom-resource.json is what CloudFormation sends for the template's
    Custom::CairnSchedules resource: its type, logical id and exactly its properties."""
    sample = json.loads((ROOT / "events/schedule-custom-resource.json").read_text())
    found = [(n, r) for n, r in template["Resources"].items() if r.get("Type") == sample.get("ResourceType")]
    if len(found) != 1:
        return [f"schedule-custom-resource.json: the template has no single {sample.get('ResourceType')} resource"]
    name, resource = found[0]
    problems = []
    if sample.get("LogicalResourceId") != name:
        problems.append(f"schedule-custom-resource.json: LogicalResourceId {sample.get('LogicalResourceId')!r}, the template's is {name!r}")
    keys, wanted = set(sample.get("ResourceProperties", {})), set(resource["Properties"])
    if keys != wanted:
        problems.append(f"schedule-custom-resource.json: properties {sorted(keys)}, the template's are {sorted(wanted)}")
    for field in ("RequestType", "ResponseURL", "StackId", "RequestId"):
        if not sample.get(field):
            problems.append(f"schedule-custom-resource.json: no {field}")
    return problems


def main():
    template, problems = decode(str(ROOT / "template.yaml"))
    if template is None:
        print(f"template.yaml cannot be read: {problems}")
        return 1
    stage, routes = api_routes(template)
    failures = []
    checked = 0
    for path in sorted((ROOT / "events").glob("api-*.json")):
        event = json.loads(path.read_text())
        checked += 1
        context = event.get("requestContext", {})
        route = (event.get("resource"), event.get("httpMethod"))
        if route not in routes:
            failures.append(f"{path.name}: {route} is not one of the template's API routes {sorted(routes)}")
        if context.get("stage") != stage:
            failures.append(f"{path.name}: stage {context.get('stage')!r}, the template's is {stage!r}")
        if context.get("resourcePath") not in (None, event.get("resource")):
            failures.append(f"{path.name}: requestContext.resourcePath differs from resource")
    print(f"sample events: {checked} API events against stage {stage!r} and {len(routes)} routes")
    urls, url_problems = function_url_problems(template, routes)
    print(f"sample events: {urls} Function URL events")
    failures += url_problems
    custom = custom_resource_problems(template)
    print("sample events: the Schedules custom resource request " + ("matches the template's resource" if not custom else "differs"))
    failures += custom
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
