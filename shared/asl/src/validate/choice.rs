//! Choice rules: JSONPath rules (`Variable` + one comparison operator, or `And`/`Or`/`Not`)
//! and JSONata rules (`Condition`). Only top-level rules carry `Next` (and `Assign`/`Output`).

use serde_json::{Map, Value};

use super::checker::{wrong_language, Checker, Lang, MAX_NESTING};
use super::location::{Loc, Step, Trail};
use super::lookup::Lookup;
use super::paths::{self, Root};
use super::tables::{self, Operand, PATH_OPERATORS};

pub(crate) fn choices(checker: &mut Checker<'_>, value: &Value, lang: Lang, location: Loc<'_>) {
    let Some(rules) = value.as_array() else {
        checker.expect_type(location, "ARRAY");
        return;
    };
    if rules.is_empty() {
        checker.error(location, "Value cannot be empty");
        return;
    }
    // Nested rules are checked from an explicit stack so deep And/Or/Not nesting cannot
    // exhaust the call stack.
    let mut trail = Trail::default();
    let mut stack: Vec<(&Value, usize, usize)> = Vec::with_capacity(rules.len());
    for (index, rule) in rules.iter().enumerate().rev() {
        stack.push((rule, trail.push(Trail::ROOT, Step::Index(index)), 0));
    }
    let mut nested = Vec::new();
    while let Some((rule, node, depth)) = stack.pop() {
        let rule_location = trail.at(&location, node);
        if depth > MAX_NESTING {
            checker.too_deep(rule_location);
            continue;
        }
        rule_fields(checker, rule, lang, rule_location, depth == 0, &mut nested);
        for (child, step) in nested.drain(..).rev() {
            stack.push((child, trail.push(node, step), depth + 1));
        }
    }
}

/// Checks one rule and adds its nested rules to `nested`, each with its step below this rule.
fn rule_fields<'v>(
    checker: &mut Checker<'_>,
    rule: &'v Value,
    lang: Lang,
    location: Loc<'_>,
    top_level: bool,
    nested: &mut Vec<(&'v Value, Step<'v>)>,
) {
    let Some(object) = rule.as_object() else {
        checker.expect_type(location, "OBJECT");
        return;
    };
    if top_level {
        checker.required(object, &["Next"], location);
    }
    for key in object.keys() {
        let known = match key.as_str() {
            "Comment" => true,
            "Next" | "Assign" | "Output" => top_level,
            "Variable" | "And" | "Or" | "Not" | "Condition" => true,
            other => tables::is_comparison_operator(other),
        };
        if !known {
            checker.error(location, format!("Field '{key}' is not supported"));
        } else if let Some(only) = tables::field_language(key) {
            if lang.refuses(only) {
                checker.error(location, wrong_language(lang, key));
            }
        }
    }
    let selectors: &[&str] = match lang {
        Lang::JsonPath => &["And", "Or", "Not", "Variable"],
        Lang::Jsonata => &["Condition"],
    };
    let present = selectors.iter().filter(|field| object.has(field)).count();
    if present != 1 {
        checker.error(
            location,
            "The object must have only one of the following fields, [And, Or, Not, Variable, Condition]",
        );
    }
    match lang {
        Lang::JsonPath => jsonpath_rule(checker, object, location, nested),
        Lang::Jsonata => {
            if let Some(condition) = object.find("Condition") {
                let valid = condition.is_boolean()
                    || condition.as_str().and_then(paths::jsonata_body).is_some();
                if !valid {
                    checker.expect_type(location.field("Condition"), "BOOLEAN");
                }
            }
        }
    }
    if let Some(next) = object.find("Next") {
        checker.string(next, location.field("Next"));
    }
    if top_level {
        if let Some(assign) = object.find("Assign") {
            checker.assign(assign, lang, location.field("Assign"));
        }
    }
    if lang == Lang::Jsonata {
        for key in ["Condition", "Output", "Assign"] {
            if let Some(value) = object.find(key) {
                checker.jsonata_values(value, location.field(key), false, false);
            }
        }
    }
}

fn jsonpath_rule<'v>(
    checker: &mut Checker<'_>,
    object: &'v Map<String, Value>,
    location: Loc<'_>,
    nested: &mut Vec<(&'v Value, Step<'v>)>,
) {
    for combinator in ["And", "Or"] {
        let Some(value) = object.find(combinator) else {
            continue;
        };
        let combinator_location = location.field(combinator);
        match value.as_array() {
            Some(rules) if rules.is_empty() => {
                checker.error(combinator_location, "Value cannot be empty");
            }
            Some(rules) => {
                for (index, rule) in rules.iter().enumerate() {
                    nested.push((rule, Step::KeyIndex(combinator, index)));
                }
            }
            None => checker.expect_type(combinator_location, "ARRAY"),
        }
    }
    if let Some(rule) = object.find("Not") {
        nested.push((rule, Step::Key("Not")));
    }
    let operators: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|key| tables::is_comparison_operator(key))
        .collect();
    if let Some(variable) = object.find("Variable") {
        let variable_location = location.field("Variable");
        match variable.as_str() {
            Some(text) => match paths::path_shape(text) {
                Some(shape) if shape.definite => {}
                _ => checker.not_reference_path(text, variable_location),
            },
            None => checker.expect_type(variable_location, "STRING"),
        }
        if operators.is_empty() {
            checker.error(
                location,
                "These fields are required: [a comparison operator]",
            );
        } else if operators.len() > 1 {
            checker.error(
                location,
                format!(
                    "There should only be one of the following fields: [{}]",
                    operators.join(", ")
                ),
            );
        }
    } else if !operators.is_empty() {
        checker.error(location, "These fields are required: [Variable]");
    }
    for operator in operators {
        let Some(operand) = object.find(operator) else {
            continue;
        };
        let operand_location = location.field(operator);
        if PATH_OPERATORS.contains(&operator) {
            match operand.as_str() {
                Some(text) => match paths::path_shape(text) {
                    Some(shape) if shape.definite || shape.root == Root::Variable => {}
                    _ => checker.not_reference_path(text, operand_location),
                },
                None => checker.expect_type(operand_location, "STRING"),
            }
            continue;
        }
        let Some(kind) = tables::literal_operand(operator) else {
            continue;
        };
        match kind {
            Operand::String => checker.string(operand, operand_location),
            Operand::Number => {
                if !operand.is_number() {
                    checker.expect_type(operand_location, "NUMBER");
                }
            }
            Operand::Boolean => {
                if !operand.is_boolean() {
                    checker.expect_type(operand_location, "BOOLEAN");
                }
            }
            Operand::Timestamp => match operand.as_str() {
                Some(text) if paths::is_rfc3339(text) => {}
                Some(_) => {
                    checker.error(operand_location, "String does not match RFC3339 timestamp")
                }
                None => checker.expect_type(operand_location, "STRING"),
            },
        }
    }
}
