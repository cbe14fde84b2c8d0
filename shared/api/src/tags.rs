//! Tags on the taggable resources, state machines and activities (AWS's TagResource takes
//! no version or alias ARN: those are `ResourceNotFound`), with AWS's limits: at most 50
//! tags per resource, keys of 1 to 128 characters, values of at most 256, and the `aws:`
//! prefix reserved.

use cairn_store::StateMachineRecord;
use serde_json::{json, Map, Value};

use crate::driver::{store_error, Driver};
use crate::names::{invalid_arn, parse_arn};
use crate::params::Params;
use crate::ApiError;

pub(crate) const MAX_TAGS: usize = 50;
const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 256;

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationException", message)
}

fn too_many(arn: &str) -> ApiError {
    ApiError::new(
        "TooManyTags",
        format!("Too many tags: a resource can have at most {MAX_TAGS} tags: '{arn}'"),
    )
    .with_resource_name(arn)
}

/// A request's `tags` list, checked member by member as AWS's request validation does
/// (positions counted from 1).
pub(crate) fn parse(p: &Params<'_>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(tags) = p.get("tags") else {
        return Ok(Vec::new());
    };
    let list = tags
        .as_array()
        .ok_or_else(|| ApiError::new("SerializationException", "'tags' must be a list"))?;
    let mut out = Vec::with_capacity(list.len());
    for (index, tag) in list.iter().enumerate() {
        let position = index + 1;
        let key = match tag.get("key") {
            Some(Value::String(key)) => key.clone(),
            _ => {
                return Err(validation(format!(
                    "1 validation error detected: Value null at 'tags.{position}.member.key' failed to satisfy constraint: Member must not be null"
                )))
            }
        };
        let value = match tag.get("value") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(value)) => value.clone(),
            Some(_) => {
                return Err(ApiError::new(
                    "SerializationException",
                    format!("'tags.{position}.member.value' must be a string"),
                ))
            }
        };
        check_key(&key, &format!("tags.{position}.member.key"))?;
        if value.chars().count() > MAX_VALUE {
            return Err(validation(format!(
                "1 validation error detected: Value '{value}' at 'tags.{position}.member.value' failed to satisfy constraint: Member must have length less than or equal to {MAX_VALUE}"
            )));
        }
        out.push((key, value));
    }
    Ok(out)
}

fn check_key(key: &str, at: &str) -> Result<(), ApiError> {
    let count = key.chars().count();
    if count == 0 {
        return Err(validation(format!(
            "1 validation error detected: Value '' at '{at}' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )));
    }
    if count > MAX_KEY {
        return Err(validation(format!(
            "1 validation error detected: Value '{key}' at '{at}' failed to satisfy constraint: Member must have length less than or equal to {MAX_KEY}"
        )));
    }
    if key
        .get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:"))
    {
        return Err(validation(format!(
            "Tag keys starting with 'aws:' are reserved for AWS use: '{key}'"
        )));
    }
    Ok(())
}

/// Tags as the document keeps them and ListTagsForResource answers them, merged in order
/// (a later value of a key replaces the earlier one). Fails with TooManyTags past the limit.
pub(crate) fn merged(
    current: Vec<Value>,
    new: Vec<(String, String)>,
    arn: &str,
) -> Result<Vec<Value>, ApiError> {
    let mut merged: Map<String, Value> = Map::new();
    let current = current.into_iter().filter_map(|tag| {
        let key = tag.get("key")?.as_str()?.to_string();
        let value = tag.get("value").and_then(Value::as_str).unwrap_or("");
        Some((key, value.to_string()))
    });
    for (key, value) in current.chain(new) {
        merged.insert(key, Value::from(value));
    }
    if merged.len() > MAX_TAGS {
        return Err(too_many(arn));
    }
    Ok(merged
        .into_iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect())
}

/// The tagging actions; `None` for any other action.
pub(crate) fn dispatch(
    driver: &Driver,
    action: &str,
    p: &Params<'_>,
) -> Option<Result<Value, ApiError>> {
    Some(match action {
        "TagResource" => tag_resource(driver, p),
        "UntagResource" => untag_resource(driver, p),
        "ListTagsForResource" => list_tags(driver, p),
        _ => return None,
    })
}

/// A taggable resource's record: state machines and activities.
fn tagged(driver: &Driver, arn: &str) -> Result<(StateMachineRecord, Option<u64>), ApiError> {
    let not_found = || {
        ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'"))
            .with_resource_name(arn)
    };
    match parse_arn(arn) {
        Some(parsed) if parsed.kind == "stateMachine" => driver
            .store
            .get_state_machine(arn)
            .map_err(store_error)?
            .map(|(r, v)| (r, Some(v)))
            .ok_or_else(not_found),
        Some(parsed) if parsed.kind == "activity" => driver
            .store
            .get_activity(arn)
            .map_err(store_error)?
            .map(|r| (r, None))
            .ok_or_else(not_found),
        _ => Err(invalid_arn(arn)),
    }
}

fn current_tags(record: &StateMachineRecord) -> Vec<Value> {
    record
        .document
        .get("tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Reads the resource, changes its tags and writes it back; a state machine's write is
/// conditional on the version read, retried when another writer got there first.
fn change_tags(
    driver: &Driver,
    arn: &str,
    change: impl Fn(Vec<Value>) -> Result<Vec<Value>, ApiError>,
) -> Result<(), ApiError> {
    for _ in 0..16 {
        let (mut record, version) = tagged(driver, arn)?;
        record.document["tags"] = Value::Array(change(current_tags(&record))?);
        match version {
            Some(version) => match driver.store.update_state_machine(&record, version) {
                Ok(_) => return Ok(()),
                Err(cairn_store::Error::Conflict(_)) => continue,
                Err(other) => return Err(store_error(other)),
            },
            None => {
                // Activities have no update: replace the record (same ARN and creation date).
                driver.store.delete_activity(arn).map_err(store_error)?;
                return driver.store.create_activity(&record).map_err(store_error);
            }
        }
    }
    Err(ApiError::new(
        "ConflictException",
        format!("'{arn}' is being changed concurrently; retry the request"),
    ))
}

fn tag_resource(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("resourceArn")?;
    let new_tags = parse(p)?;
    change_tags(driver, arn, |current| {
        merged(current, new_tags.clone(), arn)
    })?;
    Ok(json!({}))
}

fn untag_resource(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let arn = p.string("resourceArn")?;
    let keys: Vec<String> = match p.get("tagKeys") {
        None => Vec::new(),
        Some(value) => {
            let list = value.as_array().ok_or_else(|| {
                ApiError::new("SerializationException", "'tagKeys' must be a list")
            })?;
            let mut keys = Vec::with_capacity(list.len());
            for (index, key) in list.iter().enumerate() {
                let key = key.as_str().ok_or_else(|| {
                    ApiError::new("SerializationException", "'tagKeys' must hold strings")
                })?;
                let count = key.chars().count();
                if count == 0 || count > MAX_KEY {
                    let bound = if count == 0 {
                        "greater than or equal to 1".to_string()
                    } else {
                        format!("less than or equal to {MAX_KEY}")
                    };
                    return Err(validation(format!(
                        "1 validation error detected: Value '{key}' at 'tagKeys.{}.member' failed to satisfy constraint: Member must have length {bound}",
                        index + 1
                    )));
                }
                keys.push(key.to_string());
            }
            keys
        }
    };
    change_tags(driver, arn, |current| {
        Ok(current
            .into_iter()
            .filter(|tag| {
                !tag.get("key")
                    .and_then(Value::as_str)
                    .is_some_and(|k| keys.iter().any(|key| key == k))
            })
            .collect())
    })?;
    Ok(json!({}))
}

fn list_tags(driver: &Driver, p: &Params<'_>) -> Result<Value, ApiError> {
    let (record, _) = tagged(driver, p.string("resourceArn")?)?;
    Ok(json!({"tags": current_tags(&record)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("k{i}"), format!("v{i}"))).collect()
    }

    #[test]
    fn fifty_tags_fit_and_fifty_one_do_not() {
        assert_eq!(merged(Vec::new(), tags(50), "arn").map(|t| t.len()), Ok(50));
        assert_eq!(
            merged(Vec::new(), tags(51), "arn").map_err(|e| e.error_type),
            Err("TooManyTags".to_string())
        );
        // Replacing a key's value does not count twice.
        let current = merged(Vec::new(), tags(50), "arn").unwrap_or_default();
        let replaced = merged(current, vec![("k0".into(), "new".into())], "arn");
        assert_eq!(replaced.as_ref().map(Vec::len), Ok(50));
        assert_eq!(replaced.unwrap_or_default()[0]["value"], "new");
    }

    #[test]
    fn keys_follow_aws_limits() {
        assert!(check_key("team", "k").is_ok());
        assert!(check_key(&"k".repeat(128), "k").is_ok());
        assert!(check_key(&"k".repeat(129), "k").is_err());
        assert!(check_key("", "k").is_err());
        assert!(check_key("aws:owner", "k").is_err());
        assert!(check_key("AWS:owner", "k").is_err());
        assert!(check_key("awsome", "k").is_ok());
    }
}
