//! The custom resource `Custom::CairnSchedules`: CloudFormation invokes the schedule function
//! with a Create, Update or Delete request and waits (up to an hour) for the answer PUT to the
//! request's presigned `ResponseURL`. Properties:
//!
//! - `GroupName`: the stack's schedule group (the resource's physical id, so a new name makes
//!   CloudFormation delete the old group after the update);
//! - `TargetArn`, `RoleArn`, `DeadLetterArn`: the schedule function, the role Scheduler assumes
//!   to invoke it, the queue for firings it could not deliver;
//! - `SchedulesVersion`: the layer version that carries the file. Unused here: it is there so
//!   that a changed file changes a property, and CloudFormation sends an Update.
//!
//! Every request gets an answer, FAILED with the reason when the sync failed, so a bad file
//! fails the deploy in seconds instead of an hour's wait. A role Scheduler cannot assume yet
//! (a first deploy's, seconds old) is waited for within the invocation's remaining time, less
//! [`ANSWER_MARGIN`] kept for the answer.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::file::{check_name, SchedulesFile, StackPlace};
use crate::sync::{schedules_delete_group, schedules_sync_group, RolePatience, ScheduleTargets};
use crate::SchedulesError;

/// What CloudFormation sends a custom resource's function.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    /// `Create`, `Update` or `Delete`.
    pub request_type: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Value,
}

/// The answer CloudFormation reads from the response URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    /// `SUCCESS` or `FAILED`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
}

/// CloudFormation takes at most 4096 bytes of answer: the reason is cut well below.
const REASON_LIMIT: usize = 1000;

/// What the invocation keeps of its time for the answer's PUT to S3 (well under a second when
/// S3 answers): an invocation that runs out of time sends nothing, and CloudFormation would wait
/// an hour.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(5);

/// How long the sync may retry, from the invocation's deadline (Lambda's context).
pub fn patience_before(deadline: SystemTime) -> RolePatience {
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(ANSWER_MARGIN);
    RolePatience::until(tokio::time::Instant::now() + left)
}

/// Whether an event is a custom resource request (the schedule function also takes schedule
/// firings).
pub fn is_custom_resource_request(event: &Value) -> bool {
    event.get("RequestType").is_some_and(Value::is_string)
        && event.get("ResponseURL").is_some_and(Value::is_string)
}

fn property<'a>(request: &'a CustomResourceRequest, name: &str) -> Result<&'a str, SchedulesError> {
    request.resource_properties[name]
        .as_str()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SchedulesError::Invalid(format!("the custom resource has no {name}")))
}

/// Carries out one request against Scheduler and says what to answer (nothing sent yet).
/// `file` is read only for Create and Update: a delete must work whatever the file holds.
pub async fn schedules_answer_request(
    client: &aws_sdk_scheduler::Client,
    request: &CustomResourceRequest,
    file: &Path,
    patience: &RolePatience,
) -> CustomResourceResponse {
    let requested_group = property(request, "GroupName").map(str::to_string);
    // The physical id is the group: on a failed Create it is still the group, so the
    // rollback's Delete removes whatever schedules were made before the failure.
    let physical = match (request.request_type.as_str(), &request.physical_resource_id) {
        ("Delete", Some(id)) => id.clone(),
        _ => requested_group
            .clone()
            .unwrap_or_else(|_| format!("{}-schedules", request.logical_resource_id)),
    };
    let outcome = match request.request_type.as_str() {
        "Create" | "Update" => match requested_group {
            Ok(group) => schedules_apply_file(client, request, &group, file, patience).await,
            Err(e) => Err(e),
        },
        "Delete" if check_name("schedule group", &physical).is_ok() => {
            schedules_delete_group(client, &physical)
                .await
                .map(|deleted| json!({"GroupName": physical, "Deleted": deleted.len()}))
        }
        // A Delete of a resource whose Create never got as far as a group name: nothing made.
        "Delete" => Ok(Value::Null),
        other => Err(SchedulesError::Invalid(format!(
            "unknown custom resource RequestType '{other}'"
        ))),
    };
    let (status, reason, data) = match outcome {
        Ok(data) => ("SUCCESS", None, data),
        Err(error) => {
            let mut reason = error.to_string();
            if reason.len() > REASON_LIMIT {
                let mut cut = REASON_LIMIT;
                while !reason.is_char_boundary(cut) {
                    cut -= 1;
                }
                reason.truncate(cut);
            }
            ("FAILED", Some(reason), Value::Null)
        }
    };
    CustomResourceResponse {
        status: status.into(),
        reason,
        physical_resource_id: physical,
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
        data,
    }
}

async fn schedules_apply_file(
    client: &aws_sdk_scheduler::Client,
    request: &CustomResourceRequest,
    group: &str,
    file: &Path,
    patience: &RolePatience,
) -> Result<Value, SchedulesError> {
    check_name("schedule group", group)?;
    let targets = ScheduleTargets {
        function_arn: property(request, "TargetArn")?.to_string(),
        role_arn: property(request, "RoleArn")?.to_string(),
        dead_letter_arn: property(request, "DeadLetterArn").ok().map(str::to_string),
    };
    let text = std::fs::read_to_string(file).map_err(|e| {
        SchedulesError::Invalid(format!("the schedules file {}: {e}", file.display()))
    })?;
    let place = StackPlace::from_arn(&request.stack_id)?;
    let desired = SchedulesFile::parse(&text)?.desired(&place);
    let report = schedules_sync_group(client, group, &targets, &desired, patience).await?;
    Ok(json!({
        "GroupName": group,
        "Schedules": desired.len(),
        "Created": report.created.len(),
        "Updated": report.updated.len(),
        "Unchanged": report.unchanged.len(),
        "Deleted": report.deleted.len(),
    }))
}

/// PUTs the answer to the presigned URL: no content type (the URL is signed without one), the
/// JSON as the body.
pub async fn send_custom_resource_response(
    url: &str,
    response: &CustomResourceResponse,
) -> Result<(), SchedulesError> {
    let failed = |why: String| SchedulesError::Response(why);
    let body = serde_json::to_vec(response).map_err(|e| failed(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| failed(format!("no TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let uri: http::Uri = url
        .parse()
        .map_err(|e| failed(format!("the response URL is not a URL: {e}")))?;
    let request = http::Request::put(uri)
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| failed(e.to_string()))?;
    let call = async {
        let answer = client
            .request(request)
            .await
            .map_err(|e| failed(format!("{e:?}")))?;
        let status = answer.status();
        let text = answer
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            Err(failed(format!("HTTP {status}: {text}")))
        }
    };
    tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .map_err(|_| failed("no answer within 30 s".into()))?
}

/// A custom resource request start to end: carry it out, answer CloudFormation, and return the
/// answer (the invocation's result, for the logs). An error only when the answer could not be
/// sent: then the invocation fails and Lambda's retry sends the request again. `deadline` is
/// when the invocation is stopped (Lambda's context).
pub async fn serve_custom_resource(
    client: &aws_sdk_scheduler::Client,
    event: Value,
    file: &Path,
    deadline: SystemTime,
) -> Result<Value, SchedulesError> {
    let request: CustomResourceRequest = serde_json::from_value(event)
        .map_err(|e| SchedulesError::Invalid(format!("not a custom resource request: {e}")))?;
    let response =
        schedules_answer_request(client, &request, file, &patience_before(deadline)).await;
    send_custom_resource_response(&request.response_url, &response).await?;
    serde_json::to_value(&response).map_err(|e| SchedulesError::Response(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_resource_request_is_told_from_a_firing() {
        let sample: Value = serde_json::from_str(include_str!(
            "../../../events/schedule-custom-resource.json"
        ))
        .unwrap();
        assert!(is_custom_resource_request(&sample));
        let request: CustomResourceRequest = serde_json::from_value(sample).unwrap();
        assert_eq!(request.request_type, "Create");
        assert!(request.resource_properties["GroupName"].is_string());
        let firing: Value =
            serde_json::from_str(include_str!("../../../events/schedule.json")).unwrap();
        assert!(!is_custom_resource_request(&firing));
    }
}
