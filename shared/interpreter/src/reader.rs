//! A Distributed Map's ItemReader and ItemBatcher: what to ask the shell for, and how to
//! turn the object it returns (JSON, JSON Lines, CSV) into items and batches. Pure.

use crate::api::ResourceKind;
use crate::flow::Template;
use crate::machine::Setting;
use serde_json::{Map, Value};

/// How the object's content becomes items.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Format {
    /// A JSON array (`getObject` of JSON) or the shell's listing (`listObjectsV2`).
    Json,
    JsonLines,
    Csv {
        headers: Option<Vec<String>>,
        delimiter: char,
    },
    /// An S3 inventory's `manifest.json`: its CSV data files hold the items.
    Manifest,
    /// A JSON object whose array at this JSON Pointer (ReaderConfig.ItemsPointer) is the items.
    JsonPointer(String),
}

/// An S3 inventory being read: its data files' rows as they arrive.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct ManifestRead {
    /// The inventory's `fileSchema`: the names of each row's fields.
    pub schema: Vec<String>,
    pub parts: Vec<Option<Vec<Value>>>,
    /// The data files still being read: task → index in `parts`.
    pub tasks: std::collections::BTreeMap<crate::api::TaskId, usize>,
}

/// The text of an object the shell read (the content, or an SDK-shaped `{"Body": ...}`).
fn text_of(content: Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text),
        Value::Object(mut map) => match map.remove("Body") {
            Some(Value::String(text)) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// What an S3 inventory manifest lists: its data files (bucket, key), and the names of
/// their rows' fields.
pub(crate) type Inventory = (Vec<(String, String)>, Vec<String>);

/// An S3 inventory manifest's data files and schema.
pub(crate) fn inventory(content: Value) -> Result<Inventory, String> {
    let manifest = match content {
        Value::Object(map) if !map.contains_key("Body") => Value::Object(map),
        other => {
            let text =
                text_of(other).ok_or("The S3 inventory manifest is not an object's content")?;
            serde_json::from_str(&text)
                .map_err(|e| format!("The S3 inventory manifest is not valid JSON: {e}"))?
        }
    };
    let field = |name: &str| manifest.get(name).and_then(Value::as_str);
    match field("fileFormat") {
        Some("CSV") => {}
        Some(other) => {
            return Err(format!(
                "S3 inventory fileFormat {other} is not supported: only CSV inventories can be read"
            ))
        }
        None => return Err("The S3 inventory manifest has no fileFormat".into()),
    }
    let bucket = field("destinationBucket")
        .map(|b| b.strip_prefix("arn:aws:s3:::").unwrap_or(b).to_string())
        .ok_or("The S3 inventory manifest has no destinationBucket")?;
    let schema: Vec<String> = field("fileSchema")
        .ok_or("The S3 inventory manifest has no fileSchema")?
        .split(',')
        .map(|f| f.trim().to_string())
        .collect();
    let files = manifest
        .get("files")
        .and_then(Value::as_array)
        .ok_or("The S3 inventory manifest has no files")?
        .iter()
        .filter_map(|f| f.get("key").and_then(Value::as_str))
        .map(|key| (bucket.clone(), key.to_string()))
        .collect();
    Ok((files, schema))
}

/// The rows of an inventory data file (CSV without a header row), named by its schema.
pub(crate) fn inventory_rows(content: Value, schema: &[String]) -> Result<Vec<Value>, String> {
    let text = text_of(content).ok_or("The S3 inventory data file is not an object's content")?;
    Ok(csv_items(&text, Some(schema), ','))
}

#[derive(Debug, Clone)]
pub(crate) struct ReaderSpec {
    pub resource: String,
    pub kind: ResourceKind,
    pub parameters: Option<Template>,
    pub format: Format,
    pub max_items: Option<Setting<Value>>,
}

#[derive(Debug, Clone)]
pub(crate) struct BatcherSpec {
    pub max_items: Option<Setting<Value>>,
    pub max_bytes: Option<Setting<Value>>,
    pub batch_input: Option<Template>,
}

/// Reads the ReaderConfig of an ItemReader; `Err` names what is not supported.
pub(crate) fn format_of(config: Option<&Value>, resource: &str) -> Result<Format, String> {
    let config = config.and_then(Value::as_object);
    let input_type = config
        .and_then(|c| c.get("InputType"))
        .and_then(Value::as_str);
    let field = |name: &str| config.and_then(|c| c.get(name)).and_then(Value::as_str);
    match field("ManifestType") {
        None => {}
        Some("S3_INVENTORY") if matches!(input_type, None | Some("CSV")) => {
            return Ok(Format::Manifest)
        }
        Some(other) => {
            return Err(format!(
                "ItemReader ManifestType {other} ({resource}) is not supported yet"
            ))
        }
    }
    match field("Transformation") {
        None | Some("NONE") => {}
        Some(other) => {
            return Err(format!(
                "ItemReader Transformation {other} ({resource}) is not supported yet"
            ))
        }
    }
    match field("InputDecompressionCodec") {
        // A gzipped object is recognised and unpacked by the shell.
        None | Some("NONE") | Some("GZIP") => {}
        Some(other) => {
            return Err(format!(
                "ItemReader InputDecompressionCodec {other} ({resource}) is not supported yet"
            ))
        }
    }
    match input_type {
        None | Some("JSON") => match field("ItemsPointer") {
            Some(pointer) => Ok(Format::JsonPointer(pointer.to_string())),
            None => Ok(Format::Json),
        },
        Some("JSONL") => Ok(Format::JsonLines),
        Some("MANIFEST") => Ok(Format::Manifest),
        Some("CSV") => {
            let given = config
                .and_then(|c| c.get("CSVHeaderLocation"))
                .and_then(Value::as_str)
                == Some("GIVEN");
            let headers = if given {
                let list = config
                    .and_then(|c| c.get("CSVHeaders"))
                    .and_then(Value::as_array);
                Some(
                    list.map(|l| {
                        l.iter()
                            .map(|h| h.as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
                )
            } else {
                None
            };
            let delimiter = match config
                .and_then(|c| c.get("CSVDelimiter"))
                .and_then(Value::as_str)
            {
                None | Some("COMMA") => ',',
                Some("PIPE") => '|',
                Some("SEMICOLON") => ';',
                Some("SPACE") => ' ',
                Some("TAB") => '\t',
                Some(other) => return Err(format!("CSVDelimiter {other} is not supported")),
            };
            Ok(Format::Csv { headers, delimiter })
        }
        Some(other) => Err(format!(
            "ItemReader InputType {other} ({resource}) is not supported yet"
        )),
    }
}

/// The items in what the shell returned for the reader's request.
pub(crate) fn items(format: &Format, content: Value) -> Result<Vec<Value>, String> {
    // getObject answers with the object's text; accept an SDK-shaped `{"Body": ...}` too.
    let content = match content {
        Value::Object(mut map) if map.contains_key("Body") => {
            map.remove("Body").unwrap_or(Value::Null)
        }
        other => other,
    };
    match (format, content) {
        (_, Value::Array(items)) => Ok(items),
        (Format::Json, Value::String(text)) => match serde_json::from_str(&text) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(_) => Err("Attempting to map over non-iterable node.".into()),
            Err(e) => Err(format!("The object is not valid JSON: {e}")),
        },
        (Format::JsonPointer(pointer), Value::String(text)) => {
            let whole: Value = serde_json::from_str(&text)
                .map_err(|e| format!("The object is not valid JSON: {e}"))?;
            match whole.pointer(pointer) {
                Some(Value::Array(items)) => Ok(items.clone()),
                Some(_) => Err("Attempting to map over non-iterable node.".into()),
                None => Err(format!(
                    "The ItemsPointer {pointer} selects nothing in the object"
                )),
            }
        }
        (Format::JsonLines, Value::String(text)) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| format!("The object is not valid JSON Lines: {e}"))
            })
            .collect(),
        (Format::Csv { headers, delimiter }, Value::String(text)) => {
            Ok(csv_items(&text, headers.as_deref(), *delimiter))
        }
        (_, other) => Err(format!(
            "The ItemReader result is not an object's content: {}",
            crate::history::json_text(&other)
        )),
    }
}

/// CSV rows as objects keyed by the header row (or the given headers): missing fields are
/// `""`, extra fields are dropped, as AWS does.
fn csv_items(text: &str, given: Option<&[String]>, delimiter: char) -> Vec<Value> {
    let mut rows = csv_rows(text, delimiter).into_iter();
    let headers: Vec<String> = match given {
        Some(h) => h.to_vec(),
        None => rows.next().unwrap_or_default(),
    };
    rows.map(|row| {
        let mut item = Map::with_capacity(headers.len());
        for (i, header) in headers.iter().enumerate() {
            item.insert(
                header.clone(),
                Value::String(row.get(i).cloned().unwrap_or_default()),
            );
        }
        Value::Object(item)
    })
    .collect()
}

/// RFC 4180 records: quoted fields may hold delimiters, newlines and doubled quotes.
fn csv_rows(text: &str, delimiter: char) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut row_started = false;
    while let Some(c) = chars.next() {
        row_started = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                other => field.push(other),
            }
        } else if c == '"' && field.is_empty() {
            quoted = true;
        } else if c == delimiter {
            row.push(std::mem::take(&mut field));
        } else if c == '\n' || c == '\r' {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            row.push(std::mem::take(&mut field));
            rows.push(std::mem::take(&mut row));
            row_started = false;
        } else {
            field.push(c);
        }
    }
    if row_started {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Groups items into `{"BatchInput"?, "Items": [...]}` batches of at most `max_items` items
/// and `max_bytes` bytes of JSON text (0 means no limit).
pub(crate) fn batches(
    items: Vec<Value>,
    max_items: u64,
    max_bytes: u64,
    batch_input: Option<&Value>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut bytes = 0u64;
    for item in items {
        let size = crate::history::json_text(&item).len() as u64;
        let full_count = max_items > 0 && current.len() as u64 >= max_items;
        let full_bytes = max_bytes > 0 && !current.is_empty() && bytes + size > max_bytes;
        if full_count || full_bytes {
            out.push(batch(std::mem::take(&mut current), batch_input));
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() {
        out.push(batch(current, batch_input));
    }
    out
}

fn batch(items: Vec<Value>, batch_input: Option<&Value>) -> Value {
    let mut map = Map::with_capacity(2);
    if let Some(input) = batch_input {
        map.insert("BatchInput".into(), input.clone());
    }
    map.insert("Items".into(), Value::Array(items));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_rows_follow_the_header_row() {
        let text = "Col1,Col2,Col3\nValue1,Value2,Value3\n,,,\ntrue,1,'HelloWorld'\n   \n\"a,b\",\"say \"\"hi\"\"\",x\n";
        let format = Format::Csv {
            headers: None,
            delimiter: ',',
        };
        assert_eq!(
            items(&format, json!(text)),
            Ok(vec![
                json!({"Col1": "Value1", "Col2": "Value2", "Col3": "Value3"}),
                json!({"Col1": "", "Col2": "", "Col3": ""}),
                json!({"Col1": "true", "Col2": "1", "Col3": "'HelloWorld'"}),
                json!({"Col1": "   ", "Col2": "", "Col3": ""}),
                json!({"Col1": "a,b", "Col2": "say \"hi\"", "Col3": "x"}),
            ])
        );
    }

    #[test]
    fn given_headers_drop_extra_fields() {
        let format = Format::Csv {
            headers: Some(vec!["H1".into()]),
            delimiter: ',',
        };
        assert_eq!(
            items(&format, json!("V1,V2\nV3")),
            Ok(vec![json!({"H1": "V1"}), json!({"H1": "V3"})])
        );
    }

    #[test]
    fn items_pointer_and_manifest_types() {
        let format = format_of(Some(&json!({"ItemsPointer": "/a/b"})), "r").unwrap();
        assert_eq!(
            items(&format, json!("{\"a\": {\"b\": [1, 2]}}")),
            Ok(vec![json!(1), json!(2)])
        );
        assert!(items(&format, json!("{\"a\": 1}")).is_err());
        assert_eq!(
            format_of(
                Some(&json!({"ManifestType": "S3_INVENTORY", "InputType": "CSV"})),
                "r"
            ),
            Ok(Format::Manifest)
        );
        assert!(format_of(Some(&json!({"ManifestType": "ATHENA_DATA"})), "r").is_err());
        assert!(format_of(Some(&json!({"Transformation": "LOAD_AND_FLATTEN"})), "r").is_err());
    }

    #[test]
    fn json_and_json_lines() {
        assert_eq!(
            items(&Format::Json, json!("[1, {\"a\": 2}]")),
            Ok(vec![json!(1), json!({"a": 2})])
        );
        assert_eq!(
            items(&Format::Json, json!({"Body": "[3]"})),
            Ok(vec![json!(3)])
        );
        assert_eq!(
            items(&Format::JsonLines, json!("{\"a\":1}\n\n{\"a\":2}\n")),
            Ok(vec![json!({"a": 1}), json!({"a": 2})])
        );
        assert!(items(&Format::Json, json!("{\"a\": 1}")).is_err());
    }

    #[test]
    fn batches_by_count_and_size() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        assert_eq!(
            batches(items.clone(), 2, 0, Some(&json!({"k": 1}))),
            vec![
                json!({"BatchInput": {"k": 1}, "Items": [0, 1]}),
                json!({"BatchInput": {"k": 1}, "Items": [2, 3]}),
                json!({"BatchInput": {"k": 1}, "Items": [4]}),
            ]
        );
        assert_eq!(
            batches(items, 0, 2, None),
            vec![
                json!({"Items": [0, 1]}),
                json!({"Items": [2, 3]}),
                json!({"Items": [4]})
            ]
        );
    }
}
