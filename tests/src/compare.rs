//! Comparing Cairn's results with recordings, honouring the corpus's placeholders.
//!
//! The recordings were normalised before they were stored (see the corpus README): times and
//! resource names became placeholders, JSON text in histories was partly decoded, and events
//! inside Parallel branches were sometimes re-sorted. A [`Matcher`] compares an expected
//! (recorded) value with an actual one under those rules and remembers what each numbered
//! placeholder stood for, so the same placeholder must hold the same value across one case.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

/// Words that replaced a whole value in the recordings (times, role ARNs, fixture names, and
/// headers the recording tool masked with their own name).
const WILDCARD_WORDS: &[&str] = &[
    "timestamp",
    "datetime",
    "date",
    "start-date",
    "stop-date",
    "snf_role_arn",
    "sfn_role_arn",
    "state_machine_role_arn",
    "map_run_arn",
    "lambda_function_name",
    "RandomNumberGenerated",
    "activity_arn",
    "bucket-name",
    "table-name",
    "execution-arn",
    "start-time",
    "entered-time",
    "X-Amzn-Trace-Id",
    "x-amzn-RequestId",
];

/// Backtracking budget for matching one string against a pattern with several placeholders:
/// the patterns are short in practice, and a budget keeps a pathological one from hanging a test.
const PATTERN_STEP_BUDGET: usize = 200_000;

/// Nesting depth beyond which values are not compared (the corpus stays far below it).
const MAX_DEPTH: usize = 256;

/// Where and how an actual value differs from the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at {}: expected {} but got {}",
            self.path,
            shorten(&self.expected),
            shorten(&self.actual)
        )
    }
}

fn shorten(text: &str) -> String {
    const LIMIT: usize = 300;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head}…")
    }
}

fn render(value: Option<&Value>) -> String {
    match value {
        Some(value) => value.to_string(),
        None => "(absent)".to_owned(),
    }
}

/// One rule from `meta.snapshot_skip_verify_paths`: the fields AWS's recording tool did not
/// verify, so a run is not judged on them either.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SkipRule {
    /// `$..events`: the whole history.
    WholeHistory,
    /// `$..a.b` or `$..events..a.b`: any object key path ending in these keys.
    Suffix {
        keys: Vec<String>,
        history_only: bool,
    },
    /// `$..events[N].a.b`: exactly this key path in the event at index N.
    Event { index: usize, keys: Vec<String> },
}

/// The parsed `snapshot_skip_verify_paths` of a case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipPaths {
    rules: Vec<SkipRule>,
}

impl SkipPaths {
    /// Parses the JSONPath-like skip paths of the recording tool. Paths of a shape it does not
    /// know are ignored (so they are verified, the strict choice).
    pub fn parse(paths: &[String]) -> SkipPaths {
        let rules = paths
            .iter()
            .filter_map(|path| parse_skip_path(path))
            .collect();
        SkipPaths { rules }
    }

    /// From a case's JSON (`meta.snapshot_skip_verify_paths`).
    pub fn of_case(case: &Value) -> SkipPaths {
        let paths: Vec<String> = case
            .pointer("/meta/snapshot_skip_verify_paths")
            .and_then(Value::as_array)
            .map(|paths| {
                paths
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        SkipPaths::parse(&paths)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether the history as a whole is exempt.
    pub fn skips_history(&self) -> bool {
        self.rules.contains(&SkipRule::WholeHistory)
    }

    fn skips(&self, event: Option<usize>, keys: &[String]) -> bool {
        self.rules.iter().any(|rule| match rule {
            SkipRule::WholeHistory => false,
            SkipRule::Suffix {
                keys: suffix,
                history_only,
            } => (event.is_some() || !history_only) && keys.ends_with(suffix),
            SkipRule::Event { index, keys: exact } => event == Some(*index) && keys == exact,
        })
    }
}

fn parse_skip_path(path: &str) -> Option<SkipRule> {
    let rest = path.strip_prefix("$..")?;
    if rest == "events" {
        return Some(SkipRule::WholeHistory);
    }
    if let Some(rest) = rest.strip_prefix("events..") {
        return Some(SkipRule::Suffix {
            keys: split_keys(rest)?,
            history_only: true,
        });
    }
    if let Some(rest) = rest.strip_prefix("events[") {
        let (index, rest) = rest.split_once("].")?;
        return Some(SkipRule::Event {
            index: index.parse().ok()?,
            keys: split_keys(rest)?,
        });
    }
    Some(SkipRule::Suffix {
        keys: split_keys(rest)?,
        history_only: false,
    })
}

fn split_keys(text: &str) -> Option<Vec<String>> {
    let keys: Vec<String> = text.split('.').map(str::to_owned).collect();
    let plain = keys
        .iter()
        .all(|key| !key.is_empty() && !key.contains(['[', ']', '*', '$', '(', ')', '?', '@']));
    plain.then_some(keys)
}

/// How much of a history is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryMode {
    /// Every event, in order, field by field.
    Full,
    /// The recording re-sorted the events inside Parallel branches and set their ids to 0:
    /// the events with real ids are compared in place, the others as a multiset.
    ParallelNormalised,
    /// The recording's inputs came from the clock at recording time: only the event types.
    TypesOnly,
    /// Both: only the event types, those inside Parallel branches as a multiset.
    TypesOnlyParallelNormalised,
}

impl HistoryMode {
    pub fn new(types_only: bool, parallel_normalised: bool) -> HistoryMode {
        match (types_only, parallel_normalised) {
            (false, false) => HistoryMode::Full,
            (false, true) => HistoryMode::ParallelNormalised,
            (true, false) => HistoryMode::TypesOnly,
            (true, true) => HistoryMode::TypesOnlyParallelNormalised,
        }
    }
}

/// Compares recorded values with actual ones, remembering placeholder bindings for one case.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    bindings: HashMap<String, String>,
    skip: SkipPaths,
}

/// Where a recording may hold decoded what AWS returned as JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonText {
    /// Nowhere: strings are compared as strings (results, and anything already decoded once,
    /// where a string that happens to be JSON text is data and must match as text).
    Nowhere,
    /// The compared value itself (an execution's cause when `cause_is_parsed_json_text`).
    AtRoot,
    /// The event-detail fields of a history that AWS fills with JSON text ([`JSON_TEXT_FIELDS`]
    /// and each value of `assignedVariables`).
    HistoryFields,
}

/// The `*EventDetails` fields GetExecutionHistory returns as JSON text: every `input`,
/// `output`, `cause` and `parameters` (the corpus holds them in the state, execution, task,
/// Lambda and activity events). `error`, `resource`, `name` and the rest are plain strings.
const JSON_TEXT_FIELDS: &[&str] = &["input", "output", "cause", "parameters"];

/// Whether the value at `keys` (object keys from the event down) is one AWS returns as JSON
/// text: `xEventDetails.output`, or `stateExitedEventDetails.assignedVariables.<name>`
/// (a map of variable name to JSON text).
fn is_json_text_field(keys: &[String]) -> bool {
    match keys {
        [details, field] => {
            details.ends_with("EventDetails") && JSON_TEXT_FIELDS.contains(&field.as_str())
        }
        [details, variables, _] => {
            details.ends_with("EventDetails") && variables == "assignedVariables"
        }
        _ => false,
    }
}

/// What is being compared: which event (for the skip rules) and where JSON text may be decoded.
#[derive(Debug, Clone, Copy)]
struct Scope {
    event: Option<usize>,
    json_text: JsonText,
}

impl Scope {
    fn decodes_at(&self, keys: &[String]) -> bool {
        match self.json_text {
            JsonText::Nowhere => false,
            JsonText::AtRoot => keys.is_empty(),
            JsonText::HistoryFields => is_json_text_field(keys),
        }
    }

    /// Inside a value decoded from JSON text: its strings are data, compared as they are.
    fn inside_decoded(self) -> Scope {
        Scope {
            json_text: JsonText::Nowhere,
            ..self
        }
    }
}

impl Matcher {
    pub fn new(skip: SkipPaths) -> Matcher {
        Matcher {
            bindings: HashMap::new(),
            skip,
        }
    }

    /// What each numbered placeholder has been bound to so far.
    pub fn bindings(&self) -> &HashMap<String, String> {
        &self.bindings
    }

    /// Compares a top-level result value (output, error name) exactly, up to placeholders.
    pub fn match_value(&mut self, expected: &Value, actual: &Value) -> Result<(), Mismatch> {
        let scope = Scope {
            event: None,
            json_text: JsonText::Nowhere,
        };
        self.matches(expected, actual, &mut Vec::new(), "$", scope, 0)
    }

    /// Compares a value that the recording stored decoded when it was JSON text (the cause
    /// when `cause_is_parsed_json_text`): the actual text is decoded before comparing.
    pub fn match_json_text(&mut self, expected: &Value, actual: &Value) -> Result<(), Mismatch> {
        let scope = Scope {
            event: None,
            json_text: JsonText::AtRoot,
        };
        self.matches(expected, actual, &mut Vec::new(), "$", scope, 0)
    }

    /// Compares a history (AWS GetExecutionHistory event objects) with a recording.
    pub fn match_history(
        &mut self,
        expected: &[Value],
        actual: &[Value],
        mode: HistoryMode,
    ) -> Result<(), Mismatch> {
        if self.skip.skips_history() {
            return Ok(());
        }
        match mode {
            HistoryMode::Full => self.match_events_in_order(expected, actual),
            HistoryMode::TypesOnly => match_event_types(expected, actual),
            HistoryMode::ParallelNormalised => self.match_normalised(expected, actual),
            HistoryMode::TypesOnlyParallelNormalised => {
                let expected: Vec<Value> = expected.iter().map(id_and_type).collect();
                let actual: Vec<Value> = actual.iter().map(id_and_type).collect();
                self.match_normalised(&expected, &actual)
            }
        }
    }

    fn match_events_in_order(
        &mut self,
        expected: &[Value],
        actual: &[Value],
    ) -> Result<(), Mismatch> {
        for (index, (want, got)) in expected.iter().zip(actual).enumerate() {
            self.match_event(index, want, got)?;
        }
        if expected.len() != actual.len() {
            return Err(Mismatch {
                path: "history.length".to_owned(),
                expected: format!("{} events ({})", expected.len(), type_list(expected)),
                actual: format!("{} events ({})", actual.len(), type_list(actual)),
            });
        }
        Ok(())
    }

    fn match_event(
        &mut self,
        index: usize,
        expected: &Value,
        actual: &Value,
    ) -> Result<(), Mismatch> {
        let scope = Scope {
            event: Some(index),
            json_text: JsonText::HistoryFields,
        };
        let path = format!("history[{index}]");
        self.matches(expected, actual, &mut Vec::new(), &path, scope, 0)
    }

    fn match_normalised(&mut self, expected: &[Value], actual: &[Value]) -> Result<(), Mismatch> {
        // The recording dropped some events inside the branches (ParallelStateSucceeded among
        // them), but kept the real ids of the events around: the last id is the true length.
        let last_id = expected
            .iter()
            .rev()
            .find_map(|event| event.get("id").and_then(Value::as_u64));
        if let Some(last_id) = last_id {
            if usize::try_from(last_id).ok() != Some(actual.len()) {
                return Err(Mismatch {
                    path: "history.length".to_owned(),
                    expected: format!("{last_id} events"),
                    actual: format!("{} events ({})", actual.len(), type_list(actual)),
                });
            }
        }
        let mut anchored = vec![false; actual.len()];
        let mut floating = Vec::new();
        for (index, want) in expected.iter().enumerate() {
            match want.get("id").and_then(Value::as_u64) {
                Some(id) => {
                    let position = usize::try_from(id).ok().and_then(|id| id.checked_sub(1));
                    let Some(got) = position.and_then(|p| actual.get(p)) else {
                        return Err(Mismatch {
                            path: format!("history[{index}]"),
                            expected: render(Some(want)),
                            actual: "(no event with that id)".to_owned(),
                        });
                    };
                    self.match_event(index, want, got)?;
                    if let Some(slot) = position.and_then(|p| anchored.get_mut(p)) {
                        *slot = true;
                    }
                }
                None => floating.push((index, want)),
            }
        }
        let mut free: Vec<usize> = (0..actual.len())
            .filter(|&i| !anchored.get(i).copied().unwrap_or(true))
            .collect();
        for (index, want) in floating {
            let want = without_ids(want);
            let found = free.iter().position(|&candidate| {
                let Some(got) = actual.get(candidate) else {
                    return false;
                };
                // A trial match must not leave bindings behind when it fails.
                let mut trial = self.clone();
                let ok = trial.match_event(index, &want, &without_ids(got)).is_ok();
                if ok {
                    *self = trial;
                }
                ok
            });
            match found {
                Some(slot) => {
                    free.remove(slot);
                }
                None => {
                    return Err(Mismatch {
                        path: format!("history[{index}] (Parallel branch event, any order)"),
                        expected: render(Some(&want)),
                        actual: "(no unmatched event equal to it)".to_owned(),
                    })
                }
            }
        }
        Ok(())
    }

    fn matches(
        &mut self,
        expected: &Value,
        actual: &Value,
        keys: &mut Vec<String>,
        path: &str,
        scope: Scope,
        depth: usize,
    ) -> Result<(), Mismatch> {
        let fail = || Mismatch {
            path: path.to_owned(),
            expected: render(Some(expected)),
            actual: render(Some(actual)),
        };
        if depth > MAX_DEPTH {
            return Err(fail());
        }
        match (expected, actual) {
            (Value::String(want), _) if is_wildcard_word(want) => Ok(()),
            (Value::String(want), Value::String(got)) => {
                if want == got || self.match_pattern(want, got) {
                    return Ok(());
                }
                if scope.decodes_at(keys) {
                    if let (Some(want), Some(got)) = (decode_text(want), decode_text(got)) {
                        return self
                            .matches(&want, &got, keys, path, scope.inside_decoded(), depth + 1)
                            .map_err(|_| fail());
                    }
                }
                Err(fail())
            }
            (Value::String(want), _) if is_single_placeholder(want) => {
                if self.match_pattern(want, &actual.to_string()) {
                    Ok(())
                } else {
                    Err(fail())
                }
            }
            (_, Value::String(got)) if scope.decodes_at(keys) => match decode_text(got) {
                Some(decoded) => self.matches(
                    expected,
                    &decoded,
                    keys,
                    path,
                    scope.inside_decoded(),
                    depth + 1,
                ),
                None => Err(fail()),
            },
            (Value::Object(want), Value::Object(got)) => {
                for (key, want_value) in want {
                    keys.push(key.clone());
                    // The recording tool masked some values with their own key
                    // (`"x-amzn-RequestId": "x-amzn-RequestId"`).
                    let masked = want_value.as_str() == Some(key.as_str()) && got.contains_key(key);
                    let skipped = masked || self.skip.skips(scope.event, keys);
                    let result = if skipped {
                        Ok(())
                    } else {
                        match got.get(key) {
                            Some(got_value) => self.matches(
                                want_value,
                                got_value,
                                keys,
                                &format!("{path}.{key}"),
                                scope,
                                depth + 1,
                            ),
                            None => Err(Mismatch {
                                path: format!("{path}.{key}"),
                                expected: render(Some(want_value)),
                                actual: render(None),
                            }),
                        }
                    };
                    keys.pop();
                    result?;
                }
                for (key, got_value) in got {
                    if want.contains_key(key) {
                        continue;
                    }
                    keys.push(key.clone());
                    let skipped = self.skip.skips(scope.event, keys);
                    keys.pop();
                    if !skipped {
                        return Err(Mismatch {
                            path: format!("{path}.{key}"),
                            expected: render(None),
                            actual: render(Some(got_value)),
                        });
                    }
                }
                Ok(())
            }
            (Value::Array(want), Value::Array(got)) => {
                if want.len() != got.len() {
                    return Err(fail());
                }
                for (index, (want, got)) in want.iter().zip(got).enumerate() {
                    self.matches(
                        want,
                        got,
                        keys,
                        &format!("{path}[{index}]"),
                        scope,
                        depth + 1,
                    )?;
                }
                Ok(())
            }
            _ if expected == actual => Ok(()),
            _ => Err(fail()),
        }
    }

    /// Matches `text` against a recorded string with `<placeholder>`s; numbered placeholders
    /// bind to what they matched the first time. Bindings change only on success.
    fn match_pattern(&mut self, pattern: &str, text: &str) -> bool {
        let segments = segments(pattern);
        if !segments.iter().any(|s| matches!(s, Segment::Hole(_))) {
            return false;
        }
        let mut trial = self.bindings.clone();
        let mut budget = PATTERN_STEP_BUDGET;
        if match_segments(&segments, text, &mut trial, &mut budget) {
            self.bindings = trial;
            true
        } else {
            false
        }
    }
}

fn type_list(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| e.get("type").and_then(Value::as_str).unwrap_or("?"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn match_event_types(expected: &[Value], actual: &[Value]) -> Result<(), Mismatch> {
    let want = type_list(expected);
    let got = type_list(actual);
    if want == got {
        Ok(())
    } else {
        Err(Mismatch {
            path: "history event types".to_owned(),
            expected: want,
            actual: got,
        })
    }
}

fn id_and_type(event: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["id", "type"] {
        if let Some(value) = event.get(key) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

fn without_ids(event: &Value) -> Value {
    let mut event = event.clone();
    if let Some(map) = event.as_object_mut() {
        map.remove("id");
        map.remove("previousEventId");
    }
    event
}

fn decode_text(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

fn is_wildcard_word(text: &str) -> bool {
    if WILDCARD_WORDS.contains(&text) {
        return true;
    }
    // The recording tool replaced the values it skipped with their own path, e.g.
    // `stateExitedEventDetails.output`.
    match text.split_once("EventDetails.") {
        Some((event, field)) => {
            !event.is_empty()
                && event.chars().all(|c| c.is_ascii_alphabetic())
                && !field.is_empty()
                && field.chars().all(|c| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    Text(&'a str),
    Hole(&'a str),
}

/// Function names the recording replaced with a bare word, without angle brackets
/// (`function:lambda_function_name`).
const BARE_PLACEHOLDERS: &[&str] = &[
    "lambda_function_name",
    "lambda_function_1_name",
    "lambda_function_2_name",
];

fn segments(pattern: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = pattern;
    loop {
        let bare = BARE_PLACEHOLDERS
            .iter()
            .filter_map(|word| rest.find(&format!(":{word}")).map(|at| (at + 1, *word)))
            .min();
        let angle = rest.find('<');
        if let Some((at, word)) = bare {
            if angle.is_none() || angle.is_some_and(|angle| at < angle) {
                if at > 0 {
                    out.push(Segment::Text(&rest[..at]));
                }
                out.push(Segment::Hole(word));
                rest = &rest[at + word.len()..];
                continue;
            }
        }
        let Some(start) = angle else {
            break;
        };
        let after = &rest[start + 1..];
        let end = after.find('>');
        let name = end.map(|end| &after[..end]);
        match name {
            Some(name) if is_placeholder_name(name) => {
                if start > 0 {
                    out.push(Segment::Text(&rest[..start]));
                }
                out.push(Segment::Hole(name));
                rest = &after[name.len() + 1..];
            }
            _ => {
                out.push(Segment::Text(&rest[..start + 1]));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    out
}

fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':'))
}

fn is_single_placeholder(text: &str) -> bool {
    matches!(segments(text).as_slice(), [Segment::Hole(_)])
}

/// Numbered placeholders (`<uuid:1>`, `<ArnPart_0idx>`, `<lambda_function_1_name>`) stand for
/// one value across a case; unnumbered ones (`<region>`, `<request_id>`) for any value.
fn is_numbered(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_digit())
}

fn match_segments(
    segments: &[Segment<'_>],
    text: &str,
    bindings: &mut HashMap<String, String>,
    budget: &mut usize,
) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let Some((first, rest)) = segments.split_first() else {
        return text.is_empty();
    };
    match first {
        Segment::Text(literal) => match text.strip_prefix(literal) {
            Some(tail) => match_segments(rest, tail, bindings, budget),
            None => false,
        },
        Segment::Hole(name) => {
            if is_numbered(name) {
                if let Some(bound) = bindings.get(*name).cloned() {
                    return match text.strip_prefix(bound.as_str()) {
                        Some(tail) if !bound.is_empty() => {
                            match_segments(rest, tail, bindings, budget)
                        }
                        _ => false,
                    };
                }
            }
            // A placeholder stands for a non-empty value; try every split point.
            let ends: Vec<usize> = text.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
            for end in ends {
                let (value, tail) = text.split_at(end);
                if is_numbered(name) {
                    let mut trial = bindings.clone();
                    trial.insert((*name).to_owned(), value.to_owned());
                    if match_segments(rest, tail, &mut trial, budget) {
                        *bindings = trial;
                        return true;
                    }
                } else if match_segments(rest, tail, bindings, budget) {
                    return true;
                }
                if *budget == 0 {
                    return false;
                }
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbered_placeholders_bind_consistently() {
        let mut m = Matcher::default();
        assert!(m
            .match_value(
                &json!({"a": "<uuid:1>", "b": "<uuid:1>"}),
                &json!({"a": "x-1", "b": "x-1"})
            )
            .is_ok());
        let mut m = Matcher::default();
        let err = m
            .match_value(
                &json!({"a": "<uuid:1>", "b": "<uuid:1>"}),
                &json!({"a": "x-1", "b": "x-2"}),
            )
            .unwrap_err();
        assert_eq!(err.path, "$.b");
    }

    #[test]
    fn placeholders_inside_arns() {
        let mut m = Matcher::default();
        let want =
            json!("arn:<partition>:lambda:<region>:111111111111:function:<lambda_function_1_name>");
        assert!(m
            .match_value(
                &want,
                &json!("arn:aws:lambda:us-east-1:111111111111:function:fn")
            )
            .is_ok());
        assert_eq!(
            m.bindings()
                .get("lambda_function_1_name")
                .map(String::as_str),
            Some("fn")
        );
        assert!(m
            .match_value(
                &want,
                &json!("arn:aws:lambda:us-east-1:222222222222:function:fn")
            )
            .is_err());
        // Bound now: another function name no longer matches.
        assert!(m
            .match_value(
                &want,
                &json!("arn:aws:lambda:us-east-1:111111111111:function:other")
            )
            .is_err());
    }

    #[test]
    fn unnumbered_placeholders_are_free() {
        let mut m = Matcher::default();
        assert!(m
            .match_value(&json!(["<request_id>", "<request_id>"]), &json!(["a", "b"]))
            .is_ok());
        assert!(m
            .match_value(
                &json!("arn:aws:lambda:x:1:function:lambda_function_name"),
                &json!("arn:aws:lambda:x:1:function:f_1")
            )
            .is_ok());
    }

    #[test]
    fn wildcard_words_and_exactness() {
        let mut m = Matcher::default();
        assert!(m
            .match_value(&json!({"t": "timestamp"}), &json!({"t": 1234}))
            .is_ok());
        assert!(m.match_value(&json!({"a": 1}), &json!({"a": 1.0})).is_err());
        assert!(m
            .match_value(&json!({"a": 1}), &json!({"a": 1, "b": 2}))
            .is_err());
        assert!(m.match_value(&json!("abc"), &json!("abd")).is_err());
        assert!(m
            .match_value(
                &json!({"RequestId": "RequestId"}),
                &json!({"RequestId": "f00"})
            )
            .is_ok());
        assert!(m
            .match_value(&json!({"RequestId": "RequestId"}), &json!({}))
            .is_err());
    }

    #[test]
    fn json_text_is_decoded_only_in_histories() {
        let mut m = Matcher::default();
        let want = vec![json!({
            "type": "PassStateExited",
            "stateExitedEventDetails": {"name": "P", "output": {"a": 1}}
        })];
        let got = vec![json!({
            "type": "PassStateExited",
            "stateExitedEventDetails": {"name": "P", "output": "{\"a\":1}"}
        })];
        assert!(m.match_history(&want, &got, HistoryMode::Full).is_ok());
        assert!(m
            .match_value(&json!({"a": 1}), &json!("{\"a\":1}"))
            .is_err());
    }

    #[test]
    fn json_text_is_decoded_only_where_aws_puts_it() {
        let event =
            |details: Value| vec![json!({"type": "T", "taskScheduledEventDetails": details})];
        let mut m = Matcher::default();
        // `parameters` is JSON text; other JSON text in either form compares by value.
        assert!(m
            .match_history(
                &event(json!({"parameters": "[1,2]"})),
                &event(json!({"parameters": "[1, 2]"})),
                HistoryMode::Full
            )
            .is_ok());
        // A string inside it is data: JSON text there must match as text.
        assert!(m
            .match_history(
                &event(json!({"parameters": {"Payload": "{\"a\":1}"}})),
                &event(json!({"parameters": "{\"Payload\":\"{\\\"a\\\": 1}\"}"})),
                HistoryMode::Full
            )
            .is_err());
        assert!(m
            .match_history(
                &event(json!({"parameters": {"Payload": {"a": 1}}})),
                &event(json!({"parameters": "{\"Payload\":\"{\\\"a\\\":1}\"}"})),
                HistoryMode::Full
            )
            .is_err());
        // Fields AWS returns as plain strings are never decoded.
        assert!(m
            .match_history(
                &event(json!({"resource": "[1,2]"})),
                &event(json!({"resource": "[1, 2]"})),
                HistoryMode::Full
            )
            .is_err());
        // Each value of `assignedVariables` is JSON text.
        let exited = |vars: Value| {
            vec![
                json!({"type": "PassStateExited", "stateExitedEventDetails": {"assignedVariables": vars}}),
            ]
        };
        assert!(m
            .match_history(
                &exited(json!({"x": {"a": [1]}, "y": "\"s\""})),
                &exited(json!({"x": "{\"a\":[1]}", "y": "\"s\""})),
                HistoryMode::Full
            )
            .is_ok());
    }

    #[test]
    fn a_cause_of_json_text_is_decoded_at_its_root_only() {
        let mut m = Matcher::default();
        assert!(m
            .match_json_text(&json!({"e": "x"}), &json!("{\"e\":\"x\"}"))
            .is_ok());
        assert!(m
            .match_json_text(&json!({"e": {"a": 1}}), &json!("{\"e\":\"{\\\"a\\\":1}\"}"))
            .is_err());
    }

    #[test]
    fn skip_paths() {
        let skip = SkipPaths::parse(&[
            "$..SdkHttpMetadata".to_owned(),
            "$..events[1].previousEventId".to_owned(),
        ]);
        let mut m = Matcher::new(skip);
        assert!(m
            .match_value(
                &json!({"SdkHttpMetadata": {"x": 1}, "k": 1}),
                &json!({"k": 1})
            )
            .is_ok());
        let want = vec![json!({"previousEventId": 0}), json!({"previousEventId": 0})];
        let got = vec![json!({"previousEventId": 0}), json!({"previousEventId": 7})];
        assert!(m.match_history(&want, &got, HistoryMode::Full).is_ok());
        let got = vec![json!({"previousEventId": 3}), json!({"previousEventId": 0})];
        assert!(m.match_history(&want, &got, HistoryMode::Full).is_err());
    }

    #[test]
    fn parallel_normalised_events_match_as_a_multiset() {
        let want = vec![
            json!({"id": 1, "type": "ParallelStateStarted"}),
            json!({"id": [0], "previousEventId": 0, "type": "B"}),
            json!({"id": [0], "previousEventId": 0, "type": "A"}),
            json!({"id": 5, "previousEventId": 4, "type": "End"}),
        ];
        let got = vec![
            json!({"id": 1, "type": "ParallelStateStarted"}),
            json!({"id": 2, "previousEventId": 1, "type": "A"}),
            json!({"id": 3, "previousEventId": 2, "type": "B"}),
            json!({"id": 4, "previousEventId": 3, "type": "ParallelStateSucceeded"}),
            json!({"id": 5, "previousEventId": 4, "type": "End"}),
        ];
        let mut m = Matcher::default();
        assert!(m
            .match_history(&want, &got, HistoryMode::ParallelNormalised)
            .is_ok());
        let mut bad = got.clone();
        bad[2] = json!({"id": 3, "previousEventId": 2, "type": "C"});
        assert!(m
            .match_history(&want, &bad, HistoryMode::ParallelNormalised)
            .is_err());
    }
}
