//! Placeholder until the query protocol lands.

use serde_json::Value;

use super::{ProtocolError, WireError, WireRequest, WireResponse};
use crate::model::ServiceModel;

pub fn serialize(
    model: &ServiceModel,
    _operation: &str,
    _input: &Value,
) -> Result<WireRequest, ProtocolError> {
    Err(ProtocolError::Unsupported(model.protocol().to_owned()))
}

pub fn deserialize(
    model: &ServiceModel,
    _operation: &str,
    _response: &WireResponse,
) -> Result<Value, ProtocolError> {
    Err(ProtocolError::Unsupported(model.protocol().to_owned()))
}

pub fn error(_model: &ServiceModel, response: &WireResponse) -> WireError {
    WireError {
        code: response.status.to_string(),
        message: String::from_utf8_lossy(&response.body).into_owned(),
    }
}
