//! The functions' own log lines: one JSON object per line on standard error, with `level`,
//! `message` and the `executionArn` when one is concerned. The template sets `LogFormat:
//! JSON`, under which Lambda keeps a custom runtime's JSON lines as they are, so CloudWatch
//! Logs Insights can filter them by level and execution next to Lambda's own records.

use serde_json::{json, Value};

/// The line [`log`] writes.
pub fn line(level: &str, execution_arn: Option<&str>, message: std::fmt::Arguments<'_>) -> String {
    let mut object = json!({"level": level, "message": message.to_string()});
    if let Some(arn) = execution_arn {
        object["executionArn"] = Value::from(arn);
    }
    object.to_string()
}

/// Writes one structured line (`INFO`, `WARN` or `ERROR`, as Lambda's own levels).
pub fn log(level: &str, execution_arn: Option<&str>, message: std::fmt::Arguments<'_>) {
    eprintln!("{}", line(level, execution_arn, message));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_with_level_message_and_execution() {
        let text = line(
            "ERROR",
            Some("arn:aws:states:us-east-1:1:execution:m:e"),
            format_args!("message {} failed:\nretried", 7),
        );
        assert!(!text.contains('\n'), "one line: {text}");
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!({"level": "ERROR", "message": "message 7 failed:\nretried",
                   "executionArn": "arn:aws:states:us-east-1:1:execution:m:e"})
        );
        let bare: Value = serde_json::from_str(&line("WARN", None, format_args!("x"))).unwrap();
        assert_eq!(bare, json!({"level": "WARN", "message": "x"}));
    }
}
