//! Transitions inside one scope: every target names a state of the same scope, some state
//! ends the workflow, and every state can be reached from StartAt.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::checker::{at, at_index};
use super::lookup::Lookup;
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
    // States are numbered in document order (the map's keys are unique), so the edges and the
    // reached set are plain vectors. A transition usually goes to the state written next (and
    // StartAt to the first): that guess is checked first, and the names are hashed only when
    // one misses.
    let names: Vec<&str> = states.keys().map(String::as_str).collect();
    let mut index_of: Option<HashMap<&str, usize>> = None;
    let mut find = |name: &str, guess: usize| -> Option<usize> {
        if names.get(guess) == Some(&name) {
            return Some(guess);
        }
        index_of
            .get_or_insert_with(|| names.iter().enumerate().map(|(i, n)| (*n, i)).collect())
            .get(name)
            .copied()
    };
    let start = find(start_at, 0);
    if start.is_none() {
        missing(start_at, at(base, "StartAt"));
    }
    let mut edges: Vec<usize> = Vec::with_capacity(states.len());
    let mut first_edge: Vec<usize> = Vec::with_capacity(states.len() + 1);
    let mut has_terminal = false;
    for (index, (name, state)) in states.iter().enumerate() {
        first_edge.push(edges.len());
        has_terminal |= for_each_target(state, |target, field| match find(target, index + 1) {
            Some(target) => edges.push(target),
            None => missing(target, field.location(&format!("{base}/States/{name}"))),
        });
    }
    first_edge.push(edges.len());
    if !has_terminal {
        diagnostics.push(Diagnostic::error(
            "MISSING_END_STATE",
            None,
            "Workflow has no terminal state",
        ));
        return diagnostics;
    }
    let mut reached = vec![false; states.len()];
    let mut queue: Vec<usize> = Vec::new();
    if let Some(start) = start {
        reached[start] = true;
        queue.push(start);
    }
    while let Some(current) = queue.pop() {
        for &target in &edges[first_edge[current]..first_edge[current + 1]] {
            if !reached[target] {
                reached[target] = true;
                queue.push(target);
            }
        }
    }
    for (name, reached) in states.keys().zip(reached) {
        if !reached {
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

/// Hands each of a state's transitions and where it is written to `visit`, in AWS's order:
/// Next, Default, each Choice rule's Next and each catcher's Next. Returns true when the state
/// ends the workflow. The state's fields are read in one pass: this runs once per state.
fn for_each_target<'v>(state: &'v Value, mut visit: impl FnMut(&'v str, Field)) -> bool {
    let Some(object) = state.as_object() else {
        return false;
    };
    let mut named: [Option<&'v Value>; 2] = [None, None];
    let mut lists: [Option<&'v Value>; 2] = [None, None];
    let mut terminal = false;
    for (key, value) in object {
        match key.as_str() {
            "Next" => named[0] = Some(value),
            "Default" => named[1] = Some(value),
            "Choices" => lists[0] = Some(value),
            "Catch" => lists[1] = Some(value),
            "Type" => terminal |= matches!(value.as_str(), Some("Succeed" | "Fail")),
            "End" => terminal |= *value == Value::Bool(true),
            _ => {}
        }
    }
    for (field, value) in ["Next", "Default"].into_iter().zip(named) {
        if let Some(target) = value.and_then(Value::as_str) {
            visit(target, Field::Named(field));
        }
    }
    for (list, value) in ["Choices", "Catch"].into_iter().zip(lists) {
        let Some(items) = value.and_then(Value::as_array) else {
            continue;
        };
        for (index, item) in items.iter().enumerate() {
            if let Some(target) = item.find("Next").and_then(Value::as_str) {
                visit(target, Field::ItemNext(list, index));
            }
        }
    }
    terminal
}
