//! How Step Functions names a service's error for Retry/Catch, and words its cause. Two Java
//! SDKs stand behind Step Functions and each leaves its mark:
//! - the optimized integrations (`sns:publish`, `dynamodb:putItem`, ...) use SDK v1:
//!   `SNS.InvalidParameterException`, `DynamoDB.AmazonDynamoDBException` for an error the
//!   model does not declare, and a cause like `... (Service: AmazonSNS; Status Code: 400;
//!   Error Code: InvalidParameter; Request ID: ...; Proxy: null)`;
//! - the AWS SDK integration (`aws-sdk:<service>:<action>`) uses SDK v2: the service's v2
//!   client name as prefix (`DynamoDb`, `Sfn`, `SecretsManager`), the exception class
//!   (`S3.NoSuchBucketException`, `SecretsManager.SecretsManagerException` when undeclared),
//!   and a cause like `... (Service: Sfn, Status Code: 400, Request ID: ...)`.

use cairn_runtime::TaskFailure;

use crate::model::ServiceModel;
use crate::protocol::{WireError, WireResponse};

/// Which SDK's naming a failure follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The optimized integrations (SDK v1).
    Optimized,
    /// `aws-sdk:*` (SDK v2).
    AwsSdk,
}

/// The Java SDK v2 client name of a service: its `serviceId`'s words, each capitalised with
/// the rest lowercased (`DynamoDB` → `DynamoDb`, `SFN` → `Sfn`, `Secrets Manager` →
/// `SecretsManager`, `EventBridge` stays).
pub fn sdk_v2_prefix(service_id: &str) -> String {
    let mut out = String::new();
    for word in service_id.split(|c: char| !c.is_ascii_alphanumeric()) {
        for part in camel_words(word) {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.extend(chars.flat_map(char::to_lowercase));
            }
        }
    }
    out
}

/// `DynamoDB` → [`Dynamo`, `DB`]; `EventBridge` → [`Event`, `Bridge`]; `S3` → [`S3`].
fn camel_words(word: &str) -> Vec<&str> {
    let bytes = word.as_bytes();
    let mut words = Vec::new();
    let mut start = 0;
    for i in 1..bytes.len() {
        let (prev, here) = (bytes[i - 1], bytes[i]);
        if prev.is_ascii_lowercase() && here.is_ascii_uppercase() {
            words.push(&word[start..i]);
            start = i;
        }
    }
    if start < word.len() {
        words.push(&word[start..]);
    }
    words
}

/// The SDK v1 names of the services the optimized integrations call: the error prefix, the
/// client exception for undeclared errors, and the service name in causes.
fn sdk_v1_names(model: &ServiceModel) -> (String, String, String) {
    match model.name.as_str() {
        "dynamodb" => (
            "DynamoDB".into(),
            "AmazonDynamoDBException".into(),
            "AmazonDynamoDBv2".into(),
        ),
        "sns" => (
            "SNS".into(),
            "AmazonSNSException".into(),
            "AmazonSNS".into(),
        ),
        "sqs" => (
            "SQS".into(),
            "AmazonSQSException".into(),
            "AmazonSQS".into(),
        ),
        "events" => (
            "EventBridge".into(),
            "AmazonEventBridgeException".into(),
            "AmazonEventBridge".into(),
        ),
        _ => {
            let id = model.service_id().replace(' ', "");
            (
                id.clone(),
                format!("Amazon{id}Exception"),
                format!("Amazon{id}"),
            )
        }
    }
}

fn exception_class(shape: &str) -> String {
    if shape.ends_with("Exception") {
        shape.to_owned()
    } else {
        format!("{shape}Exception")
    }
}

/// The request id a response carries (`x-amzn-RequestId`, S3's `x-amz-request-id`, or the
/// query protocols' `<RequestId>` element).
pub fn request_id(response: &WireResponse) -> String {
    if let Some(id) = response
        .header("x-amzn-RequestId")
        .or_else(|| response.header("x-amz-request-id"))
    {
        return id.to_owned();
    }
    let body = String::from_utf8_lossy(&response.body);
    body.split_once("<RequestId>")
        .and_then(|(_, rest)| rest.split_once("</RequestId>"))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_default()
}

/// A service's error answer as the state's failure.
pub fn service_failure(
    model: &ServiceModel,
    flavor: Flavor,
    response: &WireResponse,
    error: &WireError,
) -> TaskFailure {
    let declared = model.error_shape_for_code(&error.code).or_else(|| {
        error
            .type_name
            .as_deref()
            .and_then(|name| model.error_shape_for_code(name))
    });
    let status = response.status;
    let request_id = request_id(response);
    match flavor {
        Flavor::Optimized => {
            let (prefix, fallback, service) = sdk_v1_names(model);
            let class = declared.map_or(fallback, exception_class);
            TaskFailure::new(
                format!("{prefix}.{class}"),
                format!(
                    "{} (Service: {service}; Status Code: {status}; Error Code: {}; Request ID: \
                     {request_id}; Proxy: null)",
                    error.message, error.code
                ),
            )
        }
        Flavor::AwsSdk => {
            let prefix = sdk_v2_prefix(model.service_id());
            let class = declared.map_or_else(|| format!("{prefix}Exception"), exception_class);
            let extended = response
                .header("x-amz-id-2")
                .map(|id| format!(", Extended Request ID: {id}"))
                .unwrap_or_default();
            TaskFailure::new(
                format!("{prefix}.{class}"),
                format!(
                    "{} (Service: {prefix}, Status Code: {status}, Request ID: \
                     {request_id}{extended}) (SDK Attempt Count: 1)",
                    error.message
                ),
            )
        }
    }
}

/// The failure for a call that got no answer (the SDKs' client-side exception).
pub fn client_failure(model: &ServiceModel, flavor: Flavor, message: String) -> TaskFailure {
    let prefix = match flavor {
        Flavor::Optimized => sdk_v1_names(model).0,
        Flavor::AwsSdk => sdk_v2_prefix(model.service_id()),
    };
    TaskFailure::new(format!("{prefix}.SdkClientException"), message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Models;

    #[test]
    fn sdk_v2_prefixes_follow_the_service_ids() {
        assert_eq!(sdk_v2_prefix("DynamoDB"), "DynamoDb");
        assert_eq!(sdk_v2_prefix("SFN"), "Sfn");
        assert_eq!(sdk_v2_prefix("Secrets Manager"), "SecretsManager");
        assert_eq!(sdk_v2_prefix("S3"), "S3");
        assert_eq!(sdk_v2_prefix("EventBridge"), "EventBridge");
        assert_eq!(sdk_v2_prefix("CloudWatch Logs"), "CloudWatchLogs");
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> WireResponse {
        WireResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn optimized_integrations_name_errors_as_sdk_v1() {
        let models = Models::new(None);
        let sns = models.get("sns").unwrap();
        let failure = service_failure(
            &sns,
            Flavor::Optimized,
            &answer(404, &[("x-amzn-RequestId", "r1")]),
            &WireError {
                code: "NotFound".into(),
                message: "Topic does not exist".into(),
                type_name: None,
            },
        );
        assert_eq!(failure.error, "SNS.NotFoundException");
        assert_eq!(
            failure.cause.as_deref(),
            Some(
                "Topic does not exist (Service: AmazonSNS; Status Code: 404; Error Code: \
                 NotFound; Request ID: r1; Proxy: null)"
            )
        );
        let dynamodb = models.get("dynamodb").unwrap();
        let failure = service_failure(
            &dynamodb,
            Flavor::Optimized,
            &answer(400, &[]),
            &WireError {
                code: "ValidationException".into(),
                message: "bad".into(),
                type_name: None,
            },
        );
        assert_eq!(failure.error, "DynamoDB.AmazonDynamoDBException");
    }

    #[test]
    fn aws_sdk_errors_are_named_as_sdk_v2() {
        let models = Models::new(None);
        let s3 = models.get("s3").unwrap();
        let failure = service_failure(
            &s3,
            Flavor::AwsSdk,
            &answer(404, &[("x-amz-request-id", "r2"), ("x-amz-id-2", "ext")]),
            &WireError {
                code: "NoSuchBucket".into(),
                message: "The specified bucket does not exist".into(),
                type_name: None,
            },
        );
        assert_eq!(failure.error, "S3.NoSuchBucketException");
        assert_eq!(
            failure.cause.as_deref(),
            Some(
                "The specified bucket does not exist (Service: S3, Status Code: 404, Request \
                 ID: r2, Extended Request ID: ext) (SDK Attempt Count: 1)"
            )
        );
        let secrets = models.get("secretsmanager").unwrap();
        let failure = service_failure(
            &secrets,
            Flavor::AwsSdk,
            &answer(400, &[]),
            &WireError {
                code: "ValidationException".into(),
                message: "Invalid name.".into(),
                type_name: None,
            },
        );
        assert_eq!(failure.error, "SecretsManager.SecretsManagerException");
        let dynamodb = models.get("dynamodb").unwrap();
        let failure = service_failure(
            &dynamodb,
            Flavor::AwsSdk,
            &answer(400, &[]),
            &WireError {
                code: "ResourceNotFoundException".into(),
                message: "Requested resource not found".into(),
                type_name: None,
            },
        );
        assert_eq!(failure.error, "DynamoDb.ResourceNotFoundException");
    }
}
