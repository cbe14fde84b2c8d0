#![forbid(unsafe_code)]
//! JSONPath as AWS Step Functions evaluates it.
//!
//! AWS runs Jayway JsonPath behind its JSONPath query language, so the syntax and,
//! more importantly, the failure texts follow Jayway: a definite path that misses
//! fails with `No results for path: $['a']['b']` (leaf missing) or
//! `Missing property in path $['a']` (an intermediate property missing), while an
//! indefinite path (wildcards, slices, filters, deep scan, unions) never fails on
//! missing data and yields the array of its matches.
//!
//! The grammar is Jayway's too, quirks included: a `.` may precede a bracket
//! (`$.[0]`, `$.a.[*].['b', 'c']`, `$..['a']`, `$.[?(@.x > 0)]`), a slice reads no
//! step, and filters compare with Jayway's operators and typing rules (see `filter`).
//!
//! Roots: `$` is the state input, `$$` the context object, `$name` an ASL variable.

mod eval;
mod filter;
mod filter_parse;
mod java;
mod parse;
mod set;

use serde_json::Value;

pub use set::set_at;

/// Deepest nesting (brackets, parentheses, filter sub-paths) the parser accepts.
/// Past this a path is rejected instead of risking the stack.
pub const MAX_DEPTH: usize = 64;

/// Which document a path reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's (effective) input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a variable assigned by an earlier `Assign`.
    Variable(String),
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    src: String,
    root: Root,
    segments: Vec<Segment>,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    /// `.x`, `[..]`: applies the selector to the current nodes.
    Child(Selector),
    /// `..x`: applies the selector to the current nodes and all their descendants.
    Descendant(Selector),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selector {
    /// One or more property names: `.a`, `['a']`, `['a','b']`.
    Names(Vec<String>),
    /// One or more array indexes: `[0]`, `[-1]`, `[0,2]`.
    Indexes(Vec<i64>),
    Wildcard,
    /// `[start:end]`; Jayway reads no step (`[0:4:2]` is `[0:4]`).
    Slice {
        start: Option<i64>,
        end: Option<i64>,
    },
    Filter(Box<filter::Expr>),
}

impl Selector {
    fn is_definite(&self) -> bool {
        match self {
            Selector::Names(n) => n.len() == 1,
            Selector::Indexes(i) => i.len() == 1,
            _ => false,
        }
    }
}

/// Why a path could not be parsed or applied. `Display` is the text AWS puts after
/// `Invalid path '<path>' : ` (Jayway's message), where AWS has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PathError {
    kind: PathErrorKind,
    message: String,
}

/// The broad class of a [`PathError`], so callers can pick AWS's wording around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathErrorKind {
    /// The text is not a JSONPath (or not one of the accepted kind, e.g. not a reference path).
    Syntax,
    /// A definite path selected nothing (`No results for path: ...`, `Missing property in path ...`, ...).
    NotFound,
    /// ResultPath could not be merged into the input (`States.ResultPathMatchFailure`).
    ResultPathMatch,
    /// A construct AWS accepts that this implementation does not support.
    Unsupported,
}

impl PathError {
    pub(crate) fn new(kind: PathErrorKind, message: impl Into<String>) -> Self {
        PathError {
            kind,
            message: message.into(),
        }
    }
    pub(crate) fn syntax(message: impl Into<String>) -> Self {
        Self::new(PathErrorKind::Syntax, message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(PathErrorKind::NotFound, message)
    }
    pub fn kind(&self) -> PathErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Path {
    /// Parses any JSONPath (payload templates, InputPath/OutputPath, ItemsPath, Choice `Variable`...).
    pub fn parse(src: &str) -> Result<Path, PathError> {
        parse::parse(src)
    }

    /// Parses a *reference path*: a definite path made only of names and indexes
    /// (ResultPath and the `...Path` fields that must identify a single node).
    pub fn parse_reference(src: &str) -> Result<Path, PathError> {
        let path = parse::parse(src)?;
        if !path.is_definite() {
            return Err(PathError::syntax(format!(
                "'{src}' is not a reference path: it may select more than one node"
            )));
        }
        Ok(path)
    }

    /// The source text, exactly as written.
    pub fn as_str(&self) -> &str {
        &self.src
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// True when the path can select at most one node (only single names and single indexes).
    pub fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Child(sel) if sel.is_definite()))
    }

    /// True for the bare root (`$`, `$$`, `$name`).
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Jayway's canonical form (`$['a'][0]`), the form AWS quotes in its messages.
    pub fn canonical(&self) -> String {
        eval::canonical(&self.root, &self.segments)
    }

    /// Applies the path to the document of its root.
    ///
    /// A definite path yields the node or fails with Jayway's message; an indefinite
    /// path yields the array of all its matches, possibly empty.
    pub fn select(&self, root_value: &Value) -> Result<Value, PathError> {
        eval::select(self, root_value)
    }

    /// Like [`Path::select`] but a definite path that selects nothing yields `None`
    /// instead of an error (for `IsPresent` and other existence checks).
    pub fn select_opt(&self, root_value: &Value) -> Option<Value> {
        self.select(root_value).ok()
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.src)
    }
}

/// Fuzzing entry point: parses arbitrary bytes as a path (lossy UTF-8) and, when
/// it parses, applies it to a small document. Must never panic.
pub fn fuzz_parse(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    if let Ok(path) = Path::parse(&src) {
        let doc = serde_json::json!({"a": [1, {"b": "c"}, [2, 3]], "d": {"e": null}});
        let _ = path.select(&doc);
        let _ = set_at(doc, &path, Value::Bool(true));
    }
}
