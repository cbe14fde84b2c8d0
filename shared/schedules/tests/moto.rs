//! The custom resource against moto: its EventBridge Scheduler through the official
//! `aws-sdk-scheduler` client, and the answer PUT to a moto S3 presigned URL as CloudFormation's
//! response URL is. Skips (saying why) without the emulators, fails under
//! `CAIRN_REQUIRE_EMULATORS=1`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_scheduler::types::ScheduleState;
use cairn_schedules::cloudformation::CustomResourceResponse;
use cairn_schedules::serve_custom_resource;
use serde_json::{json, Value};

const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/cairn-test/guid";
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:schedule";
const ROLE: &str = "arn:aws:iam::123456789012:role/invoke";
const DLQ: &str = "arn:aws:sqs:us-east-1:123456789012:failed";

struct Moto {
    scheduler: aws_sdk_scheduler::Client,
    s3: aws_sdk_s3::Client,
    bucket: String,
    dir: PathBuf,
    seq: std::cell::Cell<u32>,
}

impl Moto {
    async fn new(name: &str) -> Option<Moto> {
        let emulators = cairn_test_support::emulators()?;
        let config = cairn_test_support::sdk_config(&emulators.moto).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        let unique = format!("{name}-{}", std::process::id());
        let bucket = format!("cfn-responses-{unique}");
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("bucket");
        let dir = std::env::temp_dir().join(format!("cairn-schedules-{unique}"));
        std::fs::create_dir_all(&dir).unwrap();
        Some(Moto {
            scheduler: aws_sdk_scheduler::Client::new(&config),
            s3,
            bucket,
            dir,
            seq: 0.into(),
        })
    }

    fn file(&self, schedules: Value) -> PathBuf {
        let path = self.dir.join("schedules.json");
        std::fs::write(&path, json!({ "schedules": schedules }).to_string()).unwrap();
        path
    }

    /// Sends one request as CloudFormation would, and reads back what the function PUT to
    /// the response URL.
    async fn request(
        &self,
        kind: &str,
        group: &str,
        physical: Option<&str>,
        file: &Path,
    ) -> CustomResourceResponse {
        self.seq.set(self.seq.get() + 1);
        let key = format!("response-{}", self.seq.get());
        let url = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
            .await
            .expect("presign")
            .uri()
            .to_string();
        let mut event = json!({
            "RequestType": kind,
            "ResponseURL": url,
            "StackId": STACK,
            "RequestId": format!("request-{key}"),
            "LogicalResourceId": "Schedules",
            "ResourceType": "Custom::CairnSchedules",
            "ResourceProperties": {
                "ServiceToken": FUNCTION, "GroupName": group, "TargetArn": FUNCTION,
                "RoleArn": ROLE, "DeadLetterArn": DLQ, "SchedulesVersion": "1"
            }
        });
        if let Some(physical) = physical {
            event["PhysicalResourceId"] = json!(physical);
        }
        // As the schedule function's 30 s timeout gives.
        let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
        let returned = serve_custom_resource(&self.scheduler, event, file, deadline)
            .await
            .expect("answered");
        let object = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .expect("the answer is in the bucket");
        let body = object.body.collect().await.unwrap().into_bytes();
        let sent: CustomResourceResponse = serde_json::from_slice(&body).expect("JSON answer");
        assert_eq!(
            serde_json::to_value(&sent).unwrap(),
            returned,
            "the invocation returns what it sent"
        );
        assert_eq!(sent.request_id, format!("request-{key}"));
        assert_eq!(sent.stack_id, STACK);
        assert_eq!(sent.logical_resource_id, "Schedules");
        sent
    }

    async fn names(&self, group: &str) -> Vec<String> {
        let page = self
            .scheduler
            .list_schedules()
            .group_name(group)
            .send()
            .await
            .expect("list");
        let mut names: Vec<String> = page
            .schedules()
            .iter()
            .filter_map(|s| s.name().map(str::to_string))
            .collect();
        names.sort();
        names
    }
}

fn counts(response: &CustomResourceResponse) -> [u64; 4] {
    ["Created", "Updated", "Unchanged", "Deleted"].map(|k| response.data[k].as_u64().unwrap())
}

#[tokio::test]
async fn a_deploy_syncs_the_file_into_the_group_and_a_stack_delete_empties_it() {
    let Some(moto) = Moto::new("sync").await else {
        return;
    };
    let group = format!("cairn-sync-{}", std::process::id());
    let first = moto.file(json!([
        {"name": "nightly", "expression": "cron(0 6 * * ? *)", "timezone": "Europe/Paris",
         "stateMachine": "report", "input": {"report": "daily"}, "description": "the report"},
        {"name": "hourly", "expression": "rate(1 hour)", "stateMachine":
         "arn:aws:states:us-east-1:123456789012:stateMachine:express-cleanup", "enabled": false}
    ]));
    let created = moto.request("Create", &group, None, &first).await;
    assert_eq!(created.status, "SUCCESS", "{:?}", created.reason);
    assert_eq!(created.physical_resource_id, group);
    assert_eq!(counts(&created), [2, 0, 0, 0]);
    assert_eq!(moto.names(&group).await, ["hourly", "nightly"]);

    // What the schedule function will receive on a firing, and the rest as the file says.
    let nightly = moto
        .scheduler
        .get_schedule()
        .name("nightly")
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(nightly.schedule_expression(), Some("cron(0 6 * * ? *)"));
    assert_eq!(nightly.schedule_expression_timezone(), Some("Europe/Paris"));
    assert_eq!(nightly.state(), Some(&ScheduleState::Enabled));
    let target = nightly.target().unwrap();
    assert_eq!((target.arn(), target.role_arn()), (FUNCTION, ROLE));
    assert_eq!(target.dead_letter_config().and_then(|d| d.arn()), Some(DLQ));
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:report",
               "input": {"report": "daily"},
               "scheduleArn": "<aws.scheduler.schedule-arn>",
               "scheduledTime": "<aws.scheduler.scheduled-time>"})
    );
    let hourly = moto
        .scheduler
        .get_schedule()
        .name("hourly")
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(hourly.state(), Some(&ScheduleState::Disabled));

    // The same file again (CloudFormation's retry, or a deploy that changed something else)
    // writes nothing.
    let again = moto.request("Update", &group, Some(&group), &first).await;
    assert_eq!(again.status, "SUCCESS", "{:?}", again.reason);
    assert_eq!(counts(&again), [0, 0, 2, 0]);

    // A changed file: one schedule changed, one removed, one added.
    let second = moto.file(json!([
        {"name": "nightly", "expression": "cron(0 7 * * ? *)", "timezone": "Europe/Paris",
         "stateMachine": "report", "input": {"report": "daily"}, "description": "the report"},
        {"name": "weekly", "expression": "cron(0 8 ? * MON *)", "stateMachine": "digest"}
    ]));
    let updated = moto.request("Update", &group, Some(&group), &second).await;
    assert_eq!(updated.status, "SUCCESS", "{:?}", updated.reason);
    assert_eq!(counts(&updated), [1, 1, 0, 1]);
    assert_eq!(moto.names(&group).await, ["nightly", "weekly"]);
    let nightly = moto
        .scheduler
        .get_schedule()
        .name("nightly")
        .group_name(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(nightly.schedule_expression(), Some("cron(0 7 * * ? *)"));

    // A broken file fails the deploy with the reason, and changes nothing.
    let broken = moto.file(json!([{"name": "x", "expression": "daily", "stateMachine": "m"}]));
    let refused = moto.request("Update", &group, Some(&group), &broken).await;
    assert_eq!(refused.status, "FAILED");
    assert!(
        refused.reason.as_deref().unwrap().contains("schedule 'x'"),
        "{refused:?}"
    );
    assert_eq!(refused.physical_resource_id, group);
    assert_eq!(moto.names(&group).await, ["nightly", "weekly"]);

    // The stack's delete removes the schedules and the group, whatever the file holds; a
    // second delete (CloudFormation's retry) finds nothing and succeeds.
    let deleted = moto.request("Delete", &group, Some(&group), &broken).await;
    assert_eq!(deleted.status, "SUCCESS", "{:?}", deleted.reason);
    assert_eq!(deleted.data["Deleted"], 2);
    let gone = moto
        .scheduler
        .get_schedule_group()
        .name(&group)
        .send()
        .await;
    assert!(gone.is_err(), "the group is deleted");
    let again = moto.request("Delete", &group, Some(&group), &broken).await;
    assert_eq!(again.status, "SUCCESS", "{:?}", again.reason);
}

#[tokio::test]
async fn a_renamed_group_is_a_new_resource_and_other_groups_are_left_alone() {
    let Some(moto) = Moto::new("rename").await else {
        return;
    };
    let (old, new) = (
        format!("cairn-old-{}", std::process::id()),
        format!("cairn-new-{}", std::process::id()),
    );
    let file = moto.file(json!([
        {"name": "tick", "expression": "rate(5 minutes)", "stateMachine": "m"}
    ]));
    assert_eq!(
        moto.request("Create", &old, None, &file).await.status,
        "SUCCESS"
    );
    // A schedule made outside the stack's group (the late timers live in `default`).
    moto.scheduler
        .create_schedule()
        .name(format!("outside-{}", std::process::id()))
        .schedule_expression("rate(1 day)")
        .flexible_time_window(
            aws_sdk_scheduler::types::FlexibleTimeWindow::builder()
                .mode(aws_sdk_scheduler::types::FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .target(
            aws_sdk_scheduler::types::Target::builder()
                .arn(FUNCTION)
                .role_arn(ROLE)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let moved = moto.request("Update", &new, Some(&old), &file).await;
    assert_eq!(moved.status, "SUCCESS", "{:?}", moved.reason);
    assert_eq!(moved.physical_resource_id, new, "a new physical id");
    assert_eq!(moto.names(&new).await, ["tick"]);
    // CloudFormation then deletes the old physical id.
    let cleanup = moto.request("Delete", &new, Some(&old), &file).await;
    assert_eq!(cleanup.status, "SUCCESS");
    assert_eq!(cleanup.physical_resource_id, old);
    assert_eq!(moto.names(&new).await, ["tick"], "the new group is kept");
    assert!(moto
        .names("default")
        .await
        .contains(&format!("outside-{}", std::process::id())));
}
