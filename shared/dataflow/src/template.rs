//! Payload templates: Parameters, ResultSelector, ItemSelector, Credentials and
//! JSONPath-mode Assign.

use crate::intrinsic::Intrinsic;
use crate::{CompileError, DataflowError, Entropy, Scope};
use cairn_jsonpath::Path;
use serde_json::{Map, Value};

/// Deepest template nesting accepted; deeper input is rejected rather than risking the stack.
const MAX_TEMPLATE_DEPTH: usize = 256;

/// A compiled payload template. Keys ending in `.$` take a path (`$`, `$$`, `$var`)
/// or an intrinsic function (`States.*`), and lose the `.$` in the output; other
/// values are copied as written.
#[derive(Debug, Clone)]
pub struct PayloadTemplate {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    /// A subtree without any `.$` key.
    Static(Value),
    Object(Box<ObjectNode>),
    Array(Vec<Node>),
    /// The field holding a path or a call is named by whoever holds the node (its object's
    /// key, a [`DynamicField`]'s name): AWS quotes that name in errors.
    Path(Path),
    Intrinsic(Box<Intrinsic>),
}

/// An object template with at least one `.$` key somewhere under it.
#[derive(Debug, Clone)]
struct ObjectNode {
    fields: Vec<Field>,
    /// When no two fields give the same output key: the output object with every static
    /// field in place and `null` where the others go, in field order. Copying it and filling
    /// the gaps in order hashes no key, where inserting each field hashed and probed for it.
    skeleton: Option<Map<String, Value>>,
}

impl ObjectNode {
    fn new(fields: Vec<Field>) -> ObjectNode {
        let mut skeleton = Map::with_capacity(fields.len());
        for field in &fields {
            let value = match &field.node {
                Node::Static(value) => value.clone(),
                _ => Value::Null,
            };
            skeleton.insert(field.output_key().to_owned(), value);
        }
        // A repeated output key (`"a"` and `"a.$"`) keeps its first position and its last
        // value: the map's own insert decides that, field by field.
        let unique = skeleton.len() == fields.len();
        ObjectNode {
            fields,
            skeleton: unique.then_some(skeleton),
        }
    }
}

/// One key of an object template. `key` is the key as written: for a `.$` key, the output
/// key is it without the `.$`, and the key as written is what errors quote (one string kept
/// for both, as the definition's keys are many).
#[derive(Debug, Clone)]
struct Field {
    key: String,
    node: Node,
}

impl Field {
    fn output_key(&self) -> &str {
        match self.node {
            Node::Path(_) | Node::Intrinsic(_) => self.key.strip_suffix(".$").unwrap_or(&self.key),
            _ => &self.key,
        }
    }
}

impl PayloadTemplate {
    pub fn compile(v: &Value) -> Result<Self, CompileError> {
        Ok(PayloadTemplate {
            root: compile(v, 0)?.unwrap_or_else(|| Node::Static(v.clone())),
        })
    }

    /// Builds the payload. Paths read `scope` (`$` = scope.input).
    pub fn evaluate(
        &self,
        scope: &Scope,
        entropy: &mut dyn Entropy,
    ) -> Result<Value, DataflowError> {
        evaluate(&self.root, scope, entropy, "")
    }

    /// True when the template has no `.$` field, so evaluating it just copies it.
    pub fn is_static(&self) -> bool {
        matches!(self.root, Node::Static(_))
    }
}

fn invalid_field(key: &str) -> CompileError {
    CompileError::new(
        "",
        format!("The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"),
    )
}

/// The node of `v`, or `None` when nothing under `v` has a `.$` key: the caller copies such a
/// subtree whole, once. Building the fields of a static subtree and copying it at every
/// level it nests in was work thrown away, quadratic in its depth.
fn compile(v: &Value, depth: usize) -> Result<Option<Node>, CompileError> {
    if depth > MAX_TEMPLATE_DEPTH {
        return Err(CompileError::new(
            "",
            format!("The payload template nests deeper than {MAX_TEMPLATE_DEPTH} levels"),
        ));
    }
    match v {
        Value::Object(map) => {
            // Filled from the first dynamic field on, with the static fields before it.
            let mut fields: Option<Vec<Field>> = None;
            for (i, (key, value)) in map.iter().enumerate() {
                let node = if key.ends_with(".$") {
                    Some(compile_dynamic(key, value).map_err(|e| e.under(key))?)
                } else {
                    compile(value, depth + 1).map_err(|e| e.under(key))?
                };
                match (&mut fields, node) {
                    (Some(fields), node) => fields.push(Field {
                        key: key.clone(),
                        node: node.unwrap_or_else(|| Node::Static(value.clone())),
                    }),
                    (None, Some(node)) => {
                        let mut all = Vec::with_capacity(map.len());
                        all.extend(map.iter().take(i).map(|(key, value)| Field {
                            key: key.clone(),
                            node: Node::Static(value.clone()),
                        }));
                        all.push(Field {
                            key: key.clone(),
                            node,
                        });
                        fields = Some(all);
                    }
                    (None, None) => {}
                }
            }
            Ok(fields.map(|fields| Node::Object(Box::new(ObjectNode::new(fields)))))
        }
        Value::Array(items) => {
            let mut nodes: Option<Vec<Node>> = None;
            for (i, item) in items.iter().enumerate() {
                let node = compile(item, depth + 1).map_err(|e| e.under(&i.to_string()))?;
                match (&mut nodes, node) {
                    (Some(nodes), node) => {
                        nodes.push(node.unwrap_or_else(|| Node::Static(item.clone())))
                    }
                    (None, Some(node)) => {
                        let mut all = Vec::with_capacity(items.len());
                        all.extend(items.iter().take(i).cloned().map(Node::Static));
                        all.push(node);
                        nodes = Some(all);
                    }
                    (None, None) => {}
                }
            }
            Ok(nodes.map(Node::Array))
        }
        _ => Ok(None),
    }
}

fn compile_dynamic(key: &str, value: &Value) -> Result<Node, CompileError> {
    let Value::String(src) = value else {
        return Err(invalid_field(key));
    };
    if src.starts_with("States.") {
        let call = Intrinsic::compile(src).map_err(|message| {
            CompileError::new(
                "",
                if message.is_empty() {
                    invalid_field(key).message
                } else {
                    message
                },
            )
        })?;
        return Ok(Node::Intrinsic(Box::new(call)));
    }
    let path = Path::parse(src).map_err(|_| invalid_field(key))?;
    Ok(Node::Path(path))
}

/// `field` names a path or call node (the key it is under, as written).
fn evaluate(
    node: &Node,
    scope: &Scope,
    entropy: &mut dyn Entropy,
    field: &str,
) -> Result<Value, DataflowError> {
    // Recursion follows the compiled tree, whose depth compile() bounded.
    match node {
        Node::Static(v) => Ok(v.clone()),
        Node::Object(object) => {
            if let Some(skeleton) = &object.skeleton {
                let mut out = skeleton.clone();
                // Output keys are unique, so the skeleton's values are the fields in order.
                for (f, slot) in object.fields.iter().zip(out.values_mut()) {
                    if !matches!(f.node, Node::Static(_)) {
                        *slot = evaluate(&f.node, scope, entropy, &f.key)?;
                    }
                }
                return Ok(Value::Object(out));
            }
            let mut out = Map::with_capacity(object.fields.len());
            for f in &object.fields {
                out.insert(
                    f.output_key().to_owned(),
                    evaluate(&f.node, scope, entropy, &f.key)?,
                );
            }
            Ok(Value::Object(out))
        }
        Node::Array(items) => items
            .iter()
            .map(|n| evaluate(n, scope, entropy, field))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Path(path) => scope.select_for_field(path, field),
        Node::Intrinsic(call) => call.evaluate(scope, entropy, field),
    }
}

/// A single field whose string value is a path or an intrinsic function, such as a
/// Fail state's `ErrorPath`/`CausePath` or one `.$` entry: the same rules and
/// messages as a payload template key, with `field` naming it in errors.
#[derive(Debug, Clone)]
pub struct DynamicField {
    node: Node,
    field: String,
}

impl DynamicField {
    pub fn compile(field: &str, value: &Value) -> Result<Self, CompileError> {
        Ok(DynamicField {
            node: compile_dynamic(field, value)?,
            field: field.to_owned(),
        })
    }

    pub fn evaluate(
        &self,
        scope: &Scope,
        entropy: &mut dyn Entropy,
    ) -> Result<Value, DataflowError> {
        evaluate(&self.node, scope, entropy, &self.field)
    }

    /// The path, when the field is a path rather than an intrinsic call.
    pub fn path(&self) -> Option<&Path> {
        match &self.node {
            Node::Path(path) => Some(path),
            _ => None,
        }
    }
}
