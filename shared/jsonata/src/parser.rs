//! Pratt parser and AST post-processing, mirroring jsonata-js's `parser.js` (including its
//! `processAST` pass that builds path steps, stages, tuple bindings and parent-slot resolution).

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::lexer::{Lexer, Tok, Token};
use crate::signature::Signature;
use crate::Error;

/// Nesting limit for the parser: deeper input is rejected instead of overflowing the stack.
pub(crate) const MAX_PARSE_DEPTH: usize = 400;
/// Nesting that fits any caller's stack; deeper expressions are reparsed on a large stack.
pub(crate) const INLINE_PARSE_DEPTH: usize = 32;

// ---------------------------------------------------------------- raw syntax tree

#[derive(Debug, Clone)]
enum Raw {
    End,
    Name(String),
    Variable(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex(String, String),
    Wildcard,
    Descendant,
    Parent,
    /// `?` inside an argument list.
    Placeholder,
    /// A token that has no meaning on its own (e.g. `and` used as a field name is handled by
    /// processing; others report S0201).
    Operator(&'static str),
    Binary(&'static str, Box<RawNode>, Box<RawNode>),
    Neg(Box<RawNode>),
    Array(Vec<RawNode>),
    Object(Vec<(RawNode, RawNode)>),
    Group(Box<RawNode>, Vec<(RawNode, RawNode)>),
    Predicate(Box<RawNode>, Box<RawNode>),
    Sort(Box<RawNode>, Vec<(bool, RawNode)>),
    Function {
        procedure: Box<RawNode>,
        args: Vec<RawNode>,
        partial: bool,
    },
    Lambda {
        params: Vec<String>,
        signature: Option<Arc<Signature>>,
        body: Box<RawNode>,
    },
    Block(Vec<RawNode>),
    Condition(Box<RawNode>, Box<RawNode>, Option<Box<RawNode>>),
    Transform(Box<RawNode>, Box<RawNode>, Option<Box<RawNode>>),
    Bind(Box<RawNode>, Box<RawNode>),
    Focus(Box<RawNode>, String),
    Index(Box<RawNode>, String),
    Apply(Box<RawNode>, Box<RawNode>),
}

#[derive(Debug, Clone)]
struct RawNode {
    raw: Raw,
    pos: usize,
    keep_array: bool,
}

fn raw(raw: Raw, pos: usize) -> RawNode {
    RawNode {
        raw,
        pos,
        keep_array: false,
    }
}

// ---------------------------------------------------------------- processed tree

/// A `%` parent slot, shared (like jsonata-js's slot objects) between the `%` node and the step
/// that binds the ancestor.
#[derive(Debug)]
pub(crate) struct Slot {
    pub label: AtomicUsize,
    level: AtomicI64,
}

pub(crate) type SlotRef = Arc<Slot>;

impl Slot {
    pub fn label(&self) -> String {
        format!("!{}", self.label.load(Ordering::Relaxed))
    }
    fn level(&self) -> i64 {
        self.level.load(Ordering::Relaxed)
    }
    fn set_level(&self, l: i64) {
        self.level.store(l, Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    And,
    Or,
    In,
    Range,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Concat => "&",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::In => "in",
            BinOp::Range => "..",
        }
    }
}

#[derive(Debug)]
pub(crate) enum Stage {
    Filter(Node),
    Index(String),
}

#[derive(Debug)]
pub(crate) struct Group {
    pub pairs: Vec<(Node, Node)>,
    pub pos: usize,
}

#[derive(Debug)]
pub(crate) struct SortTerm {
    pub descending: bool,
    pub expr: Node,
}

#[derive(Debug)]
pub(crate) struct LambdaDef {
    pub params: Vec<String>,
    pub signature: Option<Arc<Signature>>,
    pub body: Node,
    pub thunk: bool,
}

#[derive(Debug)]
pub(crate) struct TransformDef {
    pub pattern: Node,
    pub update: Node,
    pub delete: Option<Node>,
}

#[derive(Debug)]
pub(crate) struct RegexLit {
    pub regex: regex::Regex,
    pub source: String,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Path {
        steps: Vec<Node>,
        keep_singleton_array: bool,
    },
    Binary(BinOp, Box<Node>, Box<Node>),
    Name(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Wildcard,
    Descendant,
    Parent(SlotRef),
    Variable(String),
    Regex(Arc<RegexLit>),
    Condition(Box<Node>, Box<Node>, Option<Box<Node>>),
    Block(Vec<Node>),
    Bind(String, Box<Node>),
    Neg(Box<Node>),
    Array(Vec<Node>),
    Object(Group),
    Function {
        procedure: Box<Node>,
        args: Vec<Node>,
        partial: bool,
    },
    Placeholder,
    Lambda(Arc<LambdaDef>),
    Apply(Box<Node>, Box<Node>),
    Transform(Arc<TransformDef>),
    Sort(Vec<SortTerm>),
}

#[derive(Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub pos: usize,
    pub keep_array: bool,
    pub predicate: Option<Vec<Stage>>,
    pub stages: Option<Vec<Stage>>,
    pub group: Option<Group>,
    pub focus: Option<String>,
    pub index: Option<String>,
    pub tuple: bool,
    pub ancestor: Option<SlotRef>,
    seeking_parent: Option<Vec<SlotRef>>,
    pub consarray: bool,
}

impl Node {
    fn new(kind: Kind, pos: usize) -> Node {
        Node {
            kind,
            pos,
            keep_array: false,
            predicate: None,
            stages: None,
            group: None,
            focus: None,
            index: None,
            tuple: false,
            ancestor: None,
            seeking_parent: None,
            consarray: false,
        }
    }
    fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Path { .. } => "path",
            Kind::Binary(..) => "binary",
            Kind::Name(_) => "name",
            Kind::Str(_) => "string",
            Kind::Num(_) => "number",
            Kind::Bool(_) | Kind::Null => "value",
            Kind::Wildcard => "wildcard",
            Kind::Descendant => "descendant",
            Kind::Parent(_) => "parent",
            Kind::Variable(_) => "variable",
            Kind::Regex(_) => "regex",
            Kind::Condition(..) => "condition",
            Kind::Block(_) => "block",
            Kind::Bind(..) => "bind",
            Kind::Neg(_) | Kind::Array(_) | Kind::Object(_) => "unary",
            Kind::Function { partial: false, .. } => "function",
            Kind::Function { partial: true, .. } => "partial",
            Kind::Placeholder => "operator",
            Kind::Lambda(_) => "lambda",
            Kind::Apply(..) => "apply",
            Kind::Transform(_) => "transform",
            Kind::Sort(_) => "sort",
        }
    }
}

// ---------------------------------------------------------------- Pratt parser

fn lbp(tok: &Tok) -> u32 {
    match tok {
        Tok::Operator(op) => match *op {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "?" => 20,
            "+" | "-" | "&" => 50,
            "*" | "/" | "%" => 60,
            "=" | "<" | ">" | "^" | "!=" | "<=" | ">=" | "~>" | "?:" | "??" | "in" => 40,
            ":=" => 10,
            "and" => 30,
            "or" => 25,
            _ => 0,
        },
        _ => 0,
    }
}

fn tok_id(tok: &Option<Token>) -> &'static str {
    match tok.as_ref().map(|t| &t.tok) {
        None => "(end)",
        Some(Tok::Operator(op)) => op,
        Some(Tok::Name(_)) | Some(Tok::Variable(_)) => "(name)",
        Some(Tok::Regex(..)) => "(regex)",
        Some(_) => "(literal)",
    }
}

fn tok_text(tok: &Tok) -> String {
    match tok {
        Tok::Name(s) => s.clone(),
        Tok::Variable(s) => format!("${s}"),
        Tok::Operator(op) => op.to_string(),
        Tok::Str(s) => s.clone(),
        Tok::Num(n) => crate::value::format_number_js(*n),
        Tok::True => "true".into(),
        Tok::False => "false".into(),
        Tok::Null => "null".into(),
        Tok::Regex(p, _) => p.clone(),
    }
}

struct Parser {
    max_depth: usize,
    lexer: Lexer,
    cur: Option<Token>,
    cur_pos: usize,
    depth: usize,
}

impl Parser {
    fn id(&self) -> &'static str {
        tok_id(&self.cur)
    }

    fn advance(&mut self, expect: Option<&str>, infix: bool) -> Result<(), Error> {
        if let Some(id) = expect {
            if self.id() != id {
                let code = if self.cur.is_none() { "S0203" } else { "S0202" };
                let token = self
                    .cur
                    .as_ref()
                    .map(|t| tok_text(&t.tok))
                    .unwrap_or_else(|| "(end)".into());
                return Err(Error::code(code)
                    .pos(self.cur_pos)
                    .token(token)
                    .value(id.to_string()));
            }
        }
        self.cur = self.lexer.next(infix)?;
        if let Some(Token {
            tok: Tok::Operator(op @ ("!" | "~")),
            pos,
        }) = &self.cur
        {
            return Err(Error::code("S0204").pos(*pos).token(*op));
        }
        self.cur_pos = match &self.cur {
            Some(t) => t.pos,
            None => self.lexer.len(),
        };
        Ok(())
    }

    fn expression(&mut self, rbp: u32) -> Result<RawNode, Error> {
        self.depth += 1;
        if self.depth > self.max_depth {
            if self.max_depth < MAX_PARSE_DEPTH {
                return Err(Error::new(crate::eval::RETRY_ON_LARGE_STACK, ""));
            }
            return Err(Error::new(
                "U1001",
                "Stack overflow error: the expression is nested too deeply",
            )
            .pos(self.cur_pos));
        }
        let t = self.cur.take();
        let t_pos = self.cur_pos;
        self.advance(None, true)?;
        let mut left = self.nud(t, t_pos)?;
        while let Some(tok) = &self.cur {
            if rbp >= lbp(&tok.tok) {
                break;
            }
            let t = self.cur.take();
            let t_pos = self.cur_pos;
            self.advance(None, false)?;
            left = self.led(t, t_pos, left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn nud(&mut self, t: Option<Token>, pos: usize) -> Result<RawNode, Error> {
        let Some(t) = t else {
            return Ok(raw(Raw::End, pos));
        };
        let node = match t.tok {
            Tok::Name(n) => Raw::Name(n),
            Tok::Variable(v) => Raw::Variable(v),
            Tok::Str(s) => Raw::Str(s),
            Tok::Num(n) => Raw::Num(n),
            Tok::True => Raw::Bool(true),
            Tok::False => Raw::Bool(false),
            Tok::Null => Raw::Null,
            Tok::Regex(p, f) => Raw::Regex(p, f),
            Tok::Operator(op) => match op {
                "and" | "or" | "in" => Raw::Operator(op),
                "-" => Raw::Neg(Box::new(self.expression(70)?)),
                "*" => Raw::Wildcard,
                "**" => Raw::Descendant,
                "%" => Raw::Parent,
                "(" => {
                    let mut exprs = Vec::new();
                    while self.id() != ")" {
                        exprs.push(self.expression(0)?);
                        if self.id() != ";" {
                            break;
                        }
                        self.advance(Some(";"), false)?;
                    }
                    self.advance(Some(")"), true)?;
                    Raw::Block(exprs)
                }
                "[" => {
                    let mut items = Vec::new();
                    if self.id() != "]" {
                        loop {
                            let mut item = self.expression(0)?;
                            if self.id() == ".." {
                                let rpos = self.cur_pos;
                                self.advance(Some(".."), false)?;
                                let rhs = self.expression(0)?;
                                item = raw(Raw::Binary("..", Box::new(item), Box::new(rhs)), rpos);
                            }
                            items.push(item);
                            if self.id() != "," {
                                break;
                            }
                            self.advance(Some(","), false)?;
                        }
                    }
                    self.advance(Some("]"), true)?;
                    Raw::Array(items)
                }
                "{" => Raw::Object(self.object_pairs()?),
                "|" => {
                    let pattern = self.expression(0)?;
                    self.advance(Some("|"), false)?;
                    let update = self.expression(0)?;
                    let mut delete = None;
                    if self.id() == "," {
                        self.advance(Some(","), false)?;
                        delete = Some(Box::new(self.expression(0)?));
                    }
                    self.advance(Some("|"), false)?;
                    Raw::Transform(Box::new(pattern), Box::new(update), delete)
                }
                _ => return Err(Error::code("S0211").pos(pos).token(op)),
            },
        };
        Ok(raw(node, pos))
    }

    fn object_pairs(&mut self) -> Result<Vec<(RawNode, RawNode)>, Error> {
        let mut pairs = Vec::new();
        if self.id() != "}" {
            loop {
                let k = self.expression(0)?;
                self.advance(Some(":"), false)?;
                let v = self.expression(0)?;
                pairs.push((k, v));
                if self.id() != "," {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some("}"), true)?;
        Ok(pairs)
    }

    fn led(&mut self, t: Option<Token>, pos: usize, left: RawNode) -> Result<RawNode, Error> {
        let op = match t.map(|t| t.tok) {
            Some(Tok::Operator(op)) => op,
            _ => return Err(Error::code("S0201").pos(pos)),
        };
        let node = match op {
            "." | "+" | "-" | "*" | "/" | "%" | "=" | "<" | ">" | "!=" | "<=" | ">=" | "&"
            | "and" | "or" | "in" => {
                let rhs = self.expression(lbp(&Tok::Operator(op)))?;
                Raw::Binary(op, Box::new(left), Box::new(rhs))
            }
            "~>" => {
                let rhs = self.expression(40)?;
                Raw::Apply(Box::new(left), Box::new(rhs))
            }
            "??" => {
                let rhs = self.expression(0)?;
                let cond = raw(
                    Raw::Function {
                        procedure: Box::new(raw(Raw::Variable("exists".into()), pos)),
                        args: vec![left.clone()],
                        partial: false,
                    },
                    pos,
                );
                Raw::Condition(Box::new(cond), Box::new(left), Some(Box::new(rhs)))
            }
            "?:" => {
                let rhs = self.expression(0)?;
                Raw::Condition(Box::new(left.clone()), Box::new(left), Some(Box::new(rhs)))
            }
            "(" => return self.call(left, pos),
            "[" => {
                if self.id() == "]" {
                    let mut left = left;
                    mark_keep_array(&mut left);
                    self.advance(Some("]"), false)?;
                    return Ok(left);
                }
                let rhs = self.expression(0)?;
                self.advance(Some("]"), true)?;
                Raw::Predicate(Box::new(left), Box::new(rhs))
            }
            "^" => {
                self.advance(Some("("), false)?;
                let mut terms = Vec::new();
                loop {
                    let mut descending = false;
                    if self.id() == "<" {
                        self.advance(Some("<"), false)?;
                    } else if self.id() == ">" {
                        descending = true;
                        self.advance(Some(">"), false)?;
                    }
                    let e = self.expression(0)?;
                    terms.push((descending, e));
                    if self.id() != "," {
                        break;
                    }
                    self.advance(Some(","), false)?;
                }
                self.advance(Some(")"), false)?;
                Raw::Sort(Box::new(left), terms)
            }
            "{" => Raw::Group(Box::new(left), self.object_pairs()?),
            ":=" => {
                if !matches!(left.raw, Raw::Variable(_)) {
                    return Err(Error::code("S0212").pos(left.pos));
                }
                let rhs = self.expression(9)?;
                Raw::Bind(Box::new(left), Box::new(rhs))
            }
            "@" | "#" => {
                let rhs = self.expression(80)?;
                let Raw::Variable(v) = rhs.raw else {
                    return Err(Error::code("S0214").pos(rhs.pos).token(op));
                };
                if op == "@" {
                    Raw::Focus(Box::new(left), v)
                } else {
                    Raw::Index(Box::new(left), v)
                }
            }
            "?" => {
                let then = self.expression(0)?;
                let mut otherwise = None;
                if self.id() == ":" {
                    self.advance(Some(":"), false)?;
                    otherwise = Some(Box::new(self.expression(0)?));
                }
                Raw::Condition(Box::new(left), Box::new(then), otherwise)
            }
            _ => return Err(Error::code("S0201").pos(pos).token(op)),
        };
        Ok(raw(node, pos))
    }

    fn call(&mut self, left: RawNode, pos: usize) -> Result<RawNode, Error> {
        let mut args = Vec::new();
        let mut partial = false;
        if self.id() != ")" {
            loop {
                if self.id() == "?" {
                    partial = true;
                    args.push(raw(Raw::Placeholder, self.cur_pos));
                    self.advance(Some("?"), false)?;
                } else {
                    args.push(self.expression(0)?);
                }
                if self.id() != "," {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some(")"), true)?;
        let is_lambda = matches!(&left.raw, Raw::Name(n) if n == "function" || n == "\u{3bb}");
        if !is_lambda {
            return Ok(raw(
                Raw::Function {
                    procedure: Box::new(left),
                    args,
                    partial,
                },
                pos,
            ));
        }
        let mut params = Vec::new();
        for (i, a) in args.into_iter().enumerate() {
            match a.raw {
                Raw::Variable(v) => params.push(v),
                _ => return Err(Error::code("S0208").pos(a.pos).value((i + 1).to_string())),
            }
        }
        let mut signature = None;
        if self.id() == "<" {
            let sig_pos = self.cur_pos;
            let mut depth = 1;
            let mut sig = String::from("<");
            while depth > 0 && self.id() != "{" && self.id() != "(end)" {
                self.advance(None, false)?;
                let Some(t) = &self.cur else { break };
                match &t.tok {
                    Tok::Operator(">") => depth -= 1,
                    Tok::Operator("<") => depth += 1,
                    _ => {}
                }
                sig.push_str(&tok_text(&t.tok));
            }
            self.advance(Some(">"), false)?;
            signature = Some(Arc::new(
                Signature::parse(&sig).map_err(|e| e.pos(sig_pos))?,
            ));
        }
        self.advance(Some("{"), false)?;
        let body = self.expression(0)?;
        self.advance(Some("}"), false)?;
        Ok(raw(
            Raw::Lambda {
                params,
                signature,
                body: Box::new(body),
            },
            pos,
        ))
    }
}

fn mark_keep_array(node: &mut RawNode) {
    let mut step = node;
    while let Raw::Predicate(ref mut lhs, _) = step.raw {
        step = lhs;
    }
    step.keep_array = true;
}

/// Parses with the full nesting limit (the caller must be on a large stack).
pub(crate) fn parse(src: &str) -> Result<Node, Error> {
    parse_with_depth(src, MAX_PARSE_DEPTH)
}

pub(crate) fn parse_with_depth(src: &str, max_depth: usize) -> Result<Node, Error> {
    let mut p = Parser {
        max_depth,
        lexer: Lexer::new(src),
        cur: None,
        cur_pos: 0,
        depth: 0,
    };
    p.advance(None, false)?;
    let expr = p.expression(0)?;
    if let Some(t) = &p.cur {
        return Err(Error::code("S0201").pos(t.pos).token(tok_text(&t.tok)));
    }
    let mut proc = Processor {
        label: 0,
        depth: 0,
        max_depth: max_depth * 2,
    };
    let node = proc.process(expr)?;
    if matches!(node.kind, Kind::Parent(_)) || node.seeking_parent.is_some() {
        return Err(Error::code("S0217").pos(node.pos).token(node.type_name()));
    }
    Ok(node)
}

// ---------------------------------------------------------------- processAST

struct Processor {
    label: usize,
    depth: usize,
    max_depth: usize,
}

fn push_ancestry(result: &mut Node, value: &Node) {
    let mut slots: Vec<SlotRef> = Vec::new();
    let mut any = false;
    if let Some(sp) = &value.seeking_parent {
        slots.extend(sp.iter().cloned());
        any = true;
    }
    if let Kind::Parent(slot) = &value.kind {
        slots.push(slot.clone());
        any = true;
    }
    if any {
        result
            .seeking_parent
            .get_or_insert_with(Vec::new)
            .extend(slots);
    }
}

fn seek_parent(node: &mut Node, slot: SlotRef) -> Result<SlotRef, Error> {
    let tn = node.type_name();
    match &mut node.kind {
        Kind::Name(_) | Kind::Wildcard => {
            slot.set_level(slot.level() - 1);
            if slot.level() == 0 {
                if let Some(existing) = &node.ancestor {
                    slot.label
                        .store(existing.label.load(Ordering::Relaxed), Ordering::Relaxed);
                }
                node.ancestor = Some(slot.clone());
                node.tuple = true;
            }
            Ok(slot)
        }
        Kind::Parent(_) => {
            slot.set_level(slot.level() + 1);
            Ok(slot)
        }
        Kind::Block(exprs) => {
            if let Some(last) = exprs.last_mut() {
                node.tuple = true;
                return seek_parent(last, slot);
            }
            Ok(slot)
        }
        Kind::Path { steps, .. } => {
            node.tuple = true;
            let mut slot = slot;
            let mut index = steps.len() as isize - 1;
            if index >= 0 {
                if let Some(s) = steps.get_mut(index as usize) {
                    slot = seek_parent(s, slot)?;
                }
                index -= 1;
            }
            while slot.level() > 0 && index >= 0 {
                if let Some(s) = steps.get_mut(index as usize) {
                    slot = seek_parent(s, slot)?;
                }
                index -= 1;
            }
            Ok(slot)
        }
        _ => Err(Error::code("S0217").pos(node.pos).token(tn)),
    }
}

fn resolve_ancestry(path: &mut Node) -> Result<(), Error> {
    let Kind::Path { steps, .. } = &mut path.kind else {
        return Ok(());
    };
    let Some(last) = steps.last() else {
        return Ok(());
    };
    let mut slots: Vec<SlotRef> = last.seeking_parent.clone().unwrap_or_default();
    if let Kind::Parent(s) = &last.kind {
        slots.push(s.clone());
    }
    let mut unresolved = Vec::new();
    for slot in slots {
        let mut slot = slot;
        let mut index = steps.len() as isize - 2;
        while slot.level() > 0 {
            if index < 0 {
                unresolved.push(slot.clone());
                break;
            }
            let mut i = index as usize;
            index -= 1;
            // Contiguous steps that bind the focus are skipped as one.
            while index >= 0
                && steps.get(i).is_some_and(|s| s.focus.is_some())
                && steps.get(index as usize).is_some_and(|s| s.focus.is_some())
            {
                i = index as usize;
                index -= 1;
            }
            let Some(step) = steps.get_mut(i) else { break };
            slot = seek_parent(step, slot)?;
        }
    }
    if !unresolved.is_empty() {
        path.seeking_parent
            .get_or_insert_with(Vec::new)
            .extend(unresolved);
    }
    Ok(())
}

fn tail_call_optimize(mut expr: Node) -> Node {
    match expr.kind {
        Kind::Function { partial: false, .. } if expr.predicate.is_none() => {
            let pos = expr.pos;
            Node::new(
                Kind::Lambda(Arc::new(LambdaDef {
                    params: vec![],
                    signature: None,
                    body: expr,
                    thunk: true,
                })),
                pos,
            )
        }
        Kind::Condition(c, t, e) => {
            let t = Box::new(tail_call_optimize(*t));
            let e = e.map(|e| Box::new(tail_call_optimize(*e)));
            expr.kind = Kind::Condition(c, t, e);
            expr
        }
        Kind::Block(mut exprs) => {
            if let Some(last) = exprs.pop() {
                exprs.push(tail_call_optimize(last));
            }
            expr.kind = Kind::Block(exprs);
            expr
        }
        _ => expr,
    }
}

impl Processor {
    fn process(&mut self, expr: RawNode) -> Result<Node, Error> {
        self.depth += 1;
        if self.depth > self.max_depth {
            if self.max_depth < MAX_PARSE_DEPTH * 2 {
                return Err(Error::new(crate::eval::RETRY_ON_LARGE_STACK, ""));
            }
            return Err(Error::new(
                "U1001",
                "Stack overflow error: the expression is nested too deeply",
            ));
        }
        let keep_array = expr.keep_array;
        let mut result = self.process_inner(expr)?;
        if keep_array {
            result.keep_array = true;
        }
        self.depth -= 1;
        Ok(result)
    }

    fn process_inner(&mut self, expr: RawNode) -> Result<Node, Error> {
        let pos = expr.pos;
        Ok(match expr.raw {
            Raw::Binary(".", lhs, rhs) => {
                let lstep = self.process(*lhs)?;
                let lstep_parent = match &lstep.kind {
                    Kind::Parent(s) => Some(s.clone()),
                    _ => None,
                };
                let mut result = if matches!(lstep.kind, Kind::Path { .. }) {
                    lstep
                } else {
                    let p = lstep.pos;
                    Node::new(
                        Kind::Path {
                            steps: vec![lstep],
                            keep_singleton_array: false,
                        },
                        p,
                    )
                };
                if let Some(s) = lstep_parent {
                    result.seeking_parent = Some(vec![s]);
                }
                let mut rest = self.process(*rhs)?;
                let Kind::Path {
                    steps,
                    keep_singleton_array,
                } = &mut result.kind
                else {
                    return Err(Error::code("S0201").pos(pos));
                };
                match rest.kind {
                    Kind::Path { steps: rsteps, .. } => steps.extend(rsteps),
                    _ => {
                        if let Some(p) = rest.predicate.take() {
                            rest.stages = Some(p);
                        }
                        steps.push(rest);
                    }
                }
                for step in steps.iter_mut() {
                    match &step.kind {
                        Kind::Num(n) => {
                            return Err(Error::code("S0213")
                                .pos(step.pos)
                                .value(crate::value::format_number_js(*n)))
                        }
                        Kind::Bool(b) => {
                            return Err(Error::code("S0213").pos(step.pos).value(b.to_string()))
                        }
                        Kind::Null => return Err(Error::code("S0213").pos(step.pos).value("null")),
                        Kind::Str(s) => step.kind = Kind::Name(s.clone()),
                        _ => {}
                    }
                }
                if steps.iter().any(|s| s.keep_array) {
                    *keep_singleton_array = true;
                }
                if let Some(first) = steps.first_mut() {
                    if matches!(first.kind, Kind::Array(_)) {
                        first.consarray = true;
                    }
                }
                if let Some(last) = steps.last_mut() {
                    if matches!(last.kind, Kind::Array(_)) {
                        last.consarray = true;
                    }
                }
                resolve_ancestry(&mut result)?;
                result
            }
            Raw::Predicate(lhs, rhs) => {
                let mut result = self.process(*lhs)?;
                let is_path = matches!(result.kind, Kind::Path { .. });
                let predicate = self.process(*rhs)?;
                {
                    let step: &mut Node = match &mut result.kind {
                        Kind::Path { steps, .. } => match steps.last_mut() {
                            Some(s) => s,
                            None => return Err(Error::code("S0201").pos(pos)),
                        },
                        _ => &mut result,
                    };
                    if step.group.is_some() {
                        return Err(Error::code("S0209").pos(pos));
                    }
                    if let Some(sp) = predicate.seeking_parent.clone() {
                        for slot in sp {
                            if slot.level() == 1 {
                                seek_parent(step, slot)?;
                            } else {
                                slot.set_level(slot.level() - 1);
                            }
                        }
                        push_ancestry(step, &predicate);
                    }
                    let list = if is_path {
                        step.stages.get_or_insert_with(Vec::new)
                    } else {
                        step.predicate.get_or_insert_with(Vec::new)
                    };
                    list.push(Stage::Filter(predicate));
                }
                result
            }
            Raw::Group(lhs, pairs) => {
                let mut result = self.process(*lhs)?;
                if result.group.is_some() {
                    return Err(Error::code("S0210").pos(pos));
                }
                let mut processed = Vec::new();
                for (k, v) in pairs {
                    processed.push((self.process(k)?, self.process(v)?));
                }
                result.group = Some(Group {
                    pairs: processed,
                    pos,
                });
                result
            }
            Raw::Sort(lhs, terms) => {
                let mut result = self.process(*lhs)?;
                if !matches!(result.kind, Kind::Path { .. }) {
                    let p = result.pos;
                    result = Node::new(
                        Kind::Path {
                            steps: vec![result],
                            keep_singleton_array: false,
                        },
                        p,
                    );
                }
                let mut sort_step = Node::new(Kind::Sort(vec![]), pos);
                let mut processed = Vec::new();
                for (descending, e) in terms {
                    let e = self.process(e)?;
                    push_ancestry(&mut sort_step, &e);
                    processed.push(SortTerm {
                        descending,
                        expr: e,
                    });
                }
                sort_step.kind = Kind::Sort(processed);
                if let Kind::Path { steps, .. } = &mut result.kind {
                    steps.push(sort_step);
                }
                resolve_ancestry(&mut result)?;
                result
            }
            Raw::Bind(lhs, rhs) => {
                let name = match lhs.raw {
                    Raw::Variable(v) => v,
                    _ => return Err(Error::code("S0212").pos(lhs.pos)),
                };
                let rhs = self.process(*rhs)?;
                let mut result =
                    Node::new(Kind::Bind(name, Box::new(Node::new(Kind::Null, 0))), pos);
                push_ancestry(&mut result, &rhs);
                result.kind = match result.kind {
                    Kind::Bind(n, _) => Kind::Bind(n, Box::new(rhs)),
                    k => k,
                };
                result
            }
            Raw::Focus(lhs, var) => {
                let keep = expr.keep_array;
                let mut result = self.process(*lhs)?;
                let step: &mut Node = match &mut result.kind {
                    Kind::Path { steps, .. } => match steps.last_mut() {
                        Some(s) => s,
                        None => return Err(Error::code("S0201").pos(pos)),
                    },
                    _ => &mut result,
                };
                if step.stages.is_some() || step.predicate.is_some() {
                    return Err(Error::code("S0215").pos(pos));
                }
                if matches!(step.kind, Kind::Sort(_)) {
                    return Err(Error::code("S0216").pos(pos));
                }
                if keep {
                    step.keep_array = true;
                }
                step.focus = Some(var);
                step.tuple = true;
                result
            }
            Raw::Index(lhs, var) => {
                let mut result = self.process(*lhs)?;
                if !matches!(result.kind, Kind::Path { .. }) {
                    if let Some(p) = result.predicate.take() {
                        result.stages = Some(p);
                    }
                    let p = result.pos;
                    result = Node::new(
                        Kind::Path {
                            steps: vec![result],
                            keep_singleton_array: false,
                        },
                        p,
                    );
                }
                if let Kind::Path { steps, .. } = &mut result.kind {
                    if let Some(step) = steps.last_mut() {
                        match &mut step.stages {
                            None => step.index = Some(var),
                            Some(stages) => stages.push(Stage::Index(var)),
                        }
                        step.tuple = true;
                    }
                }
                result
            }
            Raw::Apply(lhs, rhs) => {
                let l = self.process(*lhs)?;
                let r = self.process(*rhs)?;
                let keep = l.keep_array || r.keep_array;
                let mut n = Node::new(Kind::Apply(Box::new(l), Box::new(r)), pos);
                n.keep_array = keep;
                n
            }
            Raw::Binary(op, lhs, rhs) => {
                let bop = match op {
                    "+" => BinOp::Add,
                    "-" => BinOp::Sub,
                    "*" => BinOp::Mul,
                    "/" => BinOp::Div,
                    "%" => BinOp::Mod,
                    "=" => BinOp::Eq,
                    "!=" => BinOp::Ne,
                    "<" => BinOp::Lt,
                    "<=" => BinOp::Le,
                    ">" => BinOp::Gt,
                    ">=" => BinOp::Ge,
                    "&" => BinOp::Concat,
                    "and" => BinOp::And,
                    "or" => BinOp::Or,
                    "in" => BinOp::In,
                    ".." => BinOp::Range,
                    _ => return Err(Error::code("S0201").pos(pos).token(op)),
                };
                let l = self.process(*lhs)?;
                let r = self.process(*rhs)?;
                let mut n = Node::new(Kind::Null, pos);
                push_ancestry(&mut n, &l);
                push_ancestry(&mut n, &r);
                n.kind = Kind::Binary(bop, Box::new(l), Box::new(r));
                n
            }
            Raw::Array(items) => {
                let mut n = Node::new(Kind::Null, pos);
                let mut out = Vec::new();
                for item in items {
                    let v = self.process(item)?;
                    push_ancestry(&mut n, &v);
                    out.push(v);
                }
                n.kind = Kind::Array(out);
                n
            }
            Raw::Object(pairs) => {
                let mut n = Node::new(Kind::Null, pos);
                let mut out = Vec::new();
                for (k, v) in pairs {
                    let k = self.process(k)?;
                    push_ancestry(&mut n, &k);
                    let v = self.process(v)?;
                    push_ancestry(&mut n, &v);
                    out.push((k, v));
                }
                n.kind = Kind::Object(Group { pairs: out, pos });
                n
            }
            Raw::Neg(e) => {
                let e = self.process(*e)?;
                if let Kind::Num(v) = e.kind {
                    let mut e = e;
                    e.kind = Kind::Num(-v);
                    e
                } else {
                    let mut n = Node::new(Kind::Null, pos);
                    push_ancestry(&mut n, &e);
                    n.kind = Kind::Neg(Box::new(e));
                    n
                }
            }
            Raw::Function {
                procedure,
                args,
                partial,
            } => {
                let mut n = Node::new(Kind::Null, pos);
                let mut out = Vec::new();
                for a in args {
                    let a = self.process(a)?;
                    push_ancestry(&mut n, &a);
                    out.push(a);
                }
                let procedure = self.process(*procedure)?;
                n.kind = Kind::Function {
                    procedure: Box::new(procedure),
                    args: out,
                    partial,
                };
                n
            }
            Raw::Lambda {
                params,
                signature,
                body,
            } => {
                let body = self.process(*body)?;
                let body = tail_call_optimize(body);
                Node::new(
                    Kind::Lambda(Arc::new(LambdaDef {
                        params,
                        signature,
                        body,
                        thunk: false,
                    })),
                    pos,
                )
            }
            Raw::Condition(c, t, e) => {
                let mut n = Node::new(Kind::Null, pos);
                let c = self.process(*c)?;
                push_ancestry(&mut n, &c);
                let t = self.process(*t)?;
                push_ancestry(&mut n, &t);
                let e = match e {
                    Some(e) => {
                        let e = self.process(*e)?;
                        push_ancestry(&mut n, &e);
                        Some(Box::new(e))
                    }
                    None => None,
                };
                n.kind = Kind::Condition(Box::new(c), Box::new(t), e);
                n
            }
            Raw::Transform(p, u, d) => {
                let pattern = self.process(*p)?;
                let update = self.process(*u)?;
                let delete = match d {
                    Some(d) => Some(self.process(*d)?),
                    None => None,
                };
                Node::new(
                    Kind::Transform(Arc::new(TransformDef {
                        pattern,
                        update,
                        delete,
                    })),
                    pos,
                )
            }
            Raw::Block(exprs) => {
                let mut n = Node::new(Kind::Null, pos);
                let mut out = Vec::new();
                for e in exprs {
                    let part = self.process(e)?;
                    push_ancestry(&mut n, &part);
                    let cons = part.consarray
                        || matches!(&part.kind, Kind::Path { steps, .. } if steps.first().is_some_and(|s| s.consarray));
                    if cons {
                        n.consarray = true;
                    }
                    out.push(part);
                }
                n.kind = Kind::Block(out);
                n
            }
            Raw::Name(name) => {
                let keep = expr.keep_array;
                let mut step = Node::new(Kind::Name(name), pos);
                step.keep_array = keep;
                // The path itself also gets `keep_array` from the caller (as in jsonata-js).
                Node::new(
                    Kind::Path {
                        steps: vec![step],
                        keep_singleton_array: keep,
                    },
                    pos,
                )
            }
            Raw::Parent => {
                let slot = Arc::new(Slot {
                    label: AtomicUsize::new(self.label),
                    level: AtomicI64::new(1),
                });
                self.label += 1;
                Node::new(Kind::Parent(slot), pos)
            }
            Raw::Str(s) => Node::new(Kind::Str(s), pos),
            Raw::Num(n) => Node::new(Kind::Num(n), pos),
            Raw::Bool(b) => Node::new(Kind::Bool(b), pos),
            Raw::Null => Node::new(Kind::Null, pos),
            Raw::Wildcard => Node::new(Kind::Wildcard, pos),
            Raw::Descendant => Node::new(Kind::Descendant, pos),
            Raw::Variable(v) => Node::new(Kind::Variable(v), pos),
            Raw::Regex(p, f) => Node::new(Kind::Regex(Arc::new(compile_regex(&p, &f, pos)?)), pos),
            Raw::Operator(op) => {
                // `and`, `or` and `in` used as field names.
                let mut r = raw(Raw::Name(op.to_string()), pos);
                r.keep_array = expr.keep_array;
                return self.process(r);
            }
            Raw::Placeholder => Node::new(Kind::Placeholder, pos),
            Raw::End => return Err(Error::code("S0207").pos(pos)),
        })
    }
}

/// Translates a JavaScript regex to the `regex` crate's dialect where they differ.
pub(crate) fn compile_regex(pattern: &str, flags: &str, pos: usize) -> Result<RegexLit, Error> {
    let mut b = regex::RegexBuilder::new(&translate_js_regex(pattern));
    b.case_insensitive(flags.contains('i'));
    b.multi_line(flags.contains('m'));
    let regex = b.build().map_err(|e| {
        Error::new(
            "S0303",
            format!("Invalid regular expression /{pattern}/: {e}"),
        )
        .pos(pos)
    })?;
    Ok(RegexLit {
        regex,
        source: pattern.to_string(),
    })
}

fn translate_js_regex(p: &str) -> String {
    // JavaScript's `\d`, `\w` and `\b` are ASCII-only (Rust's are Unicode-aware); JS also
    // accepts `\/`, a bare `]` or `}` and a `{` that starts no quantifier, which Rust rejects.
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '\\' => {
                let Some(&n) = chars.get(i) else {
                    out.push_str("\\\\");
                    continue;
                };
                i += 1;
                match (n, in_class) {
                    ('/', _) => out.push('/'),
                    ('d', false) => out.push_str("[0-9]"),
                    ('D', false) => out.push_str("[^0-9]"),
                    ('w', false) => out.push_str("[0-9A-Za-z_]"),
                    ('W', false) => out.push_str("[^0-9A-Za-z_]"),
                    ('b', false) => out.push_str("(?-u:\\b)"),
                    ('B', false) => out.push_str("(?-u:\\B)"),
                    ('d', true) => out.push_str("0-9"),
                    ('w', true) => out.push_str("0-9A-Za-z_"),
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            '[' => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            ']' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '{' if !in_class => {
                // A quantifier is `{n}`, `{n,}` or `{n,m}`; anything else is a literal brace.
                let rest: String = chars.get(i..).unwrap_or(&[]).iter().collect();
                let is_quantifier = rest.find('}').is_some_and(|end| {
                    let body = &rest[..end];
                    let (a, b) = body.split_once(',').unwrap_or((body, "0"));
                    !a.is_empty()
                        && a.chars().all(|d| d.is_ascii_digit())
                        && b.chars().all(|d| d.is_ascii_digit())
                });
                if is_quantifier {
                    let end = rest.find('}').unwrap_or(0);
                    out.push('{');
                    out.push_str(&rest[..=end]);
                    i += rest[..=end].chars().count();
                } else {
                    out.push_str("\\{");
                }
            }
            _ => out.push(c),
        }
    }
    out
}
