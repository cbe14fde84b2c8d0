//! Transitions inside one scope: every target names a state of the same scope, some state
//! ends the workflow, and every state can be reached from StartAt.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::checker::{at, at_index};
use super::Diagnostic;

const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";

/// Diagnostics for the scope whose fields live under `base` ("" for the machine), in AWS's
/// order: missing targets (StartAt first), then either the missing terminal state or the
/// unreachable states.
pub(crate) fn transitions(
    base: &str,
    start_at: &str,
    states: &Map<String, Value>,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut missing = |target: &str, location: String| {
        diagnostics.push(Diagnostic::error(
            MISSING_TRANSITION_TARGET,
            Some(location),
            format!("Missing 'Next' target: {target}"),
        ));
    };
    if !states.contains_key(start_at) {
        missing(start_at, at(base, "StartAt"));
    }
    let mut edges: Vec<Vec<&str>> = Vec::with_capacity(states.len());
    let mut has_terminal = false;
    for (name, state) in states {
        let mut targets = Vec::new();
        for (target, field) in targets_of(state) {
            if states.contains_key(target) {
                targets.push(target);
            } else {
                missing(target, field.location(&format!("{base}/States/{name}")));
            }
        }
        edges.push(targets);
        has_terminal |= is_terminal(state);
    }
    if !has_terminal {
        diagnostics.push(Diagnostic::error(
            "MISSING_END_STATE",
            None,
            "Workflow has no terminal state",
        ));
        return diagnostics;
    }
    let names: Vec<&str> = states.keys().map(String::as_str).collect();
    // Looked up once per reached state: a linear search made large definitions quadratic.
    let index_of: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut reached: HashSet<&str> = HashSet::new();
    let mut queue: Vec<&str> = Vec::new();
    if states.contains_key(start_at) {
        reached.insert(start_at);
        queue.push(start_at);
    }
    while let Some(current) = queue.pop() {
        let Some(&index) = index_of.get(current) else {
            continue;
        };
        for target in edges.get(index).into_iter().flatten() {
            if reached.insert(target) {
                queue.push(target);
            }
        }
    }
    for name in &names {
        if !reached.contains(name) {
            diagnostics.push(Diagnostic::error(
                MISSING_TRANSITION_TARGET,
                Some(format!("{base}/States/{name}")),
                format!("State \"{name}\" is not reachable."),
            ));
        }
    }
    diagnostics
}

/// Where in a state a transition is written; its JSON-pointer location is built only when a
/// diagnostic needs it (most definitions have none).
enum Field {
    Named(&'static str),
    ItemNext(&'static str, usize),
}

impl Field {
    fn location(&self, state_location: &str) -> String {
        match self {
            Field::Named(field) => at(state_location, field),
            Field::ItemNext(list, index) => at(&at_index(state_location, list, *index), "Next"),
        }
    }
}

/// A state's transitions and where each is written: Next, Default, each Choice rule's Next
/// and each catcher's Next.
fn targets_of(state: &Value) -> Vec<(&str, Field)> {
    let mut targets = Vec::new();
    let Some(object) = state.as_object() else {
        return targets;
    };
    for field in ["Next", "Default"] {
        if let Some(target) = object.get(field).and_then(Value::as_str) {
            targets.push((target, Field::Named(field)));
        }
    }
    for list in ["Choices", "Catch"] {
        let Some(items) = object.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (index, item) in items.iter().enumerate() {
            if let Some(target) = item.get("Next").and_then(Value::as_str) {
                targets.push((target, Field::ItemNext(list, index)));
            }
        }
    }
    targets
}

fn is_terminal(state: &Value) -> bool {
    matches!(
        state.get("Type").and_then(Value::as_str),
        Some("Succeed" | "Fail")
    ) || state.get("End") == Some(&Value::Bool(true))
}
