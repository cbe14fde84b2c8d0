"""Kill -9 while Standard executions wait on timers and activity tasks; restart; every
execution finishes with the right output and enters each state exactly once."""

import collections
import json
import shutil
import tempfile
import threading
import time

from botocore.exceptions import ClientError
from conftest import ROLE, Server, history, wait_until_done


def test_executions_survive_sigkill():
    data_dir = tempfile.mkdtemp(prefix="cairn-crash-")
    server = Server(data_dir).start()
    try:
        sfn = server.client()
        activity = sfn.create_activity(name="crash-work")["activityArn"]
        definition = {
            "StartAt": "Nap",
            "States": {
                "Nap": {"Type": "Wait", "SecondsPath": "$.nap", "Next": "Work"},
                "Work": {"Type": "Task", "Resource": activity, "ResultPath": "$.work", "Next": "Finish"},
                "Finish": {"Type": "Pass", "Parameters": {"id.$": "$.id", "work.$": "$.work"}, "End": True},
            },
        }
        machine = sfn.create_state_machine(name="crash", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
        expected = {}
        # Short naps reach the activity before the kill; long ones are still waiting on their timer.
        for i in range(12):
            nap = 0 if i < 6 else 3
            arn = sfn.start_execution(
                stateMachineArn=machine, name=f"run-{i}", input=json.dumps({"id": i, "nap": nap})
            )["executionArn"]
            expected[arn] = {"id": i, "work": {"done": i}}
        # One worker finishes two tasks and takes a third it will only answer after the crash.
        answered = 0
        held = None
        deadline = time.time() + 30
        while (answered < 2 or held is None) and time.time() < deadline:
            task = sfn.get_activity_task(activityArn=activity, workerName="before-crash")
            if not task.get("taskToken"):
                continue
            job = json.loads(task["input"])
            if answered < 2:
                sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"done": job["id"]}))
                answered += 1
            else:
                held = (task["taskToken"], job["id"])
        assert held is not None, "the activity tasks were never handed out"
        server.kill()

        server = Server(data_dir).start()
        sfn = server.client()
        sfn.send_task_success(taskToken=held[0], output=json.dumps({"done": held[1]}))
        stop = threading.Event()

        def worker():
            while not stop.is_set():
                try:
                    task = sfn.get_activity_task(activityArn=activity, workerName="after-crash")
                    if task.get("taskToken"):
                        job = json.loads(task["input"])
                        sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"done": job["id"]}))
                except Exception:  # noqa: BLE001 - the server is stopped under a polling worker at the end
                    if stop.is_set():
                        return
                    raise

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            for arn, output in expected.items():
                described = wait_until_done(sfn, arn, timeout=60)
                assert described["status"] == "SUCCEEDED", described
                assert json.loads(described["output"]) == output
                entered = collections.Counter(
                    e["stateEnteredEventDetails"]["name"] for e in history(sfn, arn) if e["type"].endswith("StateEntered")
                )
                assert entered == {"Nap": 1, "Work": 1, "Finish": 1}, (arn, entered)
                types = [e["type"] for e in history(sfn, arn)]
                assert types.count("ActivityStarted") == 1 and types.count("ExecutionSucceeded") == 1, types
        finally:
            stop.set()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_async_express_runs_again_after_sigkill():
    """Asynchronous Express is at least once: an execution the crash cut short runs again
    after the restart (visible here because --express-history keeps finished ones)."""
    data_dir = tempfile.mkdtemp(prefix="cairn-crash-express-")
    server = Server(data_dir, "--express-history", "100").start()
    try:
        sfn = server.client()
        definition = {
            "StartAt": "Nap",
            "States": {
                "Nap": {"Type": "Wait", "Seconds": 2, "Next": "Done"},
                "Done": {"Type": "Pass", "Parameters": {"id.$": "$.id"}, "End": True},
            },
        }
        machine = sfn.create_state_machine(
            name="crash-express", definition=json.dumps(definition), roleArn=ROLE, type="EXPRESS"
        )["stateMachineArn"]
        arns = [
            sfn.start_execution(stateMachineArn=machine, input=json.dumps({"id": i}))["executionArn"]
            for i in range(3)
        ]
        server.kill()

        server = Server(data_dir, "--express-history", "100").start()
        sfn = server.client()
        for i, arn in enumerate(arns):
            deadline = time.time() + 30
            described = None
            while described is None and time.time() < deadline:
                try:
                    described = sfn.describe_execution(executionArn=arn)
                except ClientError:
                    # Not describable until it has run again and ended.
                    time.sleep(0.1)
            assert described is not None, f"{arn} did not run again after the restart"
            assert described["status"] == "SUCCEEDED"
            assert json.loads(described["output"]) == {"id": i}
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
