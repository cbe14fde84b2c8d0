//! `cairn run --format pretty`: the execution as people read it, a line per state as it runs,
//! then the result and, on request, the history as a table.

use cairn_interpreter::{HistoryEvent, Status};
use cairn_runtime::RunResult;
use serde_json::Value;

const WIDTH: usize = 100;

pub struct Pretty {
    color: bool,
    start_ms: Option<i64>,
    /// Nesting inside Parallel and Map states, for indentation.
    depth: usize,
}

impl Pretty {
    pub fn new(color: bool) -> Pretty {
        Pretty {
            color,
            start_ms: None,
            depth: 0,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn elapsed(&mut self, event: &HistoryEvent) -> String {
        let start = *self.start_ms.get_or_insert(event.timestamp_ms);
        format_elapsed(event.timestamp_ms.saturating_sub(start))
    }

    /// Prints one history event as it happens (only the ones people follow).
    pub fn event(&mut self, event: &HistoryEvent) {
        let elapsed = self.elapsed(event);
        let kind = &*event.event_type;
        let name = detail_str(&event.details, "name");
        let indent = "  ".repeat(self.depth + 1);
        let line = if let Some(state_type) = kind.strip_suffix("StateEntered") {
            Some(format!(
                "{indent}{} {} {}",
                self.paint("36", "→"),
                self.paint("1", name.unwrap_or("?")),
                self.paint("2", &format!("({state_type})"))
            ))
        } else if kind.ends_with("StateExited") {
            let output = event
                .details
                .get("output")
                .map(|o| shorten(&o.to_string(), WIDTH - 30))
                .unwrap_or_default();
            Some(format!(
                "{indent}{} {} {}",
                self.paint("32", "←"),
                name.unwrap_or("?"),
                self.paint("2", &output)
            ))
        } else if (kind.ends_with("Failed") || kind.ends_with("TimedOut"))
            && !kind.starts_with("Execution")
        {
            let error = detail_str(&event.details, "error").unwrap_or("");
            let cause = detail_str(&event.details, "cause").unwrap_or("");
            Some(format!(
                "{indent}{} {kind} {} {}",
                self.paint("31", "✗"),
                self.paint("31", error),
                self.paint("2", &shorten(cause, WIDTH - 30))
            ))
        } else {
            None
        };
        if matches!(kind, "ParallelStateStarted" | "MapStateStarted") {
            self.depth += 1;
        }
        if matches!(
            kind,
            "ParallelStateSucceeded"
                | "ParallelStateFailed"
                | "ParallelStateAborted"
                | "MapStateSucceeded"
                | "MapStateFailed"
                | "MapStateAborted"
        ) {
            self.depth = self.depth.saturating_sub(1);
        }
        if let Some(line) = line {
            println!("{} {line}", self.paint("2", &format!("{elapsed:>9}")));
        }
    }

    /// Prints how the execution ended, and the history table when asked.
    pub fn result(&self, run: &RunResult, with_history: bool) {
        let status = run.status.as_aws_str();
        let painted = match run.status {
            Status::Succeeded => self.paint("1;32", status),
            Status::Running => self.paint("1;33", status),
            _ => self.paint("1;31", status),
        };
        println!(
            "\n{painted} in {} ({} history events)",
            format_elapsed(run.end_ms.saturating_sub(run.start_ms)),
            run.history.len()
        );
        if let Some(error) = &run.error {
            println!("{} {error}", self.paint("1", "error:"));
        }
        if let Some(cause) = &run.cause {
            println!("{} {cause}", self.paint("1", "cause:"));
        }
        if let Some(output) = &run.output {
            let text = serde_json::to_string_pretty(output.as_ref())
                .unwrap_or_else(|_| output.to_string());
            println!("{}\n{text}", self.paint("1", "output:"));
        }
        if with_history {
            self.history_table(&run.history);
        }
    }

    fn history_table(&self, history: &[HistoryEvent]) {
        println!("\n{}", self.paint("1", "history:"));
        println!(
            "{}",
            self.paint(
                "2",
                &format!(
                    "{:>5} {:>5} {:>9}  {:<32} details",
                    "id", "prev", "elapsed", "type"
                )
            )
        );
        let start = history.first().map(|e| e.timestamp_ms).unwrap_or(0);
        for event in history {
            let details = summary(&event.details);
            println!(
                "{:>5} {:>5} {:>9}  {:<32} {}",
                event.id,
                event.previous_event_id,
                format_elapsed(event.timestamp_ms.saturating_sub(start)),
                event.event_type,
                shorten(&details, WIDTH - 56)
            );
        }
    }
}

fn detail_str<'a>(details: &'a Value, key: &str) -> Option<&'a str> {
    details.get(key).and_then(Value::as_str)
}

/// The useful part of an event's details in one line: name, error, then the payloads.
fn summary(details: &Value) -> String {
    let Value::Object(map) = details else {
        return String::new();
    };
    let mut parts = Vec::new();
    for key in ["name", "error", "cause", "resource", "input", "output"] {
        if let Some(value) = map.get(key) {
            let text = match value {
                Value::String(s) if key != "input" && key != "output" => s.clone(),
                other => other.to_string(),
            };
            parts.push(format!("{key}={text}"));
        }
    }
    parts.join(" ")
}

fn format_elapsed(ms: i64) -> String {
    if ms < 1000 {
        format!("+{ms}ms")
    } else if ms < 60_000 {
        format!("+{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("+{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        text.to_owned()
    } else {
        let head: String = text.chars().take(limit.saturating_sub(1)).collect();
        format!("{head}…")
    }
}
