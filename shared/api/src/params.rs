//! Reading request members with the errors AWS's request validation gives.

use serde_json::Value;

use crate::ApiError;

pub struct Params<'a> {
    body: &'a Value,
}

fn validation(message: String) -> ApiError {
    ApiError::new("ValidationException", message)
}

impl<'a> Params<'a> {
    pub fn new(body: &'a Value) -> Result<Params<'a>, ApiError> {
        if body.is_object() {
            Ok(Params { body })
        } else {
            Err(ApiError::new(
                "SerializationException",
                "The request body must be a JSON object",
            ))
        }
    }

    pub fn get(&self, member: &str) -> Option<&'a Value> {
        self.body.get(member).filter(|v| !v.is_null())
    }

    /// A required string member.
    pub fn string(&self, member: &str) -> Result<&'a str, ApiError> {
        match self.get(member) {
            None => Err(validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ))),
            Some(value) => value.as_str().ok_or_else(|| {
                ApiError::new("SerializationException", format!("'{member}' must be a string"))
            }),
        }
    }

    pub fn opt_string(&self, member: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(value) => value.as_str().map(Some).ok_or_else(|| {
                ApiError::new(
                    "SerializationException",
                    format!("'{member}' must be a string"),
                )
            }),
        }
    }

    pub fn opt_bool(&self, member: &str) -> Result<Option<bool>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(value) => value.as_bool().map(Some).ok_or_else(|| {
                ApiError::new(
                    "SerializationException",
                    format!("'{member}' must be a boolean"),
                )
            }),
        }
    }

    /// `maxResults`: 0 (or absent) means the default; AWS caps it at 1000.
    pub fn max_results(&self, default: usize) -> Result<usize, ApiError> {
        let Some(value) = self.get("maxResults") else {
            return Ok(default);
        };
        let Some(n) = value.as_i64() else {
            return Err(ApiError::new(
                "SerializationException",
                "'maxResults' must be an integer",
            ));
        };
        if n > 1000 {
            return Err(validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
            )));
        }
        if n < 0 {
            return Err(validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0"
            )));
        }
        Ok(if n == 0 {
            default
        } else {
            usize::try_from(n).unwrap_or(default)
        })
    }

    /// `nextToken`, with AWS's length limit for the action.
    pub fn next_token(&self, max_len: usize) -> Result<Option<&'a str>, ApiError> {
        let Some(token) = self.opt_string("nextToken")? else {
            return Ok(None);
        };
        if token.chars().count() > max_len {
            return Err(validation(format!(
                "1 validation error detected: Value '{token}' at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to {max_len}"
            )));
        }
        if token.is_empty() {
            return Err(validation(
                "1 validation error detected: Value '' at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
            ));
        }
        Ok(Some(token))
    }
}

pub fn invalid_token(token: &str) -> ApiError {
    ApiError::new("InvalidToken", format!("Invalid Token: '{token}'"))
}

/// Epoch milliseconds as the JSON protocol's epoch-seconds number.
pub fn timestamp(ms: i64) -> Value {
    Value::from(ms as f64 / 1000.0)
}
