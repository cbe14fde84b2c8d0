//! Transitions inside one scope: every target names a state of the same scope, some state
//! ends the workflow, and every state can be reached from StartAt.

use std::collections::HashSet;

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
        let location = format!("{base}/States/{name}");
        let mut targets = Vec::new();
        for (target, target_location) in targets_of(state, &location) {
            if states.contains_key(target) {
                targets.push(target);
            } else {
                missing(target, target_location);
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
    let mut reached: HashSet<&str> = HashSet::new();
    let mut queue: Vec<&str> = Vec::new();
    if states.contains_key(start_at) {
        reached.insert(start_at);
        queue.push(start_at);
    }
    while let Some(current) = queue.pop() {
        let Some(index) = names.iter().position(|name| *name == current) else {
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

/// A state's transitions with their locations: Next, Default, each Choice rule's Next and
/// each catcher's Next.
fn targets_of<'v>(state: &'v Value, location: &str) -> Vec<(&'v str, String)> {
    let mut targets = Vec::new();
    let Some(object) = state.as_object() else {
        return targets;
    };
    for field in ["Next", "Default"] {
        if let Some(target) = object.get(field).and_then(Value::as_str) {
            targets.push((target, at(location, field)));
        }
    }
    for list in ["Choices", "Catch"] {
        let Some(items) = object.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (index, item) in items.iter().enumerate() {
            if let Some(target) = item.get("Next").and_then(Value::as_str) {
                targets.push((target, at(&at_index(location, list, index), "Next")));
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
