//! The wire protocols of the models: turning a state's parameters into an HTTP request for an
//! operation, and the HTTP response back into the JSON the state sees.
//!
//! Conventions every protocol keeps, so the integrations read the same whatever the wire:
//! - Parameters are keyed as Step Functions keys them: a member's name with its first letter
//!   capitalised (`TableName`; API Gateway's `restApiId` is `RestApiId`); the exact member name
//!   is accepted too. A key the input shape does not have is a [`ProtocolError::Parameter`].
//! - Results are keyed the same way ([`output_key`]).
//! - Timestamps are read from an ISO-8601 string or a number of epoch seconds, and given back as
//!   ISO-8601 text ([`timestamp_output`]).
//! - A blob parameter is the UTF-8 of a string, or the JSON text of any other value; a blob in
//!   a result is base64 text, except a response payload blob (S3's `Body`), which is the
//!   payload as text.

pub mod json;
pub mod query;
pub mod rest;

use serde_json::{Map, Value};

use crate::model::{pascal_first, ServiceModel};

/// An HTTP request before it is signed and sent.
#[derive(Debug, Clone, PartialEq)]
pub struct WireRequest {
    pub method: http::Method,
    /// The path, percent-encoded, starting with `/` (no query).
    pub path: String,
    /// Query parameters, not yet encoded.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A host prefix the operation asks for (`endpoint.hostPrefix`), already expanded.
    pub host_prefix: Option<String>,
}

impl WireRequest {
    pub fn new(method: http::Method, path: impl Into<String>) -> WireRequest {
        WireRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            host_prefix: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// An HTTP response as it came back.
#[derive(Debug, Clone, PartialEq)]
pub struct WireResponse {
    pub status: u16,
    /// Header names as the server sent them, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WireResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A service's error answer: its code (`ResourceNotFoundException`, `InvalidParameter`,
/// `NoSuchBucket`) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub code: String,
    pub message: String,
    /// The error type the answer names besides its code, when the two differ: SQS answers in
    /// JSON with its query-era code (`AWS.SimpleQueueService.NonExistentQueue`) in a header
    /// and the modelled shape (`QueueDoesNotExist`) in `__type`. The code goes into causes,
    /// the shape names the error.
    pub type_name: Option<String>,
}

/// A request or response that does not fit the operation's model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The state's parameters do not fit the input shape (unknown key, wrong type).
    #[error("{0}")]
    Parameter(String),
    /// The service answered something the output shape cannot read.
    #[error("the service's response cannot be read: {0}")]
    Response(String),
    /// The model uses a protocol Cairn does not speak yet.
    #[error("the protocol '{0}' is not supported yet")]
    Unsupported(String),
}

/// The request for `operation` (the model's name, `PutItem`) with the state's parameters.
pub fn serialize(
    model: &ServiceModel,
    operation: &str,
    input: &Value,
) -> Result<WireRequest, ProtocolError> {
    match model.protocol() {
        "json" => json::serialize(model, operation, input),
        "query" | "ec2" => query::serialize(model, operation, input),
        "rest-json" | "rest-xml" => rest::serialize(model, operation, input),
        other => Err(ProtocolError::Unsupported(other.to_owned())),
    }
}

/// The result of a successful (2xx) response, as the state sees it.
pub fn deserialize(
    model: &ServiceModel,
    operation: &str,
    response: &WireResponse,
) -> Result<Value, ProtocolError> {
    match model.protocol() {
        "json" => json::deserialize(model, operation, response),
        "query" | "ec2" => query::deserialize(model, operation, response),
        "rest-json" | "rest-xml" => rest::deserialize(model, operation, response),
        other => Err(ProtocolError::Unsupported(other.to_owned())),
    }
}

/// The error a failed (non-2xx) response carries. A body that names no code gives the HTTP
/// status's reason as the code.
pub fn error(model: &ServiceModel, response: &WireResponse) -> WireError {
    match model.protocol() {
        "query" | "ec2" => query::error(model, response),
        "rest-json" | "rest-xml" => rest::error(model, response),
        _ => json::error(model, response),
    }
}

/// The key Step Functions gives a member, in parameters and results.
pub fn output_key(member: &str) -> String {
    pascal_first(member)
}

/// The parameter for a member: keyed by [`output_key`] or by the member's own name.
pub fn member_value<'a>(input: &'a Map<String, Value>, member: &str) -> Option<&'a Value> {
    input.get(&output_key(member)).or_else(|| input.get(member))
}

/// Keys of `input` that are no member of the structure shape: the parameters AWS refuses.
pub fn unknown_keys(input: &Map<String, Value>, shape: &Value) -> Vec<String> {
    let members = shape.get("members").and_then(Value::as_object);
    input
        .keys()
        .filter(|key| {
            !members
                .is_some_and(|members| members.keys().any(|m| m == *key || output_key(m) == **key))
        })
        .cloned()
        .collect()
}

/// A timestamp parameter in epoch milliseconds: ISO-8601 text, or a number of epoch seconds.
pub fn timestamp_input(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => cairn_common::timestamp::parse_millis(text),
        Value::Number(n) => n.as_f64().map(|secs| (secs * 1000.0).round() as i64),
        _ => None,
    }
}

/// A timestamp in a result: ISO-8601 UTC with milliseconds, as the Java SDK behind Step
/// Functions renders an `Instant` in JSON.
pub fn timestamp_output(epoch_ms: i64) -> Value {
    Value::String(cairn_common::civil::rfc3339_millis(epoch_ms))
}

/// The bytes of a blob parameter.
pub fn blob_input(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    }
}

/// The parameters with every idempotency token the caller left out filled in, as the AWS
/// SDKs fill them (Secrets Manager's `ClientRequestToken`, Step Functions' and EC2's
/// `ClientToken`): services may refuse a call without one.
pub fn with_idempotency_tokens(
    model: &ServiceModel,
    operation: &str,
    input: &Value,
    mut token: impl FnMut() -> String,
) -> Value {
    let shape = model
        .operation(operation)
        .and_then(|op| op.get("input"))
        .and_then(|reference| model.resolve(reference));
    let (Some(members), Value::Object(given)) = (
        shape
            .and_then(|s| s.get("members"))
            .and_then(Value::as_object),
        input,
    ) else {
        return input.clone();
    };
    let mut filled = given.clone();
    for (name, member) in members {
        let is_token = member.get("idempotencyToken").and_then(Value::as_bool) == Some(true);
        if is_token && member_value(given, name).is_none() {
            filled.insert(output_key(name), Value::String(token()));
        }
    }
    Value::Object(filled)
}

/// A shape's type (`structure`, `list`, `string`, ...).
pub fn shape_type(shape: &Value) -> &str {
    shape
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("structure")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_are_keyed_by_the_capitalised_member_name() {
        let shape = json!({"members": {"restApiId": {}, "TableName": {}}});
        let input = json!({"RestApiId": "a", "TableName": "t", "Nope": 1});
        let input = input.as_object().unwrap();
        assert_eq!(member_value(input, "restApiId"), Some(&json!("a")));
        assert_eq!(unknown_keys(input, &shape), vec!["Nope".to_string()]);
    }

    #[test]
    fn missing_idempotency_tokens_are_filled_and_given_ones_kept() {
        let models = crate::model::Models::new(None);
        let secrets = models.get("secretsmanager").unwrap();
        let filled =
            with_idempotency_tokens(&secrets, "CreateSecret", &json!({"Name": "n"}), || {
                "t-1".into()
            });
        assert_eq!(filled, json!({"Name": "n", "ClientRequestToken": "t-1"}));
        let given = json!({"Name": "n", "ClientRequestToken": "mine"});
        assert_eq!(
            with_idempotency_tokens(&secrets, "CreateSecret", &given, || "t-2".into()),
            given
        );
        let plain = json!({"SecretId": "s"});
        assert_eq!(
            with_idempotency_tokens(&secrets, "GetSecretValue", &plain, || "t-3".into()),
            plain
        );
    }

    #[test]
    fn timestamps_read_text_or_epoch_seconds() {
        assert_eq!(
            timestamp_input(&json!("1970-01-01T00:00:01.5Z")),
            Some(1500)
        );
        assert_eq!(timestamp_input(&json!(2.25)), Some(2250));
        assert_eq!(timestamp_input(&json!(true)), None);
        assert_eq!(timestamp_output(1500), json!("1970-01-01T00:00:01.500Z"));
    }
}
