//! AWS parses definitions with Jackson and puts Jackson's message in `INVALID_JSON_DESCRIPTION`;
//! serde_json's errors are translated to the same wording for the common syntax mistakes.

use serde_json::error::Category;

pub(crate) fn describe(text: &str, error: &serde_json::Error) -> String {
    if error.classify() == Category::Eof {
        return "Unexpected end-of-input".to_owned();
    }
    let full = error.to_string();
    // serde_json appends " at line L column C"; Jackson's text has no such suffix.
    let bare = match full.rfind(" at line ") {
        Some(at) => &full[..at],
        None => full.as_str(),
    };
    let offending = offending_char(text, error.line(), error.column());
    let expectation = match bare {
        "key must be a string" => Some("was expecting double-quote to start field name"),
        "expected value" => Some(
            "expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
        ),
        "expected `,` or `}`" => Some("was expecting comma to separate Object entries"),
        "expected `,` or `]`" => Some("was expecting comma to separate Array entries"),
        "expected `:`" => Some("was expecting a colon to separate field name and value"),
        "trailing characters" => Some("expected end of input"),
        _ => None,
    };
    match (expectation, offending) {
        (Some(expectation), Some(c)) => {
            format!(
                "Unexpected character ('{c}' (code {})): {expectation}",
                u32::from(c)
            )
        }
        _ => bare.to_owned(),
    }
}

/// The character serde_json stopped at (its column is 1-based and counts bytes).
fn offending_char(text: &str, line: usize, column: usize) -> Option<char> {
    let line_text = text.lines().nth(line.checked_sub(1)?)?;
    let index = column.saturating_sub(1);
    line_text
        .get(index..)
        .and_then(|rest| rest.chars().next())
        .or_else(|| line_text.chars().last())
}
