//! The `json` protocol (awsJson 1.0 and 1.1: DynamoDB, SQS, EventBridge, Step Functions,
//! Secrets Manager, SSM): a POST to `/` naming the operation in `X-Amz-Target`, the input
//! shape as a JSON body, the output shape as the JSON answer.

use serde_json::{Map, Value};

use super::{
    blob_input, member_value, output_key, shape_type, timestamp_input, timestamp_output,
    unknown_keys, ProtocolError, WireError, WireRequest, WireResponse,
};
use crate::model::ServiceModel;

pub fn serialize(
    model: &ServiceModel,
    operation: &str,
    input: &Value,
) -> Result<WireRequest, ProtocolError> {
    let op = model
        .operation(operation)
        .ok_or_else(|| ProtocolError::Parameter(format!("no operation {operation}")))?;
    let body = match op.get("input").and_then(|r| model.resolve(r)) {
        Some(shape) => write_value(model, shape, input, "")?,
        None => Value::Object(Map::new()),
    };
    let version = model
        .metadata()
        .get("jsonVersion")
        .and_then(Value::as_str)
        .unwrap_or("1.0");
    let target = model
        .metadata()
        .get("targetPrefix")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut request = WireRequest::new(http::Method::POST, "/");
    request.headers.push((
        "Content-Type".into(),
        format!("application/x-amz-json-{version}"),
    ));
    request
        .headers
        .push(("X-Amz-Target".into(), format!("{target}.{operation}")));
    request.body = body.to_string().into_bytes();
    Ok(request)
}

/// The wire JSON for `value` of `shape`; `path` names the parameter in errors.
pub(crate) fn write_value(
    model: &ServiceModel,
    shape: &Value,
    value: &Value,
    path: &str,
) -> Result<Value, ProtocolError> {
    let wrong = |expected: &str| {
        ProtocolError::Parameter(format!(
            "the parameter {} must be {expected}, not {value}",
            if path.is_empty() { "input" } else { path }
        ))
    };
    if value.is_null() {
        return Ok(Value::Null);
    }
    match shape_type(shape) {
        "structure" => {
            let input = value.as_object().ok_or_else(|| wrong("an object"))?;
            if shape.get("document").and_then(Value::as_bool) == Some(true) {
                return Ok(value.clone());
            }
            let unknown = unknown_keys(input, shape);
            if !unknown.is_empty() {
                return Err(ProtocolError::Parameter(format!(
                    "the parameters {} are not part of {}",
                    unknown.join(", "),
                    if path.is_empty() { "the request" } else { path }
                )));
            }
            let mut out = Map::new();
            if let Some(members) = shape.get("members").and_then(Value::as_object) {
                for (name, member) in members {
                    // A null parameter is absent, as the SDKs send it.
                    let Some(item) = member_value(input, name).filter(|v| !v.is_null()) else {
                        continue;
                    };
                    let member_shape = model.resolve(member).ok_or_else(|| {
                        ProtocolError::Parameter(format!("the model has no shape for {name}"))
                    })?;
                    let wire_name = member
                        .get("jsonName")
                        .and_then(Value::as_str)
                        .unwrap_or(name);
                    let child = format!("{path}{}{name}", if path.is_empty() { "" } else { "." });
                    out.insert(
                        wire_name.to_owned(),
                        write_value(model, member_shape, item, &child)?,
                    );
                }
            }
            Ok(Value::Object(out))
        }
        "list" => {
            let items = value.as_array().ok_or_else(|| wrong("an array"))?;
            let member = shape
                .get("member")
                .and_then(|m| model.resolve(m))
                .ok_or_else(|| ProtocolError::Parameter(format!("{path}: no member shape")))?;
            items
                .iter()
                .enumerate()
                .map(|(i, item)| write_value(model, member, item, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        "map" => {
            let entries = value.as_object().ok_or_else(|| wrong("an object"))?;
            let shape_of = |key: &str| shape.get(key).and_then(|r| model.resolve(r));
            let value_shape = shape_of("value")
                .ok_or_else(|| ProtocolError::Parameter(format!("{path}: no value shape")))?;
            let mut out = Map::new();
            for (key, item) in entries {
                out.insert(
                    key.clone(),
                    write_value(model, value_shape, item, &format!("{path}.{key}"))?,
                );
            }
            Ok(Value::Object(out))
        }
        "timestamp" => {
            let ms = timestamp_input(value).ok_or_else(|| wrong("a timestamp"))?;
            let format = shape.get("timestampFormat").and_then(Value::as_str);
            Ok(match format {
                Some("iso8601") => timestamp_output(ms),
                _ => serde_json::Number::from_f64(ms as f64 / 1000.0)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            })
        }
        "blob" => Ok(Value::String(cairn_common::base64::encode(&blob_input(
            value,
        )))),
        "boolean" => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(wrong("a boolean")),
        },
        "integer" | "long" | "double" | "float" => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(text) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| wrong("a number")),
            _ => Err(wrong("a number")),
        },
        // Strings: Step Functions passes other JSON values on as their text.
        _ => match value {
            Value::String(_) => Ok(value.clone()),
            other => Ok(Value::String(other.to_string())),
        },
    }
}

pub fn deserialize(
    model: &ServiceModel,
    operation: &str,
    response: &WireResponse,
) -> Result<Value, ProtocolError> {
    let op = model
        .operation(operation)
        .ok_or_else(|| ProtocolError::Response(format!("no operation {operation}")))?;
    let body: Value = if response.body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(&response.body)
            .map_err(|e| ProtocolError::Response(format!("not JSON: {e}")))?
    };
    Ok(match op.get("output").and_then(|r| model.resolve(r)) {
        Some(shape) => read_value(model, shape, &body),
        None => Value::Object(Map::new()),
    })
}

/// A wire JSON value of `shape` as the state sees it.
pub(crate) fn read_value(model: &ServiceModel, shape: &Value, value: &Value) -> Value {
    match (shape_type(shape), value) {
        ("structure", Value::Object(fields)) => {
            if shape.get("document").and_then(Value::as_bool) == Some(true) {
                return value.clone();
            }
            let mut out = Map::new();
            if let Some(members) = shape.get("members").and_then(Value::as_object) {
                for (name, member) in members {
                    let wire_name = member
                        .get("jsonName")
                        .and_then(Value::as_str)
                        .unwrap_or(name);
                    // A member sent as null is absent, as the SDKs read it.
                    let (Some(item), Some(member_shape)) = (
                        fields.get(wire_name).filter(|v| !v.is_null()),
                        model.resolve(member),
                    ) else {
                        continue;
                    };
                    out.insert(output_key(name), read_value(model, member_shape, item));
                }
            }
            Value::Object(out)
        }
        ("list", Value::Array(items)) => match shape.get("member").and_then(|m| model.resolve(m)) {
            Some(member) => Value::Array(
                items
                    .iter()
                    .map(|item| read_value(model, member, item))
                    .collect(),
            ),
            None => value.clone(),
        },
        ("map", Value::Object(entries)) => {
            match shape.get("value").and_then(|m| model.resolve(m)) {
                Some(value_shape) => Value::Object(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), read_value(model, value_shape, v)))
                        .collect(),
                ),
                None => value.clone(),
            }
        }
        ("timestamp", Value::Number(n)) => n
            .as_f64()
            .map(|secs| timestamp_output((secs * 1000.0).round() as i64))
            .unwrap_or(Value::Null),
        ("timestamp", Value::String(text)) => cairn_common::timestamp::parse_millis(text)
            .map(timestamp_output)
            .unwrap_or_else(|| value.clone()),
        _ => value.clone(),
    }
}

pub fn error(_model: &ServiceModel, response: &WireResponse) -> WireError {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    // SQS answers in JSON but keeps its query-era codes in this header
    // (`AWS.SimpleQueueService.NonExistentQueue;Sender`).
    let query_code = response
        .header("x-amzn-query-error")
        .and_then(|h| h.split(';').next())
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let type_name = response
        .header("x-amzn-ErrorType")
        .map(str::to_owned)
        .or_else(|| text("__type"))
        .or_else(|| text("code"))
        .map(|raw| short_code(&raw));
    let code = query_code
        .or_else(|| type_name.clone())
        .unwrap_or_else(|| status_reason(response.status));
    let message = text("message")
        .or_else(|| text("Message"))
        .or_else(|| text("errorMessage"))
        .unwrap_or_default();
    let type_name = type_name.filter(|name| *name != code);
    WireError {
        code,
        message,
        type_name,
    }
}

/// `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException` → `ResourceNotFoundException`;
/// `ValidationException:http://...` → `ValidationException`.
pub(crate) fn short_code(raw: &str) -> String {
    let after_hash = raw.rsplit('#').next().unwrap_or(raw);
    after_hash
        .split(':')
        .next()
        .unwrap_or(after_hash)
        .to_owned()
}

pub(crate) fn status_reason(status: u16) -> String {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| r.replace(' ', ""))
        .unwrap_or_else(|| status.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Models;
    use serde_json::json;

    #[test]
    fn a_dynamodb_put_is_its_input_shape_as_json_with_the_target_header() {
        let models = Models::new(None);
        let dynamodb = models.get("dynamodb").unwrap();
        let input = json!({"TableName": "t", "Item": {"id": {"S": "1"}, "n": {"N": "2"}}});
        let request = serialize(&dynamodb, "PutItem", &input).unwrap();
        assert_eq!(
            request.header("X-Amz-Target"),
            Some("DynamoDB_20120810.PutItem")
        );
        assert_eq!(
            request.header("Content-Type"),
            Some("application/x-amz-json-1.0")
        );
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body, input);
    }

    #[test]
    fn unknown_parameters_and_wrong_types_are_refused() {
        let models = Models::new(None);
        let dynamodb = models.get("dynamodb").unwrap();
        let err = serialize(&dynamodb, "GetItem", &json!({"TableName": "t", "Bogus": 1}));
        assert!(matches!(err, Err(ProtocolError::Parameter(m)) if m.contains("Bogus")));
        let err = serialize(&dynamodb, "GetItem", &json!({"TableName": "t", "Key": [1]}));
        assert!(matches!(err, Err(ProtocolError::Parameter(m)) if m.contains("Key")));
    }

    #[test]
    fn timestamps_and_blobs_take_their_wire_forms() {
        let models = Models::new(None);
        let sfn = models.get("sfn").unwrap();
        let response = WireResponse {
            status: 200,
            headers: vec![],
            body: br#"{"executionArn":"arn:x","startDate":1.5}"#.to_vec(),
        };
        assert_eq!(
            deserialize(&sfn, "StartExecution", &response).unwrap(),
            json!({"ExecutionArn": "arn:x", "StartDate": "1970-01-01T00:00:01.500Z"})
        );
        let described = WireResponse {
            status: 200,
            headers: vec![],
            body: br#"{"executionArn":"a","status":"RUNNING","startDate":0,"stopDate":null}"#
                .to_vec(),
        };
        let described = deserialize(&sfn, "DescribeExecution", &described).unwrap();
        assert!(described.get("StopDate").is_none(), "{described}");
        assert_eq!(described["Status"], "RUNNING");
        let secrets = models.get("secretsmanager").unwrap();
        let request = serialize(
            &secrets,
            "CreateSecret",
            &json!({"Name": "n", "SecretBinary": "hi"}),
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["SecretBinary"], "aGk=");
    }

    #[test]
    fn errors_read_the_type_the_query_header_or_the_status() {
        let models = Models::new(None);
        let dynamodb = models.get("dynamodb").unwrap();
        let answer = |headers: Vec<(String, String)>, body: &str| WireResponse {
            status: 400,
            headers,
            body: body.as_bytes().to_vec(),
        };
        let e = error(
            &dynamodb,
            &answer(
                vec![],
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
            ),
        );
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(e.message, "Requested resource not found");
        let e = error(
            &dynamodb,
            &answer(
                vec![(
                    "x-amzn-query-error".into(),
                    "AWS.SimpleQueueService.NonExistentQueue;Sender".into(),
                )],
                r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"}"#,
            ),
        );
        assert_eq!(e.code, "AWS.SimpleQueueService.NonExistentQueue");
        assert_eq!(e.type_name.as_deref(), Some("QueueDoesNotExist"));
        assert_eq!(error(&dynamodb, &answer(vec![], "")).code, "BadRequest");
    }
}
