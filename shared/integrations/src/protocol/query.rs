//! The `query` protocol (SNS, STS, and the older services: IAM, CloudFormation, ...) and its
//! `ec2` variant: a form-urlencoded POST to `/` naming the operation in `Action`, answered in
//! XML.
//!
//! The wire names follow botocore's serializers and parsers, which are the reference AWS keeps
//! its services compatible with.

use roxmltree::{Document, Node};
use serde_json::{Map, Value};

use super::json::status_reason;
use super::{
    blob_input, member_value, output_key, shape_type, timestamp_input, timestamp_output,
    unknown_keys, ProtocolError, WireError, WireRequest, WireResponse,
};
use crate::model::{pascal_first, ServiceModel};

pub fn serialize(
    model: &ServiceModel,
    operation: &str,
    input: &Value,
) -> Result<WireRequest, ProtocolError> {
    let op = model
        .operation(operation)
        .ok_or_else(|| ProtocolError::Parameter(format!("no operation {operation}")))?;
    let mut writer = Writer {
        model,
        ec2: model.protocol() == "ec2",
        pairs: vec![
            ("Action".to_owned(), operation.to_owned()),
            ("Version".to_owned(), model.api_version().to_owned()),
        ],
    };
    match op.get("input") {
        Some(reference) => writer.write(reference, input, "", "")?,
        // An operation without input still must not swallow parameters silently.
        None => {
            if let Some(keys) = input.as_object().filter(|o| !o.is_empty()) {
                return Err(ProtocolError::Parameter(format!(
                    "the parameters {} are not part of the request",
                    keys.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
    }
    let body = writer
        .pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = WireRequest::new(http::Method::POST, "/");
    request.headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded; charset=utf-8".into(),
    ));
    request.body = body.into_bytes();
    Ok(request)
}

/// A trait of a member: the member reference's own, else its shape's. botocore merges the two
/// the same way, so `flattened` or `locationName` may sit on either.
fn trait_of<'a>(reference: &'a Value, shape: &'a Value, key: &str) -> Option<&'a Value> {
    reference.get(key).or_else(|| shape.get(key))
}

fn trait_text<'a>(reference: &'a Value, shape: &'a Value, key: &str) -> Option<&'a str> {
    trait_of(reference, shape, key).and_then(Value::as_str)
}

fn is_flattened(reference: &Value, shape: &Value) -> bool {
    trait_of(reference, shape, "flattened").and_then(Value::as_bool) == Some(true)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

struct Writer<'m> {
    model: &'m ServiceModel,
    ec2: bool,
    pairs: Vec<(String, String)>,
}

impl Writer<'_> {
    /// The name a member goes by on the wire, `default` unless the model says otherwise.
    fn wire_name(&self, reference: &Value, shape: &Value, default: &str) -> String {
        if self.ec2 {
            if let Some(name) = trait_text(reference, shape, "queryName") {
                return name.to_owned();
            }
            // EC2's locationNames are its XML names (`groupId`); its query names are capitalised.
            if let Some(name) = trait_text(reference, shape, "locationName") {
                return pascal_first(name);
            }
            return default.to_owned();
        }
        trait_text(reference, shape, "locationName")
            .unwrap_or(default)
            .to_owned()
    }

    /// Writes `value` of the shape `reference` points at under `prefix`; `path` names the
    /// parameter in errors, as the state wrote it.
    fn write(
        &mut self,
        reference: &Value,
        value: &Value,
        prefix: &str,
        path: &str,
    ) -> Result<(), ProtocolError> {
        let shape = self.model.resolve(reference).ok_or_else(|| {
            ProtocolError::Parameter(format!(
                "the model has no shape for {}",
                if path.is_empty() { "the request" } else { path }
            ))
        })?;
        let wrong = |expected: &str| {
            ProtocolError::Parameter(format!(
                "the parameter {} must be {expected}, not {value}",
                if path.is_empty() { "input" } else { path }
            ))
        };
        if value.is_null() {
            return Ok(());
        }
        match shape_type(shape) {
            "structure" => {
                let input = value.as_object().ok_or_else(|| wrong("an object"))?;
                let unknown = unknown_keys(input, shape);
                if !unknown.is_empty() {
                    return Err(ProtocolError::Parameter(format!(
                        "the parameters {} are not part of {}",
                        unknown.join(", "),
                        if path.is_empty() { "the request" } else { path }
                    )));
                }
                let Some(members) = shape.get("members").and_then(Value::as_object) else {
                    return Ok(());
                };
                for (name, member) in members {
                    let Some(item) = member_value(input, name) else {
                        continue;
                    };
                    let member_shape = self.model.resolve(member).unwrap_or(&Value::Null);
                    let wire = self.wire_name(member, member_shape, name);
                    self.write(member, item, &join(prefix, &wire), &join(path, name))?;
                }
                Ok(())
            }
            "list" => {
                let items = value.as_array().ok_or_else(|| wrong("an array"))?;
                let member = shape.get("member").ok_or_else(|| {
                    ProtocolError::Parameter(format!("{path}: the model has no member shape"))
                })?;
                let member_shape = self.model.resolve(member).unwrap_or(&Value::Null);
                let list_prefix = if self.ec2 {
                    // EC2 numbers list items right after the list's name, and sends nothing
                    // for an empty list.
                    prefix.to_owned()
                } else {
                    if items.is_empty() {
                        // How the query protocol tells "set this to empty" from "leave it".
                        self.pairs.push((prefix.to_owned(), String::new()));
                        return Ok(());
                    }
                    let member_name = trait_text(member, member_shape, "locationName");
                    if is_flattened(reference, shape) {
                        match member_name {
                            Some(name) => match prefix.rsplit_once('.') {
                                Some((parent, _)) => format!("{parent}.{name}"),
                                None => name.to_owned(),
                            },
                            None => prefix.to_owned(),
                        }
                    } else {
                        join(prefix, member_name.unwrap_or("member"))
                    }
                };
                for (i, item) in items.iter().enumerate() {
                    self.write(
                        member,
                        item,
                        &format!("{list_prefix}.{}", i + 1),
                        &format!("{path}[{i}]"),
                    )?;
                }
                Ok(())
            }
            "map" => {
                let entries = value.as_object().ok_or_else(|| wrong("an object"))?;
                let (Some(key_ref), Some(value_ref)) = (shape.get("key"), shape.get("value"))
                else {
                    return Err(ProtocolError::Parameter(format!(
                        "{path}: the model has no key or value shape"
                    )));
                };
                let resolved = |r: &Value| self.model.resolve(r).unwrap_or(&Value::Null);
                let key_name = self.wire_name(key_ref, resolved(key_ref), "key");
                let value_name = self.wire_name(value_ref, resolved(value_ref), "value");
                let entry_prefix = if is_flattened(reference, shape) {
                    prefix.to_owned()
                } else {
                    join(prefix, "entry")
                };
                for (i, (key, item)) in entries.iter().enumerate() {
                    let at = format!("{entry_prefix}.{}", i + 1);
                    let item_path = format!("{path}.{key}");
                    self.write(
                        key_ref,
                        &Value::String(key.clone()),
                        &join(&at, &key_name),
                        &item_path,
                    )?;
                    self.write(value_ref, item, &join(&at, &value_name), &item_path)?;
                }
                Ok(())
            }
            "timestamp" => {
                let ms = timestamp_input(value).ok_or_else(|| wrong("a timestamp"))?;
                let text = match trait_text(reference, shape, "timestampFormat") {
                    Some("unixTimestamp") if ms % 1000 == 0 => (ms / 1000).to_string(),
                    Some("unixTimestamp") => (ms as f64 / 1000.0).to_string(),
                    Some("rfc822") => cairn_common::civil::http_date(ms),
                    // botocore leaves the fraction out when there is none.
                    _ => {
                        let text = cairn_common::civil::rfc3339_millis(ms);
                        match text.strip_suffix(".000Z") {
                            Some(whole) => format!("{whole}Z"),
                            None => text,
                        }
                    }
                };
                self.pairs.push((prefix.to_owned(), text));
                Ok(())
            }
            "blob" => {
                let text = cairn_common::base64::encode(&blob_input(value));
                self.pairs.push((prefix.to_owned(), text));
                Ok(())
            }
            "boolean" => {
                let flag = value.as_bool().ok_or_else(|| wrong("a boolean"))?;
                self.pairs.push((prefix.to_owned(), flag.to_string()));
                Ok(())
            }
            "integer" | "long" => {
                let number = match value {
                    Value::Number(n) => n.as_i64().or_else(|| whole(n.as_f64())),
                    Value::String(text) => text
                        .trim()
                        .parse::<i64>()
                        .ok()
                        .or_else(|| whole(text.trim().parse::<f64>().ok())),
                    _ => None,
                };
                let number = number.ok_or_else(|| wrong("an integer"))?;
                self.pairs.push((prefix.to_owned(), number.to_string()));
                Ok(())
            }
            "double" | "float" => {
                let number = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(text) => text.trim().parse::<f64>().ok(),
                    _ => None,
                };
                let number = number
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| wrong("a number"))?;
                self.pairs.push((prefix.to_owned(), number.to_string()));
                Ok(())
            }
            // Strings: Step Functions passes other JSON values on as their text.
            _ => {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                self.pairs.push((prefix.to_owned(), text));
                Ok(())
            }
        }
    }
}

/// A float that is a whole number, as an integer.
fn whole(number: Option<f64>) -> Option<i64> {
    number
        .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
        .map(|n| n as i64)
}

/// RFC 3986 encoding, everything but the unreserved characters escaped: what SigV4 and
/// botocore use, so a space is `%20`, never `+`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn deserialize(
    model: &ServiceModel,
    operation: &str,
    response: &WireResponse,
) -> Result<Value, ProtocolError> {
    let op = model
        .operation(operation)
        .ok_or_else(|| ProtocolError::Response(format!("no operation {operation}")))?;
    let Some(output) = op.get("output") else {
        return Ok(Value::Object(Map::new()));
    };
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let text = std::str::from_utf8(&response.body)
        .map_err(|e| ProtocolError::Response(format!("not UTF-8: {e}")))?;
    let document =
        Document::parse(text).map_err(|e| ProtocolError::Response(format!("not XML: {e}")))?;
    let root = document.root_element();
    let start = match output.get("resultWrapper").and_then(Value::as_str) {
        Some(wrapper) => match child_elements(root, wrapper).next() {
            Some(node) => node,
            // Operations whose result has no members may leave the wrapper out.
            None => return Ok(Value::Object(Map::new())),
        },
        None => root,
    };
    Reader { model }.read(output, &[start])
}

fn child_elements<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The text of an element, its CDATA included.
fn node_text(node: Node) -> String {
    node.children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect()
}

struct Reader<'m> {
    model: &'m ServiceModel,
}

impl Reader<'_> {
    /// The value of the shape `reference` points at, from the elements that carry it: one,
    /// or for a flattened list or map, each of its items.
    fn read(&self, reference: &Value, nodes: &[Node]) -> Result<Value, ProtocolError> {
        let shape = self.model.resolve(reference).ok_or_else(|| {
            ProtocolError::Response("the model has no shape for a member".to_owned())
        })?;
        let Some(&node) = nodes.first() else {
            return Ok(Value::Null);
        };
        let flattened = is_flattened(reference, shape);
        let bad = |expected: &str, text: &str| {
            ProtocolError::Response(format!(
                "<{}> should hold {expected}, not '{text}'",
                node.tag_name().name()
            ))
        };
        Ok(match shape_type(shape) {
            "structure" => self.read_structure(shape, node)?,
            "list" => {
                let Some(member) = shape.get("member") else {
                    return Ok(Value::Array(Vec::new()));
                };
                let items: Vec<Node> = if flattened {
                    nodes.to_vec()
                } else {
                    node.children().filter(Node::is_element).collect()
                };
                Value::Array(
                    items
                        .into_iter()
                        .map(|item| self.read(member, &[item]))
                        .collect::<Result<_, _>>()?,
                )
            }
            "map" => {
                let (Some(key_ref), Some(value_ref)) = (shape.get("key"), shape.get("value"))
                else {
                    return Ok(Value::Object(Map::new()));
                };
                let name_of = |r: &Value, default: &'static str| {
                    let resolved = self.model.resolve(r).unwrap_or(&Value::Null);
                    trait_text(r, resolved, "locationName")
                        .unwrap_or(default)
                        .to_owned()
                };
                let key_name = name_of(key_ref, "key");
                let value_name = name_of(value_ref, "value");
                let entries: Vec<Node> = if flattened {
                    nodes.to_vec()
                } else {
                    node.children().filter(Node::is_element).collect()
                };
                let mut out = Map::new();
                for entry in entries {
                    let Some(key) = child_elements(entry, &key_name).next() else {
                        continue;
                    };
                    let item = match child_elements(entry, &value_name).next() {
                        Some(value) => self.read(value_ref, &[value])?,
                        None => Value::Null,
                    };
                    out.insert(node_text(key), item);
                }
                Value::Object(out)
            }
            "boolean" => {
                let text = node_text(node);
                match text.trim() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => return Err(bad("a boolean", &text)),
                }
            }
            "integer" | "long" => {
                let text = node_text(node);
                let number: i64 = text.trim().parse().map_err(|_| bad("an integer", &text))?;
                Value::from(number)
            }
            "double" | "float" => {
                let text = node_text(node);
                let number: f64 = text.trim().parse().map_err(|_| bad("a number", &text))?;
                // JSON has no NaN or Infinity: those stay the text AWS sent.
                serde_json::Number::from_f64(number)
                    .map(Value::Number)
                    .unwrap_or(Value::String(text))
            }
            "timestamp" => {
                let text = node_text(node);
                let trimmed = text.trim();
                cairn_common::timestamp::parse_millis(trimmed)
                    .or_else(|| {
                        trimmed
                            .parse::<f64>()
                            .ok()
                            .filter(|secs| secs.is_finite())
                            .map(|secs| (secs * 1000.0).round() as i64)
                    })
                    .map(timestamp_output)
                    .unwrap_or(Value::String(text))
            }
            // Strings, and blobs, which stay the base64 text they came as.
            _ => Value::String(node_text(node)),
        })
    }

    fn read_structure(&self, shape: &Value, node: Node) -> Result<Value, ProtocolError> {
        let mut out = Map::new();
        let Some(members) = shape.get("members").and_then(Value::as_object) else {
            return Ok(Value::Object(out));
        };
        for (name, member) in members {
            let member_shape = self.model.resolve(member).unwrap_or(&Value::Null);
            let xml_name = xml_name(self.model, member, member_shape, name);
            if trait_of(member, member_shape, "xmlAttribute").and_then(Value::as_bool) == Some(true)
            {
                if let Some(text) = node.attribute(xml_name) {
                    out.insert(output_key(name), Value::String(text.to_owned()));
                }
                continue;
            }
            let found: Vec<Node> = child_elements(node, xml_name).collect();
            if found.is_empty() {
                continue;
            }
            out.insert(output_key(name), self.read(member, &found)?);
        }
        Ok(Value::Object(out))
    }
}

/// The element a structure member is read from. A flattened list repeats its items directly
/// in the structure, under the list member's name when it has one.
fn xml_name<'a>(
    model: &'a ServiceModel,
    member: &'a Value,
    shape: &'a Value,
    name: &'a str,
) -> &'a str {
    if shape_type(shape) == "list" && is_flattened(member, shape) {
        if let Some(item) = shape.get("member") {
            let item_shape = model.resolve(item).unwrap_or(&Value::Null);
            if let Some(item_name) = trait_text(item, item_shape, "locationName") {
                return item_name;
            }
        }
    }
    trait_text(member, shape, "locationName").unwrap_or(name)
}

/// Reads `<ErrorResponse><Error><Code>` (query) and `<Response><Errors><Error><Code>` (ec2)
/// alike: the first `Error` element anywhere holds the code and message.
pub fn error(_model: &ServiceModel, response: &WireResponse) -> WireError {
    let text = std::str::from_utf8(&response.body).ok();
    let document = text.and_then(|t| Document::parse(t).ok());
    let error_node = document.as_ref().and_then(|d| {
        d.descendants()
            .find(|n| n.is_element() && n.tag_name().name() == "Error")
    });
    let field = |name: &str| {
        error_node
            .and_then(|e| child_elements(e, name).next())
            .map(|n| node_text(n).trim().to_owned())
            .filter(|t| !t.is_empty())
    };
    WireError {
        code: field("Code").unwrap_or_else(|| status_reason(response.status)),
        message: field("Message")
            .or_else(|| field("message"))
            .unwrap_or_default(),
        type_name: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Models;
    use serde_json::json;

    /// The body's pairs, decoded, sorted: the order of parameters means nothing to AWS.
    fn pairs(request: &WireRequest) -> Vec<(String, String)> {
        let body = std::str::from_utf8(&request.body).unwrap();
        assert!(
            !body.contains(' ') && !body.contains('+'),
            "unencoded body: {body}"
        );
        let decode = |text: &str| {
            let bytes = text.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        };
        let mut pairs: Vec<(String, String)> = body
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (decode(k), decode(v))
            })
            .collect();
        pairs.sort();
        pairs
    }

    fn expected(items: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut items: Vec<(String, String)> = items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        items.sort();
        items
    }

    fn ok(body: &str) -> WireResponse {
        WireResponse {
            status: 200,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn sns_publish_is_a_form_with_the_attribute_map_under_its_location_names() {
        let models = Models::new(None);
        let sns = models.get("sns").unwrap();
        let input = json!({
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders",
            "Message": "a & b = c?",
            "MessageAttributes": {
                "color": {"DataType": "String", "StringValue": "blue"},
                "raw": {"DataType": "Binary", "BinaryValue": "hi"}
            }
        });
        let request = serialize(&sns, "Publish", &input).unwrap();
        assert_eq!(request.method, http::Method::POST);
        assert_eq!(request.path, "/");
        assert_eq!(
            request.header("Content-Type"),
            Some("application/x-www-form-urlencoded; charset=utf-8")
        );
        let body = std::str::from_utf8(&request.body).unwrap();
        assert!(body.contains("Message=a%20%26%20b%20%3D%20c%3F"), "{body}");
        assert_eq!(
            pairs(&request),
            expected(&[
                ("Action", "Publish"),
                ("Version", "2010-03-31"),
                ("TopicArn", "arn:aws:sns:us-east-1:123456789012:orders"),
                ("Message", "a & b = c?"),
                ("MessageAttributes.entry.1.Name", "color"),
                ("MessageAttributes.entry.1.Value.DataType", "String"),
                ("MessageAttributes.entry.1.Value.StringValue", "blue"),
                ("MessageAttributes.entry.2.Name", "raw"),
                ("MessageAttributes.entry.2.Value.DataType", "Binary"),
                ("MessageAttributes.entry.2.Value.BinaryValue", "aGk="),
            ])
        );
    }

    #[test]
    fn sns_publish_batch_numbers_list_members_from_one_and_marks_empty_lists() {
        let models = Models::new(None);
        let sns = models.get("sns").unwrap();
        let input = json!({
            "TopicArn": "arn:t",
            "PublishBatchRequestEntries": [
                {"Id": "1", "Message": "one"},
                {"Id": "2", "Message": {"n": 2},
                 "MessageAttributes": {"k": {"DataType": "Number", "StringValue": "7"}}}
            ]
        });
        let request = serialize(&sns, "PublishBatch", &input).unwrap();
        assert_eq!(
            pairs(&request),
            expected(&[
                ("Action", "PublishBatch"),
                ("Version", "2010-03-31"),
                ("TopicArn", "arn:t"),
                ("PublishBatchRequestEntries.member.1.Id", "1"),
                ("PublishBatchRequestEntries.member.1.Message", "one"),
                ("PublishBatchRequestEntries.member.2.Id", "2"),
                // A non-string for a string member goes as its JSON text.
                ("PublishBatchRequestEntries.member.2.Message", r#"{"n":2}"#),
                (
                    "PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Name",
                    "k"
                ),
                (
                    "PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Value.DataType",
                    "Number"
                ),
                (
                    "PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Value.StringValue",
                    "7"
                ),
            ])
        );
        let empty = serialize(
            &sns,
            "PublishBatch",
            &json!({"TopicArn": "arn:t", "PublishBatchRequestEntries": []}),
        )
        .unwrap();
        assert_eq!(
            pairs(&empty),
            expected(&[
                ("Action", "PublishBatch"),
                ("Version", "2010-03-31"),
                ("TopicArn", "arn:t"),
                ("PublishBatchRequestEntries", ""),
            ])
        );
    }

    #[test]
    fn sts_get_caller_identity_is_the_action_and_version_alone() {
        let models = Models::new(None);
        let sts = models.get("sts").unwrap();
        let request = serialize(&sts, "GetCallerIdentity", &json!({})).unwrap();
        assert_eq!(
            request.body,
            b"Action=GetCallerIdentity&Version=2011-06-15".to_vec()
        );
        let request = serialize(&sts, "GetCallerIdentity", &Value::Null).unwrap();
        assert_eq!(
            request.body,
            b"Action=GetCallerIdentity&Version=2011-06-15".to_vec()
        );
    }

    #[test]
    fn scalars_take_their_query_forms_and_bad_parameters_are_refused() {
        let models = Models::new(None);
        let sts = models.get("sts").unwrap();
        let input = json!({
            "RoleArn": "arn:r",
            "RoleSessionName": "s",
            "DurationSeconds": "900",
            "Tags": [{"Key": "team", "Value": "core"}],
            "TransitiveTagKeys": ["team"]
        });
        let request = serialize(&sts, "AssumeRole", &input).unwrap();
        assert_eq!(
            pairs(&request),
            expected(&[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", "arn:r"),
                ("RoleSessionName", "s"),
                ("DurationSeconds", "900"),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "core"),
                ("TransitiveTagKeys.member.1", "team"),
            ])
        );
        let sns = models.get("sns").unwrap();
        let request = serialize(
            &sns,
            "Subscribe",
            &json!({"TopicArn": "t", "Protocol": "sqs", "ReturnSubscriptionArn": true}),
        )
        .unwrap();
        assert!(pairs(&request).contains(&("ReturnSubscriptionArn".into(), "true".into())));

        let refused = |service: &ServiceModel, op: &str, input: Value, named: &str| match serialize(
            service, op, &input,
        ) {
            Err(ProtocolError::Parameter(m)) => assert!(m.contains(named), "{m}"),
            other => panic!("{input} was not refused: {other:?}"),
        };
        refused(
            &sns,
            "Publish",
            json!({"Message": "m", "Bogus": 1}),
            "Bogus",
        );
        refused(
            &sns,
            "Publish",
            json!({"Message": "m", "MessageAttributes": {"a": {"DataType": "String", "Nope": 1}}}),
            "Nope",
        );
        refused(
            &sns,
            "Subscribe",
            json!({"TopicArn": "t", "Protocol": "sqs", "ReturnSubscriptionArn": "yes"}),
            "ReturnSubscriptionArn",
        );
        refused(
            &sts,
            "AssumeRole",
            json!({"RoleArn": "r", "RoleSessionName": "s", "DurationSeconds": 1.5}),
            "DurationSeconds",
        );
        refused(
            &sts,
            "AssumeRole",
            json!({"RoleArn": "r", "RoleSessionName": "s", "Tags": {"Key": "k"}}),
            "Tags",
        );
        refused(&sts, "NoSuchOperation", json!({}), "NoSuchOperation");
    }

    /// A model with what the bundled ones lack: flattened lists and maps, renamed list
    /// members, timestamps, doubles.
    fn synthetic(protocol: &str) -> ServiceModel {
        ServiceModel::from_json(
            "synthetic",
            json!({
                "metadata": {"protocol": protocol, "apiVersion": "2020-01-01"},
                "operations": {
                    "Put": {"input": {"shape": "PutInput"},
                            "output": {"shape": "PutOutput", "resultWrapper": "PutResult"}},
                    "Describe": {"input": {"shape": "DescribeInput"},
                                 "output": {"shape": "DescribeOutput"}}
                },
                "shapes": {
                    "PutInput": {"type": "structure", "members": {
                        "Values": {"shape": "FlatList"},
                        "Names": {"shape": "NamedList"},
                        "Items": {"shape": "FlatNamedList"},
                        "Attrs": {"shape": "FlatMap"},
                        "When": {"shape": "Time"},
                        "Epoch": {"shape": "Time", "timestampFormat": "unixTimestamp"},
                        "Ratio": {"shape": "Double"},
                        "Renamed": {"shape": "String", "locationName": "Other"}
                    }},
                    "PutOutput": {"type": "structure", "members": {
                        "Values": {"shape": "FlatList"},
                        "Items": {"shape": "FlatNamedList"},
                        "Attrs": {"shape": "FlatMap"},
                        "Ratio": {"shape": "Double"},
                        "When": {"shape": "Time"},
                        "Renamed": {"shape": "String", "locationName": "Other"}
                    }},
                    "DescribeInput": {"type": "structure", "members": {
                        "GroupIds": {"shape": "IdList", "locationName": "groupId"},
                        "Filters": {"shape": "FilterList", "locationName": "Filter"},
                        "DryRun": {"shape": "Boolean", "locationName": "dryRun"},
                        "MaxResults": {"shape": "Integer", "queryName": "MaxItems"}
                    }},
                    "DescribeOutput": {"type": "structure", "members": {
                        "Groups": {"shape": "GroupList", "locationName": "groupSet"},
                        "NextToken": {"shape": "String", "locationName": "nextToken"}
                    }},
                    "FlatList": {"type": "list", "member": {"shape": "String"}, "flattened": true},
                    "NamedList": {"type": "list", "member": {"shape": "String", "locationName": "Name"}},
                    "FlatNamedList": {"type": "list", "flattened": true,
                                      "member": {"shape": "String", "locationName": "Item"}},
                    "FlatMap": {"type": "map", "flattened": true,
                                "key": {"shape": "String", "locationName": "K"},
                                "value": {"shape": "String"}},
                    "IdList": {"type": "list", "member": {"shape": "String", "locationName": "item"}},
                    "FilterList": {"type": "list", "member": {"shape": "Filter", "locationName": "Filter"}},
                    "Filter": {"type": "structure", "members": {
                        "Name": {"shape": "String"},
                        "Values": {"shape": "IdList", "locationName": "Value"}
                    }},
                    "GroupList": {"type": "list", "member": {"shape": "Group", "locationName": "item"}},
                    "Group": {"type": "structure", "members": {
                        "GroupId": {"shape": "String", "locationName": "groupId"},
                        "Size": {"shape": "Integer", "locationName": "size"}
                    }},
                    "String": {"type": "string"},
                    "Boolean": {"type": "boolean"},
                    "Integer": {"type": "integer"},
                    "Double": {"type": "double"},
                    "Time": {"type": "timestamp"}
                }
            }),
        )
    }

    #[test]
    fn flattened_and_renamed_lists_and_maps_follow_the_model() {
        let model = synthetic("query");
        let input = json!({
            "Values": ["a", "b"],
            "Names": ["n"],
            "Items": ["i"],
            "Attrs": {"x": "1"},
            "When": "2024-02-07T13:50:28Z",
            "Epoch": "2024-02-07T13:50:28.5Z",
            "Ratio": 0.25,
            "Renamed": "r"
        });
        let request = serialize(&model, "Put", &input).unwrap();
        assert_eq!(
            pairs(&request),
            expected(&[
                ("Action", "Put"),
                ("Version", "2020-01-01"),
                ("Values.1", "a"),
                ("Values.2", "b"),
                ("Names.Name.1", "n"),
                ("Item.1", "i"),
                ("Attrs.1.K", "x"),
                ("Attrs.1.value", "1"),
                ("When", "2024-02-07T13:50:28Z"),
                ("Epoch", "1707313828.5"),
                ("Ratio", "0.25"),
                ("Other", "r"),
            ])
        );
    }

    #[test]
    fn ec2_names_members_by_query_name_or_capitalised_location_and_never_says_member() {
        let model = synthetic("ec2");
        let input = json!({
            "GroupIds": ["sg-1", "sg-2"],
            "Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}],
            "DryRun": false,
            "MaxResults": 5
        });
        let request = serialize(&model, "Describe", &input).unwrap();
        assert_eq!(
            pairs(&request),
            expected(&[
                ("Action", "Describe"),
                ("Version", "2020-01-01"),
                ("GroupId.1", "sg-1"),
                ("GroupId.2", "sg-2"),
                ("Filter.1.Name", "vpc-id"),
                ("Filter.1.Value.1", "vpc-1"),
                ("DryRun", "false"),
                ("MaxItems", "5"),
            ])
        );
        let empty = serialize(&model, "Describe", &json!({"GroupIds": []})).unwrap();
        assert_eq!(empty.body, b"Action=Describe&Version=2020-01-01".to_vec());
    }

    #[test]
    fn an_sns_publish_response_gives_the_wrapped_members_only() {
        let models = Models::new(None);
        let sns = models.get("sns").unwrap();
        let body = r#"<?xml version="1.0"?>
<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult>
    <MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId>
  </PublishResult>
  <ResponseMetadata>
    <RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId>
  </ResponseMetadata>
</PublishResponse>"#;
        assert_eq!(
            deserialize(&sns, "Publish", &ok(body)).unwrap(),
            json!({"MessageId": "567910cd-659e-55d4-8ccb-5aaf14679dc0"})
        );
    }

    #[test]
    fn an_sts_caller_identity_response_reads_its_three_members() {
        let models = Models::new(None);
        let sts = models.get("sts").unwrap();
        let body = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::123456789012:user/Alice</Arn>
    <UserId>AKIAI44QH8DHBEXAMPLE</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>"#;
        assert_eq!(
            deserialize(&sts, "GetCallerIdentity", &ok(body)).unwrap(),
            json!({
                "Arn": "arn:aws:iam::123456789012:user/Alice",
                "UserId": "AKIAI44QH8DHBEXAMPLE",
                "Account": "123456789012"
            })
        );
    }

    #[test]
    fn lists_maps_numbers_booleans_and_timestamps_are_read_by_shape() {
        let models = Models::new(None);
        let sns = models.get("sns").unwrap();
        let topics = r#"<ListTopicsResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <ListTopicsResult>
    <Topics>
      <member><TopicArn>arn:aws:sns:us-east-1:123456789012:a</TopicArn></member>
      <member><TopicArn>arn:aws:sns:us-east-1:123456789012:b</TopicArn></member>
    </Topics>
    <NextToken>tok</NextToken>
  </ListTopicsResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</ListTopicsResponse>"#;
        assert_eq!(
            deserialize(&sns, "ListTopics", &ok(topics)).unwrap(),
            json!({
                "Topics": [
                    {"TopicArn": "arn:aws:sns:us-east-1:123456789012:a"},
                    {"TopicArn": "arn:aws:sns:us-east-1:123456789012:b"}
                ],
                "NextToken": "tok"
            })
        );
        let empty = r#"<ListTopicsResponse><ListTopicsResult><Topics/></ListTopicsResult></ListTopicsResponse>"#;
        assert_eq!(
            deserialize(&sns, "ListTopics", &ok(empty)).unwrap(),
            json!({"Topics": []})
        );
        let attributes = r#"<GetTopicAttributesResponse>
  <GetTopicAttributesResult><Attributes>
    <entry><key>Owner</key><value>123456789012</value></entry>
    <entry><key>DisplayName</key><value></value></entry>
  </Attributes></GetTopicAttributesResult>
</GetTopicAttributesResponse>"#;
        assert_eq!(
            deserialize(&sns, "GetTopicAttributes", &ok(attributes)).unwrap(),
            json!({"Attributes": {"Owner": "123456789012", "DisplayName": ""}})
        );
        let batch = r#"<PublishBatchResponse><PublishBatchResult>
  <Successful><member><Id>1</Id><MessageId>m1</MessageId></member></Successful>
  <Failed><member><Id>2</Id><Code>InvalidParameter</Code><SenderFault>true</SenderFault></member></Failed>
</PublishBatchResult></PublishBatchResponse>"#;
        assert_eq!(
            deserialize(&sns, "PublishBatch", &ok(batch)).unwrap(),
            json!({
                "Successful": [{"Id": "1", "MessageId": "m1"}],
                "Failed": [{"Id": "2", "Code": "InvalidParameter", "SenderFault": true}]
            })
        );
        let sts = models.get("sts").unwrap();
        let assumed = r#"<AssumeRoleResponse><AssumeRoleResult>
  <Credentials>
    <AccessKeyId>ASIA</AccessKeyId><SecretAccessKey>s</SecretAccessKey>
    <SessionToken>t</SessionToken><Expiration>2024-02-07T13:50:28Z</Expiration>
  </Credentials>
  <PackedPolicySize>6</PackedPolicySize>
</AssumeRoleResult></AssumeRoleResponse>"#;
        assert_eq!(
            deserialize(&sts, "AssumeRole", &ok(assumed)).unwrap(),
            json!({
                "Credentials": {
                    "AccessKeyId": "ASIA", "SecretAccessKey": "s", "SessionToken": "t",
                    "Expiration": "2024-02-07T13:50:28.000Z"
                },
                "PackedPolicySize": 6
            })
        );
        let bad = r#"<AssumeRoleResponse><AssumeRoleResult><PackedPolicySize>six</PackedPolicySize></AssumeRoleResult></AssumeRoleResponse>"#;
        assert!(matches!(
            deserialize(&sts, "AssumeRole", &ok(bad)),
            Err(ProtocolError::Response(m)) if m.contains("six")
        ));
        assert!(matches!(
            deserialize(&sts, "AssumeRole", &ok("<AssumeRoleResponse>")),
            Err(ProtocolError::Response(_))
        ));
        assert_eq!(deserialize(&sts, "AssumeRole", &ok("")).unwrap(), json!({}));
    }

    #[test]
    fn flattened_results_and_unwrapped_ec2_results_are_read() {
        let model = synthetic("query");
        let body = r#"<PutResponse><PutResult>
  <Values>a</Values><Values>b</Values>
  <Item>i</Item>
  <Attrs><K>x</K><value>1</value></Attrs>
  <Attrs><K>y</K><value>2</value></Attrs>
  <Ratio>0.5</Ratio>
  <When>2024-02-07T13:50:28.123+00:00</When>
  <Other>r</Other>
</PutResult></PutResponse>"#;
        assert_eq!(
            deserialize(&model, "Put", &ok(body)).unwrap(),
            json!({
                "Values": ["a", "b"],
                "Items": ["i"],
                "Attrs": {"x": "1", "y": "2"},
                "Ratio": 0.5,
                "When": "2024-02-07T13:50:28.123Z",
                "Renamed": "r"
            })
        );
        let model = synthetic("ec2");
        let body = r#"<DescribeResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <groupSet>
    <item><groupId>sg-1</groupId><size>3</size></item>
    <item><groupId>sg-2</groupId></item>
  </groupSet>
</DescribeResponse>"#;
        assert_eq!(
            deserialize(&model, "Describe", &ok(body)).unwrap(),
            json!({"Groups": [{"GroupId": "sg-1", "Size": 3}, {"GroupId": "sg-2"}]})
        );
    }

    #[test]
    fn errors_read_the_code_and_message_or_fall_back_to_the_status() {
        let models = Models::new(None);
        let sns = models.get("sns").unwrap();
        let failed = |status: u16, body: &str| WireResponse {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        let query = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error>
    <Type>Sender</Type>
    <Code>InvalidParameter</Code>
    <Message>Invalid parameter: TopicArn</Message>
  </Error>
  <RequestId>f2b5f1a4-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>"#;
        assert_eq!(
            error(&sns, &failed(400, query)),
            WireError {
                code: "InvalidParameter".into(),
                message: "Invalid parameter: TopicArn".into(),
                type_name: None,
            }
        );
        let ec2 = r#"<Response><Errors><Error><Code>InvalidGroup.NotFound</Code><Message>The security group 'sg-1' does not exist</Message></Error></Errors><RequestID>r</RequestID></Response>"#;
        assert_eq!(
            error(&synthetic("ec2"), &failed(400, ec2)),
            WireError {
                code: "InvalidGroup.NotFound".into(),
                message: "The security group 'sg-1' does not exist".into(),
                type_name: None,
            }
        );
        assert_eq!(
            error(&sns, &failed(503, "")),
            WireError {
                code: "ServiceUnavailable".into(),
                message: String::new(),
                type_name: None,
            }
        );
        assert_eq!(error(&sns, &failed(403, "<html>nope")).code, "Forbidden");
    }
}
