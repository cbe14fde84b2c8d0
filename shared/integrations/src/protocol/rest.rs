//! The REST protocols: `rest-json` (Lambda) and `rest-xml` (S3). The operation's `http` trait
//! gives the method and a URI template; each input member says where it travels (`uri`,
//! `querystring`, `header`, `headers`, or the body), and the output members where they are
//! found again (`statusCode`, `header`, `headers`, the body). A `payload` member stands for the
//! whole body: raw bytes when it is a blob or string (S3's object, Lambda's event), a JSON or
//! XML document when it is a structure.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};

use super::json::{read_value, short_code, status_reason, write_value};
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
    let http_trait = op.get("http");
    let method_name = http_trait
        .and_then(|h| h.get("method"))
        .and_then(Value::as_str)
        .unwrap_or("POST");
    let method = http::Method::from_bytes(method_name.as_bytes()).map_err(|_| {
        ProtocolError::Parameter(format!(
            "the model gives {operation} the method {method_name}"
        ))
    })?;
    let uri = http_trait
        .and_then(|h| h.get("requestUri"))
        .and_then(Value::as_str)
        .unwrap_or("/");
    let (path_template, static_query) = uri.split_once('?').unwrap_or((uri, ""));

    let no_parameters = Map::new();
    let input = match input {
        Value::Object(fields) => fields,
        Value::Null => &no_parameters,
        other => {
            return Err(ProtocolError::Parameter(format!(
                "the parameters must be an object, not {other}"
            )))
        }
    };

    let mut request = WireRequest::new(method, String::new());
    // Some operations are told apart only by a query key in the template (`?uploads`).
    for pair in static_query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        request.query.push((key.to_owned(), value.to_owned()));
    }

    let Some(shape) = op.get("input").and_then(|r| model.resolve(r)) else {
        if let Some(key) = input.keys().next() {
            return Err(ProtocolError::Parameter(format!(
                "the parameter {key} is not part of the request"
            )));
        }
        request.path = expand_uri(path_template, &HashMap::new())?;
        return Ok(request);
    };
    let unknown = unknown_keys(input, shape);
    if !unknown.is_empty() {
        return Err(ProtocolError::Parameter(format!(
            "the parameters {} are not part of the request",
            unknown.join(", ")
        )));
    }

    let payload = shape.get("payload").and_then(Value::as_str);
    let mut labels: HashMap<&str, String> = HashMap::new();
    let mut host_labels: HashMap<&str, String> = HashMap::new();
    let mut body_members = Map::new();
    let mut body_input = Map::new();
    for (name, member) in members(shape) {
        let member_shape = model.resolve(member).ok_or_else(|| {
            ProtocolError::Parameter(format!("the model has no shape for {name}"))
        })?;
        let location = member.get("location").and_then(Value::as_str);
        let wire = member
            .get("locationName")
            .and_then(Value::as_str)
            .unwrap_or(name);
        let value = member_value(input, name).filter(|v| !v.is_null());
        if location.is_none() && Some(name) != payload {
            body_members.insert(name.to_owned(), member.clone());
            if let Some(value) = value {
                body_input.insert(name.to_owned(), value.clone());
            }
        }
        let Some(value) = value else {
            continue;
        };
        if member.get("hostLabel").and_then(Value::as_bool) == Some(true) {
            host_labels.insert(name, scalar_text(member_shape, value, name, "iso8601")?);
        }
        match location {
            Some("uri") => {
                labels.insert(wire, scalar_text(member_shape, value, name, "iso8601")?);
            }
            Some("querystring") => {
                query_params(model, member_shape, value, wire, name, &mut request.query)?
            }
            Some("header") => {
                let text = header_text(model, member_shape, value, name)?;
                request.headers.push((wire.to_owned(), text));
            }
            Some("headers") => {
                let entries = value.as_object().ok_or_else(|| {
                    ProtocolError::Parameter(format!("the parameter {name} must be an object"))
                })?;
                let value_shape = shape_ref(model, member_shape, "value");
                for (key, item) in entries {
                    let text = match value_shape {
                        Some(s) => header_text(model, s, item, &format!("{name}.{key}"))?,
                        None => plain_text(item),
                    };
                    request.headers.push((format!("{wire}{key}"), text));
                }
            }
            _ => {}
        }
    }
    request.path = expand_uri(path_template, &labels)?;
    if let Some(prefix) = op
        .get("endpoint")
        .and_then(|e| e.get("hostPrefix"))
        .and_then(Value::as_str)
    {
        request.host_prefix = Some(expand_host_prefix(prefix, &host_labels)?);
    }

    let xml = model.protocol() == "rest-xml";
    if let Some(payload) = payload {
        write_payload(model, shape, payload, input, xml, &mut request)?;
    } else if !body_members.is_empty() {
        let mut body_shape = shape.clone();
        if let Some(fields) = body_shape.as_object_mut() {
            fields.insert("members".into(), Value::Object(body_members));
        }
        let body_input = Value::Object(body_input);
        if xml {
            // Only when something is said: an empty element would be a statement of its own.
            if body_input.as_object().is_some_and(|b| !b.is_empty()) {
                let root = shape_name(op.get("input")).unwrap_or("Request");
                let mut text = String::new();
                write_xml(model, &body_shape, None, &body_input, root, root, &mut text)?;
                set_body(&mut request, text.into_bytes(), "application/xml");
            }
        } else {
            let body = write_value(model, &body_shape, &body_input, "")?;
            set_body(
                &mut request,
                body.to_string().into_bytes(),
                "application/json",
            );
        }
    }
    add_required_checksum(op, input, &mut request);
    Ok(request)
}

/// The structure's members, in the model's order.
fn members(shape: &Value) -> impl Iterator<Item = (&str, &Value)> {
    shape
        .get("members")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, member)| (name.as_str(), member))
}

fn shape_ref<'a>(model: &'a ServiceModel, shape: &Value, key: &str) -> Option<&'a Value> {
    shape.get(key).and_then(|r| model.resolve(r))
}

fn shape_name(reference: Option<&Value>) -> Option<&str> {
    reference?.get("shape")?.as_str()
}

fn set_body(request: &mut WireRequest, body: Vec<u8>, content_type: &str) {
    request.body = body;
    if request.header("Content-Type").is_none() {
        request
            .headers
            .push(("Content-Type".into(), content_type.into()));
    }
}

fn write_payload(
    model: &ServiceModel,
    shape: &Value,
    payload: &str,
    input: &Map<String, Value>,
    xml: bool,
    request: &mut WireRequest,
) -> Result<(), ProtocolError> {
    let Some(member) = shape.get("members").and_then(|m| m.get(payload)) else {
        return Ok(());
    };
    let member_shape = model
        .resolve(member)
        .ok_or_else(|| ProtocolError::Parameter(format!("the model has no shape for {payload}")))?;
    let value = member_value(input, payload).filter(|v| !v.is_null());
    match shape_type(member_shape) {
        // Raw bytes; the caller's ContentType header, if any, says what they are.
        "blob" | "string" => {
            if let Some(value) = value {
                request.body = blob_input(value);
            }
        }
        _ if xml => {
            if let Some(value) = value {
                let root = member
                    .get("locationName")
                    .and_then(Value::as_str)
                    .or_else(|| shape_name(Some(member)))
                    .unwrap_or(payload);
                let mut text = String::new();
                write_xml(
                    model,
                    member_shape,
                    Some(member),
                    value,
                    root,
                    payload,
                    &mut text,
                )?;
                set_body(request, text.into_bytes(), "application/xml");
            }
        }
        _ => {
            let body = match value {
                Some(value) => write_value(model, member_shape, value, payload)?,
                None => Value::Object(Map::new()),
            };
            set_body(request, body.to_string().into_bytes(), "application/json");
        }
    }
    Ok(())
}

/// S3 refuses some operations (DeleteObjects, PutBucketPolicy) without an integrity check of
/// the body, and one whose algorithm the caller names without its value; the SDKs add a CRC32.
fn add_required_checksum(op: &Value, input: &Map<String, Value>, request: &mut WireRequest) {
    let Some(checksum) = op.get("httpChecksum") else {
        return;
    };
    let required = checksum
        .get("requestChecksumRequired")
        .and_then(Value::as_bool)
        == Some(true);
    let named = checksum
        .get("requestAlgorithmMember")
        .and_then(Value::as_str)
        .and_then(|m| member_value(input, m))
        .and_then(Value::as_str);
    let wanted = match named {
        Some(algorithm) => algorithm.eq_ignore_ascii_case("CRC32"),
        None => required,
    };
    let has_one = request.headers.iter().any(|(name, _)| {
        let name = name.to_ascii_lowercase();
        name == "content-md5" || name.starts_with("x-amz-checksum-")
    });
    if !wanted || has_one {
        return;
    }
    let mut crc = flate2::Crc::new();
    crc.update(&request.body);
    let value = cairn_common::base64::encode(&crc.sum().to_be_bytes());
    request.headers.push(("x-amz-checksum-crc32".into(), value));
    if named.is_none() {
        request
            .headers
            .push(("x-amz-sdk-checksum-algorithm".into(), "CRC32".into()));
    }
}

/// The path of a URI template (`/{Bucket}/{Key+}`) with its labels filled in: percent-encoded
/// per RFC 3986, a greedy label keeping its `/`.
fn expand_uri(template: &str, labels: &HashMap<&str, String>) -> Result<String, ProtocolError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let label = &after[..end];
        let (name, greedy) = match label.strip_suffix('+') {
            Some(name) => (name, true),
            None => (label, false),
        };
        let value = labels
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ProtocolError::Parameter(format!("the parameter {name} is required")))?;
        out.push_str(&percent_encode(value, greedy));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn percent_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn expand_host_prefix(
    template: &str,
    labels: &HashMap<&str, String>,
) -> Result<String, ProtocolError> {
    let mut out = template.to_owned();
    while let Some(start) = out.find('{') {
        let Some(len) = out[start..].find('}') else {
            break;
        };
        let name = out[start + 1..start + len].to_owned();
        let value = labels
            .get(name.as_str())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ProtocolError::Parameter(format!("the parameter {name} is required")))?;
        out.replace_range(start..start + len + 1, value);
    }
    Ok(out)
}

fn query_params(
    model: &ServiceModel,
    shape: &Value,
    value: &Value,
    key: &str,
    path: &str,
    query: &mut Vec<(String, String)>,
) -> Result<(), ProtocolError> {
    match shape_type(shape) {
        "list" => {
            let items = value.as_array().ok_or_else(|| {
                ProtocolError::Parameter(format!("the parameter {path} must be an array"))
            })?;
            let member = shape_ref(model, shape, "member");
            for (i, item) in items.iter().enumerate() {
                let text = match member {
                    Some(m) => scalar_text(m, item, &format!("{path}[{i}]"), "iso8601")?,
                    None => plain_text(item),
                };
                query.push((key.to_owned(), text));
            }
        }
        // A map of query parameters names its keys itself.
        "map" => {
            let entries = value.as_object().ok_or_else(|| {
                ProtocolError::Parameter(format!("the parameter {path} must be an object"))
            })?;
            let value_shape = shape_ref(model, shape, "value");
            for (name, item) in entries {
                match value_shape {
                    Some(s) => {
                        query_params(model, s, item, name, &format!("{path}.{name}"), query)?
                    }
                    None => query.push((name.clone(), plain_text(item))),
                }
            }
        }
        _ => query.push((key.to_owned(), scalar_text(shape, value, path, "iso8601")?)),
    }
    Ok(())
}

/// A header's text: timestamps as RFC 7231 dates unless the model says otherwise, lists
/// comma-joined, JSON values as base64 of their text.
fn header_text(
    model: &ServiceModel,
    shape: &Value,
    value: &Value,
    path: &str,
) -> Result<String, ProtocolError> {
    match shape_type(shape) {
        "list" => {
            let items = value.as_array().ok_or_else(|| {
                ProtocolError::Parameter(format!("the parameter {path} must be an array"))
            })?;
            let member = shape_ref(model, shape, "member");
            let texts = items
                .iter()
                .enumerate()
                .map(|(i, item)| match member {
                    Some(m) => scalar_text(m, item, &format!("{path}[{i}]"), "rfc822"),
                    None => Ok(plain_text(item)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(texts.join(","))
        }
        "string" if shape.get("jsonvalue").and_then(Value::as_bool) == Some(true) => {
            Ok(cairn_common::base64::encode(value.to_string().as_bytes()))
        }
        _ => scalar_text(shape, value, path, "rfc822"),
    }
}

fn plain_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A scalar parameter as text, for a label, query parameter or header; `timestamp_format` is
/// the location's default when the shape names none.
fn scalar_text(
    shape: &Value,
    value: &Value,
    path: &str,
    timestamp_format: &str,
) -> Result<String, ProtocolError> {
    let wrong = |expected: &str| {
        ProtocolError::Parameter(format!(
            "the parameter {path} must be {expected}, not {value}"
        ))
    };
    match shape_type(shape) {
        "boolean" => match value {
            Value::Bool(b) => Ok(b.to_string()),
            Value::String(text) if text == "true" || text == "false" => Ok(text.clone()),
            _ => Err(wrong("a boolean")),
        },
        "integer" | "long" => match value {
            Value::Number(n) => integer_text(n).ok_or_else(|| wrong("an integer")),
            Value::String(text) if text.trim().parse::<i64>().is_ok() => Ok(text.trim().to_owned()),
            _ => Err(wrong("an integer")),
        },
        "float" | "double" => match value {
            Value::Number(n) => Ok(n.to_string()),
            Value::String(text) if text.trim().parse::<f64>().is_ok() => Ok(text.trim().to_owned()),
            _ => Err(wrong("a number")),
        },
        "timestamp" => {
            let ms = timestamp_input(value).ok_or_else(|| wrong("a timestamp"))?;
            let format = shape
                .get("timestampFormat")
                .and_then(Value::as_str)
                .unwrap_or(timestamp_format);
            Ok(timestamp_text(ms, format))
        }
        "blob" => Ok(cairn_common::base64::encode(&blob_input(value))),
        "string" => Ok(plain_text(value)),
        _ => Err(wrong("a single value")),
    }
}

fn integer_text(n: &Number) -> Option<String> {
    if let Some(i) = n.as_i64() {
        return Some(i.to_string());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.to_string());
    }
    // Intrinsic functions can give 3.0 for 3.
    n.as_f64()
        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
        .map(|f| (f as i64).to_string())
}

fn timestamp_text(ms: i64, format: &str) -> String {
    match format {
        "rfc822" => cairn_common::civil::http_date(ms),
        "unixTimestamp" => {
            if ms % 1000 == 0 {
                (ms / 1000).to_string()
            } else {
                format!("{}", ms as f64 / 1000.0)
            }
        }
        _ => cairn_common::civil::rfc3339_millis(ms),
    }
}

fn xml_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            other => out.push(other),
        }
    }
}

/// The `xmlns` attribute a structure declares (`xmlns="..."`, `xmlns:xsi="..."`).
fn namespace_attribute(reference: Option<&Value>, shape: &Value, out: &mut String) {
    let namespace = reference
        .and_then(|r| r.get("xmlNamespace"))
        .or_else(|| shape.get("xmlNamespace"));
    let Some(uri) = namespace.and_then(|n| n.get("uri")).and_then(Value::as_str) else {
        return;
    };
    out.push_str(" xmlns");
    if let Some(prefix) = namespace
        .and_then(|n| n.get("prefix"))
        .and_then(Value::as_str)
    {
        out.push(':');
        out.push_str(prefix);
    }
    out.push_str("=\"");
    xml_escape(uri, out);
    out.push('"');
}

/// `value` of `shape` as the XML element `name`; `reference` is the member that holds it.
fn write_xml(
    model: &ServiceModel,
    shape: &Value,
    reference: Option<&Value>,
    value: &Value,
    name: &str,
    path: &str,
    out: &mut String,
) -> Result<(), ProtocolError> {
    let wrong = |expected: &str| {
        ProtocolError::Parameter(format!(
            "the parameter {path} must be {expected}, not {value}"
        ))
    };
    match shape_type(shape) {
        "structure" => {
            let fields = value.as_object().ok_or_else(|| wrong("an object"))?;
            let unknown = unknown_keys(fields, shape);
            if !unknown.is_empty() {
                return Err(ProtocolError::Parameter(format!(
                    "the parameters {} are not part of {path}",
                    unknown.join(", ")
                )));
            }
            out.push('<');
            out.push_str(name);
            namespace_attribute(reference, shape, out);
            let mut children = String::new();
            for (member_name, member) in members(shape) {
                let Some(item) = member_value(fields, member_name).filter(|v| !v.is_null()) else {
                    continue;
                };
                let member_shape = model.resolve(member).ok_or_else(|| {
                    ProtocolError::Parameter(format!("the model has no shape for {member_name}"))
                })?;
                let wire = member
                    .get("locationName")
                    .and_then(Value::as_str)
                    .unwrap_or(member_name);
                let child_path = format!("{path}.{member_name}");
                if member.get("xmlAttribute").and_then(Value::as_bool) == Some(true) {
                    out.push(' ');
                    out.push_str(wire);
                    out.push_str("=\"");
                    xml_escape(
                        &scalar_text(member_shape, item, &child_path, "iso8601")?,
                        out,
                    );
                    out.push('"');
                } else {
                    write_xml(
                        model,
                        member_shape,
                        Some(member),
                        item,
                        wire,
                        &child_path,
                        &mut children,
                    )?;
                }
            }
            out.push('>');
            out.push_str(&children);
        }
        "list" => {
            let items = value.as_array().ok_or_else(|| wrong("an array"))?;
            let member = shape.get("member");
            let member_shape = member.and_then(|m| model.resolve(m)).ok_or_else(|| {
                ProtocolError::Parameter(format!("{path}: the model has no member shape"))
            })?;
            let flattened = shape.get("flattened").and_then(Value::as_bool) == Some(true)
                || reference
                    .and_then(|r| r.get("flattened"))
                    .and_then(Value::as_bool)
                    == Some(true);
            let item_name = if flattened {
                name
            } else {
                member
                    .and_then(|m| m.get("locationName"))
                    .and_then(Value::as_str)
                    .unwrap_or("member")
            };
            if !flattened {
                out.push('<');
                out.push_str(name);
                out.push('>');
            }
            for (i, item) in items.iter().enumerate() {
                write_xml(
                    model,
                    member_shape,
                    member,
                    item,
                    item_name,
                    &format!("{path}[{i}]"),
                    out,
                )?;
            }
            if !flattened {
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
            return Ok(());
        }
        "map" => {
            let entries = value.as_object().ok_or_else(|| wrong("an object"))?;
            let entry_name = |key: &str, default: &'static str| {
                shape
                    .get(key)
                    .and_then(|r| r.get("locationName"))
                    .and_then(Value::as_str)
                    .unwrap_or(default)
                    .to_owned()
            };
            let (key_name, value_name) = (entry_name("key", "key"), entry_name("value", "value"));
            let value_ref = shape.get("value");
            let value_shape = value_ref.and_then(|r| model.resolve(r)).ok_or_else(|| {
                ProtocolError::Parameter(format!("{path}: the model has no value shape"))
            })?;
            out.push('<');
            out.push_str(name);
            out.push('>');
            for (key, item) in entries {
                out.push_str("<entry><");
                out.push_str(&key_name);
                out.push('>');
                xml_escape(key, out);
                out.push_str("</");
                out.push_str(&key_name);
                out.push('>');
                write_xml(
                    model,
                    value_shape,
                    value_ref,
                    item,
                    &value_name,
                    &format!("{path}.{key}"),
                    out,
                )?;
                out.push_str("</entry>");
            }
        }
        _ => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            xml_escape(&scalar_text(shape, value, path, "iso8601")?, out);
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
    Ok(())
}

pub fn deserialize(
    model: &ServiceModel,
    operation: &str,
    response: &WireResponse,
) -> Result<Value, ProtocolError> {
    let op = model
        .operation(operation)
        .ok_or_else(|| ProtocolError::Response(format!("no operation {operation}")))?;
    let Some(shape) = op.get("output").and_then(|r| model.resolve(r)) else {
        return Ok(Value::Object(Map::new()));
    };
    let xml = model.protocol() == "rest-xml";
    let payload = shape.get("payload").and_then(Value::as_str);
    let mut out = Map::new();
    let mut body_members = Map::new();
    for (name, member) in members(shape) {
        let Some(member_shape) = model.resolve(member) else {
            continue;
        };
        let wire = member
            .get("locationName")
            .and_then(Value::as_str)
            .unwrap_or(name);
        match member.get("location").and_then(Value::as_str) {
            Some("statusCode") => {
                out.insert(output_key(name), Value::from(response.status));
            }
            Some("header") => {
                if let Some(text) = response.header(wire) {
                    out.insert(output_key(name), header_value(model, member_shape, text));
                }
            }
            Some("headers") => {
                let value_shape = shape_ref(model, member_shape, "value");
                let mut entries = Map::new();
                for (header, text) in &response.headers {
                    let Some(key) = strip_prefix_ignore_case(header, wire) else {
                        continue;
                    };
                    let item = match value_shape {
                        Some(s) => header_value(model, s, text),
                        None => Value::String(text.clone()),
                    };
                    entries.insert(key.to_owned(), item);
                }
                out.insert(output_key(name), Value::Object(entries));
            }
            Some(_) => {}
            None if Some(name) == payload => {
                if let Some(value) = read_payload(model, member_shape, response, xml)? {
                    out.insert(output_key(name), value);
                }
            }
            None => {
                body_members.insert(name.to_owned(), member.clone());
            }
        }
    }
    if payload.is_none() && !body_members.is_empty() && !is_blank(&response.body) {
        let mut body_shape = shape.clone();
        if let Some(fields) = body_shape.as_object_mut() {
            fields.insert("members".into(), Value::Object(body_members));
        }
        let body = if xml {
            let text = body_text(&response.body)?;
            let document = parse_xml(&text)?;
            read_xml(model, &body_shape, document.root_element())
        } else {
            read_value(model, &body_shape, &parse_json(&response.body)?)
        };
        if let Value::Object(fields) = body {
            out.extend(fields);
        }
    }
    Ok(Value::Object(out))
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

fn parse_json(body: &[u8]) -> Result<Value, ProtocolError> {
    serde_json::from_slice(body).map_err(|e| ProtocolError::Response(format!("not JSON: {e}")))
}

fn body_text(body: &[u8]) -> Result<String, ProtocolError> {
    String::from_utf8(body.to_vec())
        .map_err(|_| ProtocolError::Response("the XML is not UTF-8".into()))
}

fn parse_xml(text: &str) -> Result<roxmltree::Document<'_>, ProtocolError> {
    roxmltree::Document::parse(text).map_err(|e| ProtocolError::Response(format!("not XML: {e}")))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

fn read_payload(
    model: &ServiceModel,
    shape: &Value,
    response: &WireResponse,
    xml: bool,
) -> Result<Option<Value>, ProtocolError> {
    match shape_type(shape) {
        "blob" | "string" => Ok(Some(Value::String(
            String::from_utf8_lossy(&response.body).into_owned(),
        ))),
        _ if is_blank(&response.body) => Ok(None),
        _ if xml => {
            let text = body_text(&response.body)?;
            let document = parse_xml(&text)?;
            Ok(Some(read_xml(model, shape, document.root_element())))
        }
        _ => Ok(Some(read_value(model, shape, &parse_json(&response.body)?))),
    }
}

/// A header's text as the member's type.
fn header_value(model: &ServiceModel, shape: &Value, text: &str) -> Value {
    match shape_type(shape) {
        "list" => {
            let member = shape_ref(model, shape, "member");
            Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| match member {
                        Some(m) => header_value(model, m, item),
                        None => Value::String(item.to_owned()),
                    })
                    .collect(),
            )
        }
        "string" if shape.get("jsonvalue").and_then(Value::as_bool) == Some(true) => {
            let bytes = cairn_common::base64::decode_lenient(
                text,
                cairn_common::base64::Lenient {
                    url_safe: false,
                    padding_ends_data: true,
                },
            );
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
        _ => scalar_value(shape, text.trim()),
    }
}

/// A scalar read from text (a header, an XML element): numbers, booleans and timestamps take
/// their JSON forms; text that does not fit its type is given as it came.
fn scalar_value(shape: &Value, text: &str) -> Value {
    let as_text = || Value::String(text.to_owned());
    match shape_type(shape) {
        "boolean" => match text.trim() {
            t if t.eq_ignore_ascii_case("true") => Value::Bool(true),
            t if t.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => as_text(),
        },
        "integer" | "long" => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| as_text()),
        "float" | "double" => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(as_text),
        "timestamp" => parse_timestamp(text.trim())
            .map(timestamp_output)
            .unwrap_or_else(as_text),
        _ => as_text(),
    }
}

/// Epoch milliseconds of an ISO-8601 time, an RFC 7231 date, or a number of epoch seconds.
fn parse_timestamp(text: &str) -> Option<i64> {
    if let Some(ms) = cairn_common::timestamp::parse_millis(text) {
        return Some(ms);
    }
    if let Some(ms) = parse_http_date(text) {
        return Some(ms);
    }
    let secs = text.parse::<f64>().ok().filter(|s| s.is_finite())?;
    Some((secs * 1000.0).round() as i64)
}

/// `Wed, 25 Nov 2026 09:30:00 GMT` (RFC 7231's IMF-fixdate).
fn parse_http_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = text.split_whitespace();
    let _weekday = parts.next()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month_name))?;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':');
    let mut field = |max: i64| -> Option<i64> {
        clock
            .next()?
            .parse::<i64>()
            .ok()
            .filter(|v| (0..=max).contains(v))
    };
    let (hour, minute, second) = (field(23)?, field(59)?, field(60)?);
    if !matches!(parts.next(), Some("GMT") | Some("UTC")) || !(1..=31).contains(&day) {
        return None;
    }
    let month = u32::try_from(month + 1).ok()?;
    let days = cairn_common::civil::days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

fn is_true(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool) == Some(true)
}

/// An XML element of `shape` as the state sees it.
fn read_xml(model: &ServiceModel, shape: &Value, node: roxmltree::Node<'_, '_>) -> Value {
    match shape_type(shape) {
        "structure" => {
            let mut out = Map::new();
            for (name, member) in members(shape) {
                if member.get("location").is_some() {
                    continue;
                }
                let Some(member_shape) = model.resolve(member) else {
                    continue;
                };
                let wire = member
                    .get("locationName")
                    .and_then(Value::as_str)
                    .unwrap_or(name);
                if is_true(member.get("xmlAttribute")) {
                    // `xsi:type` is the attribute `type` in its namespace.
                    let local = wire.rsplit(':').next().unwrap_or(wire);
                    if let Some(attribute) = node.attributes().find(|a| a.name() == local) {
                        out.insert(
                            output_key(name),
                            scalar_value(member_shape, attribute.value()),
                        );
                    }
                    continue;
                }
                let flattened =
                    is_true(member_shape.get("flattened")) || is_true(member.get("flattened"));
                let kind = shape_type(member_shape);
                if flattened && (kind == "list" || kind == "map") {
                    let key = if kind == "list" {
                        member_shape
                            .get("member")
                            .and_then(|m| m.get("locationName"))
                            .and_then(Value::as_str)
                            .unwrap_or(wire)
                    } else {
                        wire
                    };
                    let nodes: Vec<_> = children_named(node, key).collect();
                    if nodes.is_empty() {
                        continue;
                    }
                    let value = if kind == "list" {
                        match shape_ref(model, member_shape, "member") {
                            Some(item_shape) => Value::Array(
                                nodes
                                    .into_iter()
                                    .map(|n| read_xml(model, item_shape, n))
                                    .collect(),
                            ),
                            None => continue,
                        }
                    } else {
                        read_map_entries(model, member_shape, nodes.into_iter())
                    };
                    out.insert(output_key(name), value);
                } else if let Some(child) = children_named(node, wire).next() {
                    out.insert(output_key(name), read_xml(model, member_shape, child));
                }
            }
            Value::Object(out)
        }
        "list" => {
            let member = shape.get("member");
            let Some(item_shape) = member.and_then(|m| model.resolve(m)) else {
                return Value::Array(Vec::new());
            };
            let item_name = member
                .and_then(|m| m.get("locationName"))
                .and_then(Value::as_str)
                .unwrap_or("member");
            Value::Array(
                children_named(node, item_name)
                    .map(|n| read_xml(model, item_shape, n))
                    .collect(),
            )
        }
        "map" => read_map_entries(model, shape, children_named(node, "entry")),
        _ => scalar_value(shape, &element_text(node)),
    }
}

fn read_map_entries<'a, 'input: 'a>(
    model: &ServiceModel,
    shape: &Value,
    entries: impl Iterator<Item = roxmltree::Node<'a, 'input>>,
) -> Value {
    let name_of = |key: &str, default: &'static str| {
        shape
            .get(key)
            .and_then(|r| r.get("locationName"))
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    let (key_name, value_name) = (name_of("key", "key"), name_of("value", "value"));
    let value_shape = shape_ref(model, shape, "value");
    let mut out = Map::new();
    for entry in entries {
        let Some(key) = children_named(entry, &key_name).next() else {
            continue;
        };
        let value = match (children_named(entry, &value_name).next(), value_shape) {
            (Some(node), Some(s)) => read_xml(model, s, node),
            (Some(node), None) => Value::String(element_text(node)),
            (None, _) => Value::Null,
        };
        out.insert(element_text(key), value);
    }
    Value::Object(out)
}

fn children_named<'a, 'input: 'a>(
    node: roxmltree::Node<'a, 'input>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

fn element_text(node: roxmltree::Node<'_, '_>) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

pub fn error(model: &ServiceModel, response: &WireResponse) -> WireError {
    if model.protocol() == "rest-xml" {
        xml_error(response)
    } else {
        json_error(response)
    }
}

fn json_error(response: &WireResponse) -> WireError {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let code = response
        .header("x-amzn-ErrorType")
        .map(str::to_owned)
        .or_else(|| text("__type"))
        .or_else(|| text("code"))
        .or_else(|| text("Code"))
        .map(|raw| short_code(&raw))
        .filter(|code| !code.is_empty())
        .unwrap_or_else(|| status_reason(response.status));
    let message = text("message")
        .or_else(|| text("Message"))
        .or_else(|| text("errorMessage"))
        .unwrap_or_default();
    WireError {
        code,
        message,
        type_name: None,
    }
}

/// S3 answers `<Error><Code>..</Code><Message>..</Message></Error>`; other rest-xml services
/// wrap it in `<ErrorResponse>`. HEAD requests get no body at all.
fn xml_error(response: &WireResponse) -> WireError {
    let text = String::from_utf8_lossy(&response.body);
    let (code, message) = match roxmltree::Document::parse(&text) {
        Ok(document) => {
            let root = document.root_element();
            let error = if root.tag_name().name() == "Error" {
                Some(root)
            } else {
                root.descendants()
                    .find(|n| n.is_element() && n.tag_name().name() == "Error")
            };
            let field = |name: &str| {
                error
                    .and_then(|e| children_named(e, name).next())
                    .map(element_text)
                    .filter(|t| !t.is_empty())
            };
            (field("Code"), field("Message"))
        }
        Err(_) => (None, None),
    };
    WireError {
        code: code.unwrap_or_else(|| status_reason(response.status)),
        message: message.unwrap_or_default(),
        type_name: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Models;
    use serde_json::json;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> WireResponse {
        WireResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn s3_put_object_sends_the_body_raw_under_an_encoded_key() {
        let models = Models::new(None);
        let s3 = models.get("s3").unwrap();
        let request = serialize(
            &s3,
            "PutObject",
            &json!({
                "Bucket": "my-bucket",
                "Key": "reports/2026 q1.txt",
                "Body": "hello world",
                "ContentType": "text/plain",
                "Metadata": {"owner": "ops"},
            }),
        )
        .unwrap();
        assert_eq!(request.method, http::Method::PUT);
        assert_eq!(request.path, "/my-bucket/reports/2026%20q1.txt");
        assert!(request.query.is_empty());
        assert_eq!(request.body, b"hello world");
        assert_eq!(request.header("Content-Type"), Some("text/plain"));
        assert_eq!(request.header("x-amz-meta-owner"), Some("ops"));

        let request = serialize(
            &s3,
            "PutObject",
            &json!({"Bucket": "b", "Key": "k~1", "Body": {"a": [1, true]}}),
        )
        .unwrap();
        assert_eq!(request.path, "/b/k~1");
        assert_eq!(request.body, br#"{"a":[1,true]}"#);
        assert_eq!(request.header("Content-Type"), None);

        let missing = serialize(&s3, "PutObject", &json!({"Bucket": "b", "Body": "x"}));
        assert!(matches!(missing, Err(ProtocolError::Parameter(m)) if m.contains("Key")));
        let unknown = serialize(
            &s3,
            "PutObject",
            &json!({"Bucket": "b", "Key": "k", "Nope": 1}),
        );
        assert!(matches!(unknown, Err(ProtocolError::Parameter(m)) if m.contains("Nope")));
    }

    #[test]
    fn s3_get_object_reads_headers_into_members_and_the_body_as_text() {
        let models = Models::new(None);
        let s3 = models.get("s3").unwrap();
        let request = serialize(
            &s3,
            "GetObject",
            &json!({
                "Bucket": "b",
                "Key": "a/b+c",
                "VersionId": "v1",
                "IfModifiedSince": "2026-11-25T09:30:00Z",
                "Range": "bytes=0-9",
            }),
        )
        .unwrap();
        assert_eq!(request.method, http::Method::GET);
        assert_eq!(request.path, "/b/a/b%2Bc");
        assert_eq!(request.query, vec![("versionId".into(), "v1".into())]);
        assert_eq!(
            request.header("If-Modified-Since"),
            Some("Wed, 25 Nov 2026 09:30:00 GMT")
        );
        assert_eq!(request.header("Range"), Some("bytes=0-9"));
        assert!(request.body.is_empty());

        let answer = response(
            200,
            &[
                ("accept-ranges", "bytes"),
                ("content-length", "11"),
                ("content-type", "text/plain"),
                ("etag", "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""),
                ("last-modified", "Wed, 25 Nov 2026 09:30:00 GMT"),
                ("x-amz-server-side-encryption", "AES256"),
                ("x-amz-meta-owner", "ops"),
                ("x-amz-tagging-count", "2"),
                ("x-amz-delete-marker", "false"),
            ],
            "hello world",
        );
        assert_eq!(
            deserialize(&s3, "GetObject", &answer).unwrap(),
            json!({
                "AcceptRanges": "bytes",
                "Body": "hello world",
                "ContentLength": 11,
                "ContentType": "text/plain",
                "DeleteMarker": false,
                "ETag": "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"",
                "LastModified": "2026-11-25T09:30:00.000Z",
                "Metadata": {"owner": "ops"},
                "ServerSideEncryption": "AES256",
                "TagCount": 2,
            })
        );
        let bare = deserialize(&s3, "GetObject", &response(200, &[], "")).unwrap();
        assert_eq!(bare, json!({"Body": "", "Metadata": {}}));
    }

    #[test]
    fn s3_list_objects_v2_queries_by_the_template_and_reads_the_xml() {
        let models = Models::new(None);
        let s3 = models.get("s3").unwrap();
        let request = serialize(
            &s3,
            "ListObjectsV2",
            &json!({"Bucket": "b", "Prefix": "logs/", "MaxKeys": 2.0, "FetchOwner": true}),
        )
        .unwrap();
        assert_eq!(request.path, "/b");
        assert_eq!(
            request.query,
            vec![
                ("list-type".into(), "2".into()),
                ("fetch-owner".into(), "true".into()),
                ("max-keys".into(), "2".into()),
                ("prefix".into(), "logs/".into()),
            ]
        );
        let uploads = serialize(
            &s3,
            "CreateMultipartUpload",
            &json!({"Bucket": "b", "Key": "k"}),
        )
        .unwrap();
        assert_eq!(uploads.path, "/b/k");
        assert_eq!(uploads.query, vec![("uploads".into(), "".into())]);

        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>logs/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated><NextContinuationToken>tok</NextContinuationToken>
  <Contents><Key>logs/a.txt</Key><LastModified>2026-11-25T09:30:00.000Z</LastModified>
    <ETag>&quot;e1&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>5</Size>
    <StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>logs/b &amp; c.txt</Key><Size>0</Size><Owner><ID>abc</ID></Owner></Contents>
</ListBucketResult>"#;
        let answer = response(200, &[("x-amz-request-charged", "requester")], xml);
        assert_eq!(
            deserialize(&s3, "ListObjectsV2", &answer).unwrap(),
            json!({
                "Contents": [
                    {
                        "ChecksumAlgorithm": ["CRC32"],
                        "ETag": "\"e1\"",
                        "Key": "logs/a.txt",
                        "LastModified": "2026-11-25T09:30:00.000Z",
                        "Size": 5,
                        "StorageClass": "STANDARD",
                    },
                    {"Key": "logs/b & c.txt", "Owner": {"ID": "abc"}, "Size": 0},
                ],
                "IsTruncated": true,
                "KeyCount": 2,
                "MaxKeys": 2,
                "Name": "b",
                "NextContinuationToken": "tok",
                "Prefix": "logs/",
                "RequestCharged": "requester",
            })
        );
    }

    #[test]
    fn s3_list_buckets_reads_a_wrapped_list() {
        let models = Models::new(None);
        let s3 = models.get("s3").unwrap();
        let request = serialize(&s3, "ListBuckets", &json!({})).unwrap();
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/")
        );
        let xml = r#"<ListAllMyBucketsResult><Owner><DisplayName>me</DisplayName><ID>id1</ID></Owner>
<Buckets><Bucket><Name>one</Name><CreationDate>2026-01-02T03:04:05.000Z</CreationDate></Bucket>
<Bucket><Name>two</Name><CreationDate>2026-01-03T00:00:00Z</CreationDate></Bucket></Buckets>
</ListAllMyBucketsResult>"#;
        assert_eq!(
            deserialize(&s3, "ListBuckets", &response(200, &[], xml)).unwrap(),
            json!({
                "Buckets": [
                    {"CreationDate": "2026-01-02T03:04:05.000Z", "Name": "one"},
                    {"CreationDate": "2026-01-03T00:00:00.000Z", "Name": "two"},
                ],
                "Owner": {"DisplayName": "me", "ID": "id1"},
            })
        );
        let broken = deserialize(&s3, "ListBuckets", &response(200, &[], "<Unclosed>"));
        assert!(matches!(broken, Err(ProtocolError::Response(_))));
    }

    #[test]
    fn s3_structure_payloads_are_xml_in_the_service_namespace() {
        let models = Models::new(None);
        let s3 = models.get("s3").unwrap();
        let request = serialize(
            &s3,
            "CreateBucket",
            &json!({
                "Bucket": "b",
                "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"},
            }),
        )
        .unwrap();
        assert_eq!(request.path, "/b");
        assert_eq!(request.header("Content-Type"), Some("application/xml"));
        assert_eq!(
            String::from_utf8(request.body).unwrap(),
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"
        );
        let request = serialize(
            &s3,
            "DeleteObjects",
            &json!({
                "Bucket": "b",
                "Delete": {"Objects": [{"Key": "a<b"}, {"Key": "c"}], "Quiet": true},
            }),
        )
        .unwrap();
        assert_eq!(request.query, vec![("delete".into(), "".into())]);
        let body = String::from_utf8(request.body.clone()).unwrap();
        assert_eq!(
            body,
            "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Object><Key>a&lt;b</Key></Object><Object><Key>c</Key></Object>\
             <Quiet>true</Quiet></Delete>"
        );
        // S3 refuses a multi-object delete whose body carries no checksum.
        let mut crc = flate2::Crc::new();
        crc.update(body.as_bytes());
        let expected = cairn_common::base64::encode(&crc.sum().to_be_bytes());
        assert_eq!(
            request.header("x-amz-checksum-crc32"),
            Some(expected.as_str())
        );
        // A bucket without configuration sends no body at all.
        let request = serialize(&s3, "CreateBucket", &json!({"Bucket": "b"})).unwrap();
        assert!(request.body.is_empty());
        assert_eq!(request.header("Content-Type"), None);
    }

    #[test]
    fn s3_errors_read_the_error_document_or_the_status() {
        let models = Models::new(None);
        let s3 = models.get("s3").unwrap();
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>b</BucketName><RequestId>R</RequestId></Error>"#;
        assert_eq!(
            error(&s3, &response(404, &[], xml)),
            WireError {
                code: "NoSuchBucket".into(),
                message: "The specified bucket does not exist".into(),
                type_name: None,
            }
        );
        assert_eq!(
            error(&s3, &response(404, &[], "")),
            WireError {
                code: "NotFound".into(),
                message: String::new(),
                type_name: None,
            }
        );
        assert_eq!(error(&s3, &response(403, &[], "not xml")).code, "Forbidden");
    }

    #[test]
    fn lambda_invoke_puts_the_function_in_the_path_and_the_payload_in_the_body() {
        let models = Models::new(None);
        let lambda = models.get("lambda").unwrap();
        let request = serialize(
            &lambda,
            "Invoke",
            &json!({
                "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "InvocationType": "Event",
                "Qualifier": "live",
                "Payload": {"order": 7},
            }),
        )
        .unwrap();
        assert_eq!(request.method, http::Method::POST);
        assert_eq!(
            request.path,
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/invocations"
        );
        assert_eq!(request.query, vec![("Qualifier".into(), "live".into())]);
        assert_eq!(request.header("X-Amz-Invocation-Type"), Some("Event"));
        assert_eq!(request.body, br#"{"order":7}"#);
        let text = serialize(
            &lambda,
            "Invoke",
            &json!({"FunctionName": "f", "Payload": "raw text"}),
        )
        .unwrap();
        assert_eq!(text.path, "/2015-03-31/functions/f/invocations");
        assert_eq!(text.body, b"raw text");
    }

    #[test]
    fn lambda_invoke_answers_with_the_status_headers_and_payload_text() {
        let models = Models::new(None);
        let lambda = models.get("lambda").unwrap();
        let answer = response(
            200,
            &[
                ("X-Amz-Executed-Version", "$LATEST"),
                ("X-Amz-Function-Error", "Unhandled"),
                ("x-amz-log-result", "bG9ncw=="),
            ],
            r#"{"errorMessage":"boom"}"#,
        );
        assert_eq!(
            deserialize(&lambda, "Invoke", &answer).unwrap(),
            json!({
                "ExecutedVersion": "$LATEST",
                "FunctionError": "Unhandled",
                "LogResult": "bG9ncw==",
                "Payload": "{\"errorMessage\":\"boom\"}",
                "StatusCode": 200,
            })
        );
        let queued = deserialize(&lambda, "Invoke", &response(202, &[], "")).unwrap();
        assert_eq!(queued, json!({"Payload": "", "StatusCode": 202}));
    }

    #[test]
    fn lambda_json_bodies_go_both_ways() {
        let models = Models::new(None);
        let lambda = models.get("lambda").unwrap();
        let request = serialize(
            &lambda,
            "TagResource",
            &json!({"Resource": "arn:f", "Tags": {"team": "a"}}),
        )
        .unwrap();
        assert_eq!(request.path, "/2017-03-31/tags/arn%3Af");
        assert_eq!(request.header("Content-Type"), Some("application/json"));
        assert_eq!(request.body, br#"{"Tags":{"team":"a"}}"#);
        let request = serialize(
            &lambda,
            "UntagResource",
            &json!({"Resource": "arn:f", "TagKeys": ["a", "b"]}),
        )
        .unwrap();
        assert_eq!(
            request.query,
            vec![
                ("tagKeys".into(), "a".into()),
                ("tagKeys".into(), "b".into())
            ]
        );
        assert!(request.body.is_empty());
        let answer = response(
            200,
            &[],
            r#"{"Functions":[{"FunctionName":"f","MemorySize":128}],"NextMarker":"m"}"#,
        );
        assert_eq!(
            deserialize(&lambda, "ListFunctions", &answer).unwrap(),
            json!({"Functions": [{"FunctionName": "f", "MemorySize": 128}], "NextMarker": "m"})
        );
        let broken = deserialize(&lambda, "ListFunctions", &response(200, &[], "{"));
        assert!(matches!(broken, Err(ProtocolError::Response(_))));
    }

    #[test]
    fn lambda_errors_read_the_error_type_header_then_the_body() {
        let models = Models::new(None);
        let lambda = models.get("lambda").unwrap();
        let answer = response(
            404,
            &[(
                "x-amzn-ErrorType",
                "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.awsgatewaylambda/",
            )],
            r#"{"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:1:function:f"}"#,
        );
        assert_eq!(
            error(&lambda, &answer),
            WireError {
                code: "ResourceNotFoundException".into(),
                message: "Function not found: arn:aws:lambda:us-east-1:1:function:f".into(),
                type_name: None,
            }
        );
        let answer = response(
            429,
            &[],
            r#"{"__type":"TooManyRequestsException","message":"slow"}"#,
        );
        assert_eq!(error(&lambda, &answer).code, "TooManyRequestsException");
        assert_eq!(error(&lambda, &answer).message, "slow");
        assert_eq!(error(&lambda, &response(502, &[], "")).code, "BadGateway");
    }

    #[test]
    fn host_labels_expand_the_host_prefix() {
        let models = Models::new(None);
        let s3 = models.get("s3").unwrap();
        let request = serialize(
            &s3,
            "WriteGetObjectResponse",
            &json!({"RequestRoute": "route-1", "RequestToken": "t", "Body": "x"}),
        )
        .unwrap();
        assert_eq!(request.host_prefix.as_deref(), Some("route-1."));
        assert_eq!(request.header("x-amz-request-route"), Some("route-1"));
        let missing = serialize(&s3, "WriteGetObjectResponse", &json!({"RequestToken": "t"}));
        assert!(matches!(missing, Err(ProtocolError::Parameter(m)) if m.contains("RequestRoute")));
    }

    #[test]
    fn http_dates_parse_to_the_instant_they_name() {
        let ms = 1_795_599_000_000;
        assert_eq!(
            parse_http_date(&cairn_common::civil::http_date(ms)),
            Some(ms)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:01 GMT"), Some(1000));
        assert_eq!(parse_http_date("Thu, 01 Foo 1970 00:00:01 GMT"), None);
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 25:00:01 GMT"), None);
    }
}
