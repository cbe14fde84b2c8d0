//! The evaluator: a direct port of jsonata-js's `evaluate` family, so that sequence flattening,
//! tuple streams and error codes behave the same.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use crate::functions::{self, NativeFn};
use crate::parser::{BinOp, Group, Kind, LambdaDef, Node, RegexLit, Stage, TransformDef};
use crate::value::{self, deep_equal, seq_items, Array, Object, Value};
use crate::{Bindings, Env, Error};

type R = Result<Option<Value>, Error>;

/// Error code for a result that JSON cannot represent (a function); not a jsonata-js code.
pub const UNSUPPORTED_RESULT: &str = "U2001";

// ---------------------------------------------------------------- environment frames

#[derive(Clone, Debug)]
pub(crate) struct Frame(Rc<FrameInner>);

/// A variable's name in a frame: names bound from [`Bindings`] share the caller's string.
#[derive(Debug)]
enum VarName {
    Shared(Arc<str>),
    Own(Box<str>),
    /// `$` (the input), bound in every root frame.
    Input,
}

impl VarName {
    fn as_str(&self) -> &str {
        match self {
            VarName::Shared(s) => s,
            VarName::Own(s) => s,
            VarName::Input => "$",
        }
    }
}

#[derive(Debug)]
pub(crate) struct FrameInner {
    /// Frames hold a handful of variables: a scanned list beats hashing each name.
    vars: RefCell<Vec<(VarName, Option<Value>)>>,
    parent: Option<Frame>,
    /// Listed in the thread's registry (see [`FRAMES`]).
    registered: Cell<bool>,
}

thread_local! {
    /// Frames (created by the evaluation running on this thread) that hold a value which may
    /// contain a function. A lambda stored in the frame it closes over is an `Rc` cycle, and
    /// every such cycle runs through one of these frames; clearing them at the end breaks it.
    static FRAMES: RefCell<FrameRegistry> = RefCell::new(FrameRegistry::default());
}

#[derive(Default)]
struct FrameRegistry {
    frames: Vec<std::rc::Weak<FrameInner>>,
    prune_at: usize,
}

fn register(frame: &Rc<FrameInner>) {
    if frame.registered.replace(true) {
        return;
    }
    FRAMES.with(|r| {
        let mut r = r.borrow_mut();
        r.frames.push(Rc::downgrade(frame));
        // Forget dead frames now and then so long loops do not accumulate entries.
        if r.frames.len() >= r.prune_at {
            r.frames.retain(|w| w.strong_count() > 0);
            r.prune_at = (r.frames.len() * 2).max(1024);
        }
    });
}

/// Whether a value may hold a function (and so close a reference cycle through a frame).
/// Values read from a JSON document never do.
fn may_hold_function(v: &Value) -> bool {
    match v {
        Value::Func(_) | Value::Arr(_) => true,
        Value::Obj(o) => !o.is_json(),
        _ => false,
    }
}

/// Drops every variable binding made on this thread, freeing closures that captured their own
/// frame.
pub(crate) fn release_frames() {
    let frames = FRAMES.with(|r| std::mem::take(&mut r.borrow_mut().frames));
    if frames.is_empty() {
        return;
    }
    for f in frames {
        if let Some(f) = f.upgrade() {
            let vars = std::mem::take(&mut *f.vars.borrow_mut());
            drop(vars);
        }
    }
}

impl Frame {
    pub fn root() -> Frame {
        Frame(Rc::new(FrameInner {
            vars: RefCell::new(Vec::new()),
            parent: None,
            registered: Cell::new(false),
        }))
    }
    pub fn child(&self) -> Frame {
        Frame(Rc::new(FrameInner {
            vars: RefCell::new(Vec::new()),
            parent: Some(self.clone()),
            registered: Cell::new(false),
        }))
    }
    pub fn bind(&self, name: &str, v: Option<Value>) {
        let make = || match name {
            "$" => VarName::Input,
            _ => VarName::Own(Box::from(name)),
        };
        self.bind_name(name, make, v);
    }
    fn bind_shared(&self, name: &Arc<str>, v: Option<Value>) {
        self.bind_name(name, || VarName::Shared(name.clone()), v);
    }
    fn bind_name(&self, name: &str, make: impl FnOnce() -> VarName, v: Option<Value>) {
        if v.as_ref().is_some_and(may_hold_function) {
            register(&self.0);
        }
        let mut vars = self.0.vars.borrow_mut();
        // Binding undefined still shadows an outer binding of the same name.
        match vars.iter_mut().find(|(k, _)| k.as_str() == name) {
            Some(slot) => slot.1 = v,
            None => vars.push((make(), v)),
        }
    }
    pub fn lookup(&self, name: &str) -> Option<Value> {
        let mut f = self;
        loop {
            if let Some((_, v)) = f.0.vars.borrow().iter().find(|(k, _)| k.as_str() == name) {
                return v.clone();
            }
            match &f.0.parent {
                Some(p) => f = p,
                None => break,
            }
        }
        functions::lookup_value(name)
    }
    fn tuple_frame(&self, tuple: &Value) -> Frame {
        let f = self.child();
        if let Value::Obj(o) = tuple {
            for (k, v) in o.iter() {
                f.bind(k, Some(v.clone()));
            }
        }
        f
    }
}

// ---------------------------------------------------------------- functions

#[derive(Debug)]
pub(crate) enum PartialArg {
    Placeholder,
    Bound(Option<Value>),
}

#[derive(Debug)]
pub(crate) enum Function {
    Lambda {
        def: Arc<LambdaDef>,
        input: Option<Value>,
        env: Frame,
        /// Parameters already bound by partial application are removed from this list.
        params: Option<Vec<String>>,
    },
    Native(&'static NativeFn),
    Partial {
        func: Value,
        args: Vec<PartialArg>,
    },
    Regex(Arc<RegexLit>),
    /// The `next()` of a regex match object.
    RegexNext {
        regex: Arc<RegexLit>,
        text: Rc<str>,
        from: usize,
    },
    Transform {
        def: Arc<TransformDef>,
        env: Frame,
    },
    Chain(Value, Value),
}

impl Function {
    /// jsonata's `getFunctionArity`: how many arguments higher-order functions pass.
    pub fn arity(&self) -> usize {
        match self {
            Function::Lambda { def, params, .. } => {
                params.as_ref().map_or(def.params.len(), |p| p.len())
            }
            Function::Native(n) => n.arity,
            Function::Partial { args, .. } => args
                .iter()
                .filter(|a| matches!(a, PartialArg::Placeholder))
                .count(),
            Function::Regex(_) => 2,
            Function::RegexNext { .. } => 0,
            Function::Transform { .. } => 1,
            Function::Chain(..) => 1,
        }
    }
}

// ---------------------------------------------------------------- evaluator state

pub(crate) struct Evaluator<'e> {
    pub env: &'e mut dyn Env,
    steps: u64,
    max_steps: u64,
    depth: usize,
    max_depth: usize,
    retry_beyond_depth: bool,
    max_value_depth: u32,
    retry_beyond_value_depth: bool,
    now: Option<i64>,
    /// Running on the caller's stack (first attempt).
    pub inline: bool,
}

/// Internal error code: the evaluation outgrew the caller's stack and must be rerun on the
/// dedicated large stack. Never returned to callers.
pub(crate) const RETRY_ON_LARGE_STACK: &str = "__cairn_retry_on_large_stack__";

/// Limits for a first attempt on the caller's (possibly small) stack. Typical expressions fit;
/// deeper ones are rerun on a large stack with the configured limits.
const INLINE_MAX_DEPTH: usize = 48;
/// The most evaluation nesting the large evaluation stack is sized for (even unoptimised);
/// larger [`crate::Limits::max_depth`] values are capped here.
pub(crate) const MAX_SUPPORTED_DEPTH: usize = 20_000;
const INLINE_MAX_VALUE_DEPTH: u32 = 128;

#[cold]
fn retry_on_large_stack() -> Error {
    Error::new(RETRY_ON_LARGE_STACK, "evaluation needs a larger stack")
}

/// Evaluates `ast`. With `inline`, tighter depth limits apply and exceeding them yields
/// [`RETRY_ON_LARGE_STACK`]. `now` carries the clock reading across attempts.
pub(crate) fn evaluate_root(
    ast: &Node,
    input: Option<&serde_json::Value>,
    bindings: &Bindings,
    env: &mut dyn Env,
    inline: bool,
    now: &mut Option<i64>,
) -> Result<Option<serde_json::Value>, Error> {
    let limits = env.limits();
    let (max_depth, max_value_depth) = if inline {
        (
            limits.max_depth.min(INLINE_MAX_DEPTH),
            value::MAX_VALUE_DEPTH.min(INLINE_MAX_VALUE_DEPTH),
        )
    } else {
        (
            limits.max_depth.min(MAX_SUPPORTED_DEPTH),
            value::MAX_VALUE_DEPTH,
        )
    };
    let input_depth = input.map_or(0, value::json_depth);
    if input_depth > max_value_depth as usize
        || bindings.bound().any(|b| b.depth > max_value_depth as usize)
    {
        return Err(if inline {
            retry_on_large_stack()
        } else {
            Error::new(
                "U1001",
                "Stack overflow error: the input is nested too deeply",
            )
        });
    }
    let mut ev = Evaluator {
        env,
        steps: 0,
        max_steps: limits.max_steps,
        depth: 0,
        max_depth,
        retry_beyond_depth: inline && max_depth < limits.max_depth,
        max_value_depth,
        retry_beyond_value_depth: inline,
        now: *now,
        inline,
    };
    let frame = Frame::root();
    for b in bindings.bound() {
        let depth = u32::try_from(b.depth).unwrap_or(u32::MAX);
        frame.bind_shared(&b.name, Some(value::from_shared_json(&b.value, depth)));
    }
    // The input is read through the same lazy view as bindings (one copy, no conversion).
    let input = input.map(|v| {
        let depth = u32::try_from(input_depth).unwrap_or(u32::MAX);
        value::from_shared_json(&Arc::new(v.clone()), depth)
    });
    frame.bind("$", input.clone());
    // A top-level array is wrapped so that it is treated as a single input value.
    let input = match input {
        Some(Value::Arr(a)) if !a.sequence => Some(Value::Arr(Rc::new(Array {
            items: vec![Value::Arr(a)],
            sequence: true,
            outer_wrapper: true,
            ..Array::default()
        }))),
        other => other,
    };
    let result = ev.eval(ast, input.as_ref(), &frame);
    let out = match result {
        Ok(Some(Value::Func(_))) => Err(Error::new(
            UNSUPPORTED_RESULT,
            "The expression evaluated to a function, which has no JSON representation",
        )),
        Ok(Some(v)) => value::to_json(&v),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    *now = ev.now;
    drop(frame);
    release_frames();
    out
}

#[cold]
#[inline(never)]
fn timeout_error(pos: usize) -> Error {
    Error::new(
        "U1001",
        "Expression evaluation timeout: Check for infinite loop",
    )
    .pos(pos)
}

#[cold]
#[inline(never)]
fn value_depth_error(pos: usize) -> Error {
    Error::new(
        "U1001",
        "Stack overflow error: a value is nested too deeply",
    )
    .pos(pos)
}

#[cold]
#[inline(never)]
fn depth_error(pos: usize) -> Error {
    Error::code("U1001").pos(pos)
}

fn eval_variable(name: &str, input: Option<&Value>, env: &Frame) -> Option<Value> {
    if name.is_empty() {
        match input {
            Some(Value::Arr(a)) if a.outer_wrapper => a.items.first().cloned(),
            other => other.cloned(),
        }
    } else {
        env.lookup(name)
    }
}

/// The key of an object constructor pair when it is a plain string literal.
fn literal(k: &Node) -> Option<&str> {
    match &k.kind {
        Kind::Str(s) if k.predicate.is_none() && k.group.is_none() && k.stages.is_none() => {
            Some(s.as_str())
        }
        _ => None,
    }
}

/// A result sequence as a value: nothing when empty, its item when it holds one.
fn collapse(result: Option<Value>) -> Option<Value> {
    match result {
        Some(Value::Arr(a)) if a.sequence && !a.tuple_stream => {
            if a.items.is_empty() {
                None
            } else if a.items.len() == 1 && !a.keep_singleton {
                a.items.first().cloned()
            } else {
                Some(Value::Arr(a))
            }
        }
        other => other,
    }
}

/// An empty sequence. Values are never modified in place while shared (`Rc::make_mut` copies),
/// so one per thread serves every path that starts from, or ends in, nothing.
fn empty_sequence() -> Value {
    thread_local! {
        static EMPTY: Value = Value::sequence(Vec::new());
    }
    EMPTY.with(Value::clone)
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Arr(a) => &a.items,
        other => std::slice::from_ref(other),
    }
}

fn is_numeric(v: &Value) -> Result<bool, Error> {
    match v {
        Value::Num(n) => {
            if n.is_nan() {
                Ok(false)
            } else if n.is_infinite() {
                Err(Error::code("D1001").value(value::format_number_js(*n)))
            } else {
                Ok(true)
            }
        }
        _ => Ok(false),
    }
}

fn describe(v: &Value) -> String {
    value::stringify(v, false).unwrap_or_default()
}

fn tuple_get<'a>(t: &'a Value, key: &str) -> Option<&'a Value> {
    match t {
        Value::Obj(o) => o.get(key),
        _ => None,
    }
}

fn tuple_stream(items: Vec<Value>) -> Value {
    Value::Arr(Rc::new(Array {
        items,
        sequence: true,
        tuple_stream: true,
        ..Array::default()
    }))
}

fn is_tuple_stream(v: &Value) -> bool {
    matches!(v, Value::Arr(a) if a.tuple_stream)
}

/// jsonata's `fn.append`: concatenation that yields a plain (non-sequence) array.
/// Limits that keep a doubling loop (`$a & $a`, `$append($a, $a)`) from exhausting memory long
/// before the step budget notices. jsonata's own range operator stops at 1e7 items.
pub(crate) const MAX_ITEMS: usize = 10_000_000;
pub(crate) const MAX_STRING_BYTES: usize = 16 << 20;

#[cold]
pub(crate) fn too_large(what: &str) -> Error {
    Error::new(
        "D2014",
        format!("The {what} produced by this expression is too large"),
    )
}

pub(crate) fn check_string(s: String) -> Result<Value, Error> {
    if s.len() > MAX_STRING_BYTES {
        return Err(too_large("string"));
    }
    Ok(Value::string(s))
}

/// [`append`] that refuses to build arrays beyond [`MAX_ITEMS`].
pub(crate) fn append_checked(a: Option<Value>, b: Option<Value>) -> Result<Option<Value>, Error> {
    let len = |v: &Option<Value>| match v {
        Some(Value::Arr(x)) => x.items.len(),
        Some(_) => 1,
        None => 0,
    };
    if len(&a) + len(&b) > MAX_ITEMS {
        return Err(too_large("array"));
    }
    Ok(append(a, b))
}

pub(crate) fn append(a: Option<Value>, b: Option<Value>) -> Option<Value> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => {
            let mut out = match a {
                Value::Arr(arr) => match Rc::try_unwrap(arr) {
                    Ok(arr) => arr.items,
                    Err(rc) => rc.items.clone(),
                },
                other => vec![other],
            };
            match b {
                Value::Arr(arr) => out.extend(arr.items.iter().cloned()),
                other => out.push(other),
            }
            Some(Value::array(out))
        }
    }
}

impl<'e> Evaluator<'e> {
    pub fn now_ms(&mut self) -> i64 {
        match self.now {
            Some(n) => n,
            None => {
                let n = self.env.now_ms();
                self.now = Some(n);
                n
            }
        }
    }

    pub fn eval(&mut self, node: &Node, input: Option<&Value>, env: &Frame) -> R {
        self.steps += 1;
        if self.steps > self.max_steps {
            return Err(timeout_error(node.pos));
        }
        self.depth += 1;
        if self.depth > self.max_depth {
            self.depth -= 1;
            if self.retry_beyond_depth {
                return Err(retry_on_large_stack());
            }
            return Err(depth_error(node.pos));
        }
        let r = match &node.kind {
            // A plain field name (the bulk of any path) needs none of the general machinery.
            Kind::Name(name)
                if node.predicate.is_none() && node.group.is_none() && !node.keep_array =>
            {
                Ok(collapse(lookup(input, name)))
            }
            _ => self.eval_inner(node, input, env),
        };
        self.depth -= 1;
        if let Ok(Some(v)) = &r {
            if v.depth() > self.max_value_depth {
                if self.retry_beyond_value_depth {
                    return Err(retry_on_large_stack());
                }
                return Err(value_depth_error(node.pos));
            }
        }
        r
    }

    fn eval_inner(&mut self, node: &Node, input: Option<&Value>, env: &Frame) -> R {
        let mut result = self.eval_kind(node, input, env)?;

        if let Some(preds) = &node.predicate {
            for p in preds {
                if let Stage::Filter(e) = p {
                    result = Some(self.filter(e, result, env)?);
                }
            }
        }
        if !matches!(node.kind, Kind::Path { .. }) {
            if let Some(g) = &node.group {
                result = Some(self.eval_group(g, result, env)?);
            }
        }
        if let Some(Value::Arr(a)) = &mut result {
            if a.sequence && !a.tuple_stream {
                if node.keep_array && !a.keep_singleton {
                    Rc::make_mut(a).keep_singleton = true;
                }
                if a.items.is_empty() {
                    return Ok(None);
                } else if a.items.len() == 1 && !a.keep_singleton {
                    return Ok(a.items.first().cloned());
                }
            }
        }
        Ok(result)
    }

    #[inline(never)]
    fn eval_neg(&mut self, node: &Node, e: &Node, input: Option<&Value>, env: &Frame) -> R {
        Ok(match self.eval(e, input, env)? {
            None => None,
            Some(v) => {
                if is_numeric(&v).map_err(|e| e.pos(node.pos))? {
                    match v {
                        Value::Num(n) => Some(Value::Num(-n)),
                        other => Some(other),
                    }
                } else {
                    return Err(Error::code("D1002")
                        .pos(node.pos)
                        .token("-")
                        .value(describe(&v)));
                }
            }
        })
    }

    #[inline(never)]
    fn eval_array(&mut self, node: &Node, exprs: &[Node], input: Option<&Value>, env: &Frame) -> R {
        Ok({
            let mut result: Option<Value> = Some(Value::array(vec![]));
            for item in exprs {
                let v = self.eval(item, input, env)?;
                if let Some(v) = v {
                    if matches!(item.kind, Kind::Array(_)) {
                        let mut arr = match result.take() {
                            Some(Value::Arr(a)) => {
                                Rc::try_unwrap(a).unwrap_or_else(|rc| (*rc).clone())
                            }
                            _ => Array::default(),
                        };
                        arr.items.push(v);
                        arr.depth.set(0);
                        result = Some(Value::Arr(Rc::new(arr)));
                    } else {
                        result = append_checked(result, Some(v))?;
                    }
                }
            }
            if node.consarray {
                if let Some(Value::Arr(a)) = result.as_mut() {
                    Rc::make_mut(a).cons = true;
                }
            }
            result
        })
    }

    #[inline(never)]
    fn eval_condition(
        &mut self,
        c: &Node,
        t: &Node,
        e: Option<&Node>,
        input: Option<&Value>,
        env: &Frame,
    ) -> R {
        Ok({
            let cond = self.eval(c, input, env)?;
            if functions::boolean_of(cond.as_ref()) == Some(true) {
                self.eval(t, input, env)?
            } else if let Some(e) = e {
                self.eval(e, input, env)?
            } else {
                None
            }
        })
    }

    #[inline(never)]
    fn eval_block(&mut self, exprs: &[Node], input: Option<&Value>, env: &Frame) -> R {
        Ok({
            let frame = env.child();
            let mut r = None;
            for e in exprs {
                r = self.eval(e, input, &frame)?;
            }
            r
        })
    }

    /// Dispatches on the node kind; kept free of locals so deep recursion uses little stack.
    #[inline(never)]
    fn eval_kind(&mut self, node: &Node, input: Option<&Value>, env: &Frame) -> R {
        // Arms return `R` directly (no `?`): fewer temporaries keeps this frame small.
        match &node.kind {
            Kind::Path {
                steps,
                keep_singleton_array,
            } => self.eval_path(node, steps, *keep_singleton_array, input, env),
            Kind::Binary(op, l, r) => self.eval_binary(*op, l, r, node.pos, input, env),
            Kind::Neg(e) => self.eval_neg(node, e, input, env),
            Kind::Array(exprs) => self.eval_array(node, exprs, input, env),
            Kind::Object(group) => self.eval_group(group, input.cloned(), env).map(Some),
            Kind::Name(name) => Ok(lookup(input, name)),
            Kind::Str(s) => Ok(Some(Value::str(s))),
            Kind::Num(n) => Ok(Some(Value::Num(*n))),
            Kind::Bool(b) => Ok(Some(Value::Bool(*b))),
            Kind::Null => Ok(Some(Value::Null)),
            Kind::Wildcard => Ok(Some(eval_wildcard(input))),
            Kind::Descendant => Ok(eval_descendants(input)),
            Kind::Parent(slot) => Ok(env.lookup(&slot.label())),
            Kind::Condition(c, t, e) => self.eval_condition(c, t, e.as_deref(), input, env),
            Kind::Block(exprs) => self.eval_block(exprs, input, env),
            Kind::Bind(name, rhs) => self.eval_bind(name, rhs, input, env),
            Kind::Regex(re) => Ok(Some(Value::Func(Rc::new(Function::Regex(re.clone()))))),
            Kind::Function {
                procedure,
                args,
                partial: false,
            } => self.eval_function(node, procedure, args, input, env, None),
            Kind::Function {
                procedure,
                args,
                partial: true,
            } => self
                .eval_partial(node, procedure, args, input, env)
                .map(Some),
            Kind::Variable(name) => Ok(eval_variable(name, input, env)),
            Kind::Lambda(def) => Ok(Some(Value::Func(Rc::new(Function::Lambda {
                def: def.clone(),
                input: input.cloned(),
                env: env.clone(),
                params: None,
            })))),
            Kind::Apply(l, r) => self.eval_apply(node, l, r, input, env),
            Kind::Transform(def) => Ok(Some(Value::Func(Rc::new(Function::Transform {
                def: def.clone(),
                env: env.clone(),
            })))),
            Kind::Sort(_) => self
                .eval_sort(node, Value::sequence(seq_items(input.cloned())), env)
                .map(Some),
            Kind::Placeholder => Ok(None),
        }
    }

    #[inline(never)]
    fn eval_bind(&mut self, name: &str, rhs: &Node, input: Option<&Value>, env: &Frame) -> R {
        let v = self.eval(rhs, input, env)?;
        env.bind(name, v.clone());
        Ok(v)
    }

    fn eval_path(
        &mut self,
        node: &Node,
        steps: &[Node],
        keep_singleton_array: bool,
        input: Option<&Value>,
        env: &Frame,
    ) -> R {
        let first_is_var = matches!(steps.first().map(|s| &s.kind), Some(Kind::Variable(_)));
        let mut input_seq: Value = match input {
            Some(v @ Value::Arr(_)) if !first_is_var => v.clone(),
            Some(other) => Value::sequence(vec![other.clone()]),
            None => empty_sequence(),
        };
        // jsonata's createSequence(undefined) holds one undefined item, so the first step is
        // still evaluated once (e.g. `{"a": 1}.a` with no input).
        let mut undefined_input = input.is_none();
        let mut result_seq: Option<Value> = None;
        let mut is_tuple = false;
        let mut tuple_bindings: Option<Vec<Value>> = None;
        let last = steps.len().saturating_sub(1);
        for (ii, step) in steps.iter().enumerate() {
            if step.tuple {
                is_tuple = true;
            }
            if ii == 0 && step.consarray {
                let inp = if undefined_input {
                    None
                } else {
                    Some(&input_seq)
                };
                result_seq = self.eval(step, inp, env)?;
            } else if is_tuple {
                tuple_bindings = Some(self.tuple_step(
                    step,
                    &input_seq,
                    undefined_input,
                    tuple_bindings,
                    env,
                )?);
            } else {
                result_seq =
                    Some(self.eval_step(step, &input_seq, undefined_input, env, ii == last)?);
            }
            undefined_input = false;
            if !is_tuple {
                match &result_seq {
                    None => break,
                    Some(Value::Arr(a)) if a.items.is_empty() => break,
                    _ => {}
                }
            }
            if step.focus.is_none() {
                input_seq = match &result_seq {
                    Some(v) => v.clone(),
                    None => empty_sequence(),
                };
            }
        }
        let mut tuples_for_group = None;
        if is_tuple {
            let tb = tuple_bindings.unwrap_or_default();
            if node.group.is_some() {
                tuples_for_group = Some(tuple_stream(tb.clone()));
            }
            if node.tuple {
                result_seq = Some(tuple_stream(tb));
            } else {
                let vals = tb
                    .iter()
                    .filter_map(|t| tuple_get(t, "@").cloned())
                    .collect();
                result_seq = Some(Value::sequence(vals));
            }
        }
        if keep_singleton_array {
            if let Some(rs) = result_seq.take() {
                let rs = match rs {
                    Value::Arr(a) if a.cons && !a.sequence => Value::sequence(vec![Value::Arr(a)]),
                    Value::Arr(a) => Value::Arr(a),
                    other => Value::sequence(vec![other]),
                };
                let rs = match rs {
                    Value::Arr(mut a) => {
                        Rc::make_mut(&mut a).keep_singleton = true;
                        Value::Arr(a)
                    }
                    o => o,
                };
                result_seq = Some(rs);
            }
        }
        if let Some(g) = &node.group {
            // Grouping sees the tuples themselves, so focus and index variables stay bound.
            let input = if is_tuple {
                tuples_for_group
            } else {
                result_seq
            };
            result_seq = Some(self.eval_group(g, input, env)?);
        }
        Ok(result_seq)
    }

    fn eval_step(
        &mut self,
        step: &Node,
        input: &Value,
        undefined_input: bool,
        env: &Frame,
        last: bool,
    ) -> Result<Value, Error> {
        if let Kind::Sort(_) = step.kind {
            let mut result = self.eval_sort(step, input.clone(), env)?;
            if let Some(stages) = &step.stages {
                result = self.eval_stages(stages, result, env)?;
            }
            return Ok(result);
        }
        let inputs: &[Value] = if undefined_input { &[] } else { items(input) };
        // The common case (one input, a field or variable giving one non-array value): skip
        // the intermediate vectors. A lone non-array value behaves as a singleton sequence
        // everywhere a step's result goes (later steps, predicates, grouping, collapsing).
        if (undefined_input || inputs.len() == 1) && step.stages.is_none() {
            return Ok(match self.eval(step, inputs.first(), env)? {
                None => empty_sequence(),
                Some(Value::Arr(a)) if last && !a.sequence => Value::Arr(a),
                Some(Value::Arr(a)) if a.cons => Value::sequence(vec![Value::Arr(a)]),
                Some(Value::Arr(a)) => Value::sequence(a.items.clone()),
                Some(other) => other,
            });
        }
        // An undefined input is still evaluated once, as one undefined item.
        let count = if undefined_input { 1 } else { inputs.len() };
        let mut results: Vec<Value> = Vec::with_capacity(count);
        for i in 0..count {
            let item = if undefined_input { None } else { inputs.get(i) };
            let mut res = self.eval(step, item, env)?;
            if let Some(stages) = &step.stages {
                for st in stages {
                    if let Stage::Filter(e) = st {
                        res = Some(self.filter(e, res, env)?);
                    }
                }
            }
            if let Some(r) = res {
                results.push(r);
            }
        }
        if last && results.len() == 1 {
            if let Some(Value::Arr(a)) = results.first() {
                if !a.sequence {
                    return Ok(Value::Arr(a.clone()));
                }
            }
        }
        if !results.iter().any(|r| matches!(r, Value::Arr(_))) {
            return Ok(Value::sequence(results));
        }
        let mut out = Vec::new();
        for r in results {
            match r {
                Value::Arr(a) if !a.cons => out.extend(a.items.iter().cloned()),
                other => out.push(other),
            }
        }
        Ok(Value::sequence(out))
    }

    fn eval_stages(&mut self, stages: &[Stage], input: Value, env: &Frame) -> Result<Value, Error> {
        let mut result = input;
        for stage in stages {
            match stage {
                Stage::Filter(e) => result = self.filter(e, Some(result), env)?,
                Stage::Index(name) => {
                    let ts = is_tuple_stream(&result);
                    let new_items: Vec<Value> = items(&result)
                        .iter()
                        .enumerate()
                        .map(|(i, t)| match t {
                            Value::Obj(o) => {
                                let mut o = (**o).clone();
                                o.insert(name.clone(), Value::Num(i as f64));
                                Value::object(o)
                            }
                            other => other.clone(),
                        })
                        .collect();
                    result = if ts {
                        tuple_stream(new_items)
                    } else {
                        Value::sequence(new_items)
                    };
                }
            }
        }
        Ok(result)
    }

    fn tuple_step(
        &mut self,
        step: &Node,
        input: &Value,
        undefined_input: bool,
        tuple_bindings: Option<Vec<Value>>,
        env: &Frame,
    ) -> Result<Vec<Value>, Error> {
        if let Kind::Sort(_) = step.kind {
            let mut result = match tuple_bindings {
                Some(tb) => self.eval_sort(step, tuple_stream(tb), env)?,
                None => {
                    let sorted = self.eval_sort(step, input.clone(), env)?;
                    let ts = items(&sorted)
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let mut o = Object::new();
                            o.insert("@".into(), v.clone());
                            if let Some(idx) = &step.index {
                                o.insert(idx.clone(), Value::Num(i as f64));
                            }
                            Value::object(o)
                        })
                        .collect();
                    tuple_stream(ts)
                }
            };
            if let Some(stages) = &step.stages {
                result = self.eval_stages(stages, result, env)?;
            }
            return Ok(items(&result).to_vec());
        }
        let tuple_bindings = match tuple_bindings {
            Some(tb) => tb,
            None if undefined_input => vec![Value::object(Object::new())],
            None => items(input)
                .iter()
                .map(|v| {
                    let mut o = Object::new();
                    o.insert("@".into(), v.clone());
                    Value::object(o)
                })
                .collect(),
        };
        let mut result = Vec::new();
        for tb in &tuple_bindings {
            let step_env = env.tuple_frame(tb);
            let at = tuple_get(tb, "@").cloned();
            let res = self.eval(step, at.as_ref(), &step_env)?;
            let Some(res) = res else { continue };
            let res_is_ts = is_tuple_stream(&res);
            let res_items: Vec<Value> = match &res {
                Value::Arr(a) => a.items.clone(),
                other => vec![other.clone()],
            };
            let base = match tb {
                Value::Obj(o) => (**o).clone(),
                _ => Object::new(),
            };
            for (bb, item) in res_items.into_iter().enumerate() {
                let mut tuple = base.clone();
                if res_is_ts {
                    if let Value::Obj(o) = &item {
                        for (k, v) in o.iter() {
                            tuple.insert(k.clone(), v.clone());
                        }
                    }
                } else {
                    if let Some(focus) = &step.focus {
                        tuple.insert(focus.clone(), item);
                        match &at {
                            Some(a) => {
                                tuple.insert("@".into(), a.clone());
                            }
                            None => {
                                tuple.shift_remove("@");
                            }
                        }
                    } else {
                        tuple.insert("@".into(), item);
                    }
                    if let Some(idx) = &step.index {
                        tuple.insert(idx.clone(), Value::Num(bb as f64));
                    }
                    if let Some(anc) = &step.ancestor {
                        match &at {
                            Some(a) => {
                                tuple.insert(anc.label(), a.clone());
                            }
                            None => {
                                tuple.shift_remove(&anc.label());
                            }
                        }
                    }
                }
                result.push(Value::object(tuple));
            }
        }
        if let Some(stages) = &step.stages {
            let r = self.eval_stages(stages, tuple_stream(result), env)?;
            return Ok(items(&r).to_vec());
        }
        Ok(result)
    }

    fn filter(
        &mut self,
        predicate: &Node,
        input: Option<Value>,
        env: &Frame,
    ) -> Result<Value, Error> {
        let ts = input.as_ref().is_some_and(is_tuple_stream);
        let input = match input {
            Some(v @ Value::Arr(_)) => v,
            other => Value::sequence(seq_items(other)),
        };
        let list = items(&input);
        let mut results: Vec<Value> = Vec::new();
        if let Kind::Num(n) = predicate.kind {
            let mut index = n.floor();
            if index < 0.0 {
                index += list.len() as f64;
            }
            if index >= 0.0 {
                if let Some(item) = list.get(index as usize) {
                    if let Value::Arr(_) = item {
                        return Ok(item.clone());
                    }
                    results.push(item.clone());
                }
            }
        } else {
            for (index, item) in list.iter().enumerate() {
                let (context, fenv) = if ts {
                    (tuple_get(item, "@").cloned(), env.tuple_frame(item))
                } else {
                    (Some(item.clone()), env.clone())
                };
                let res = self.eval(predicate, context.as_ref(), &fenv)?;
                let res_nums: Option<Vec<f64>> = match &res {
                    Some(Value::Num(n)) if is_numeric(&Value::Num(*n))? => Some(vec![*n]),
                    Some(Value::Arr(a)) if a.items.iter().all(|x| matches!(x, Value::Num(_))) => {
                        Some(a.items.iter().filter_map(|x| x.as_number()).collect())
                    }
                    _ => None,
                };
                if let Some(nums) = res_nums {
                    for n in nums {
                        let mut ii = n.floor();
                        if ii < 0.0 {
                            ii += list.len() as f64;
                        }
                        if ii == index as f64 {
                            results.push(item.clone());
                        }
                    }
                } else if functions::boolean_of(res.as_ref()) == Some(true) {
                    results.push(item.clone());
                }
            }
        }
        Ok(if ts {
            tuple_stream(results)
        } else {
            Value::sequence(results)
        })
    }

    fn eval_binary(
        &mut self,
        op: BinOp,
        l: &Node,
        r: &Node,
        pos: usize,
        input: Option<&Value>,
        env: &Frame,
    ) -> R {
        let lhs = self.eval(l, input, env)?;
        if matches!(op, BinOp::And | BinOp::Or) {
            let lb = functions::boolean_of(lhs.as_ref()).unwrap_or(false);
            let res = match op {
                BinOp::And => {
                    lb && {
                        let rhs = self.eval(r, input, env)?;
                        functions::boolean_of(rhs.as_ref()).unwrap_or(false)
                    }
                }
                _ => {
                    lb || {
                        let rhs = self.eval(r, input, env)?;
                        functions::boolean_of(rhs.as_ref()).unwrap_or(false)
                    }
                }
            };
            return Ok(Some(Value::Bool(res)));
        }
        let rhs = self.eval(r, input, env)?;
        let sym = op.symbol();
        let res = match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                numeric(op, lhs.as_ref(), rhs.as_ref())
            }
            BinOp::Eq | BinOp::Ne => {
                let eq = match (&lhs, &rhs) {
                    (Some(a), Some(b)) => Some(deep_equal(a, b)),
                    _ => None,
                };
                Ok(Some(Value::Bool(match (op, eq) {
                    (_, None) => false,
                    (BinOp::Eq, Some(e)) => e,
                    (_, Some(e)) => !e,
                })))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                comparison(op, lhs.as_ref(), rhs.as_ref())
            }
            BinOp::Concat => {
                let ls = match &lhs {
                    None => String::new(),
                    Some(v) => functions::string_of(v, false)?,
                };
                let rs = match &rhs {
                    None => String::new(),
                    Some(v) => functions::string_of(v, false)?,
                };
                check_string(ls + &rs).map(Some)
            }
            BinOp::Range => range(lhs.as_ref(), rhs.as_ref()),
            BinOp::In => {
                let found = match (&lhs, &rhs) {
                    (Some(l), Some(r)) => items(r).iter().any(|x| value::strict_equal(x, l)),
                    _ => false,
                };
                Ok(Some(Value::Bool(found)))
            }
            BinOp::And | BinOp::Or => Ok(None),
        };
        res.map_err(|e| {
            let e = if e.position.is_none() { e.pos(pos) } else { e };
            if !e.has_token() {
                e.token(sym)
            } else {
                e
            }
        })
    }

    // ------------------------------------------------------------ grouping and sorting

    pub(crate) fn eval_group(
        &mut self,
        group: &Group,
        input: Option<Value>,
        env: &Frame,
    ) -> Result<Value, Error> {
        let reduce = input.as_ref().is_some_and(is_tuple_stream);
        if !reduce {
            if let Some(result) = self.eval_literal_group(group, &input, env)? {
                return Ok(result);
            }
        }
        let list: Vec<Option<Value>> = match &input {
            Some(Value::Arr(a)) if !a.items.is_empty() => {
                a.items.iter().cloned().map(Some).collect()
            }
            Some(Value::Arr(_)) | None => vec![None],
            Some(v) => vec![Some(v.clone())],
        };
        // key -> (data, pair index), in first-seen order
        let mut groups: indexmap::IndexMap<String, (Option<Value>, usize)> =
            indexmap::IndexMap::new();
        for item in &list {
            let fenv = match (reduce, item) {
                (true, Some(t)) => env.tuple_frame(t),
                _ => env.clone(),
            };
            let ctx = match (reduce, item) {
                (true, Some(t)) => tuple_get(t, "@").cloned(),
                _ => item.clone(),
            };
            for (pair_index, (kexpr, _)) in group.pairs.iter().enumerate() {
                let key = self.eval(kexpr, ctx.as_ref(), &fenv)?;
                let key = match key {
                    None => continue,
                    Some(Value::Str(s)) => s.to_string(),
                    Some(other) => {
                        return Err(Error::code("T1003").pos(group.pos).value(describe(&other)))
                    }
                };
                match groups.get_mut(&key) {
                    Some(entry) => {
                        if entry.1 != pair_index {
                            return Err(Error::code("D1009").pos(group.pos).value(key));
                        }
                        entry.0 = append(entry.0.take(), item.clone());
                    }
                    None => {
                        groups.insert(key, (item.clone(), pair_index));
                    }
                }
            }
        }
        let mut result = Object::new();
        for (key, (data, idx)) in groups {
            let (context, fenv) = if reduce {
                let tuple = reduce_tuple_stream(data);
                let mut t = match tuple {
                    Some(Value::Obj(o)) => (*o).clone(),
                    _ => Object::new(),
                };
                let at = t.shift_remove("@");
                (at, env.tuple_frame(&Value::object(t)))
            } else {
                (data, env.clone())
            };
            let Some((_, vexpr)) = group.pairs.get(idx) else {
                continue;
            };
            if let Some(v) = self.eval(vexpr, context.as_ref(), &fenv)? {
                result.insert(key, v);
            }
        }
        Ok(Value::object(result))
    }

    /// The usual object constructor, `{"a": x, "b": y}` over a single input: with distinct
    /// literal keys, grouping degenerates to evaluating each value once, in order. `None` when
    /// the general algorithm is needed.
    fn eval_literal_group(
        &mut self,
        group: &Group,
        input: &Option<Value>,
        env: &Frame,
    ) -> Result<Option<Value>, Error> {
        let context = match input {
            Some(Value::Arr(a)) if a.items.len() > 1 => return Ok(None),
            Some(Value::Arr(a)) => a.items.first(),
            other => other.as_ref(),
        };
        for (i, (k, _)) in group.pairs.iter().enumerate() {
            let Some(key) = literal(k) else {
                return Ok(None);
            };
            // A repeated key is an error (D1009) that the general algorithm reports.
            let earlier = group.pairs.get(..i).unwrap_or(&[]);
            if earlier.iter().any(|(e, _)| literal(e) == Some(key)) {
                return Ok(None);
            }
        }
        let mut result = Object::new();
        result.reserve(group.pairs.len());
        for (k, vexpr) in &group.pairs {
            // The general algorithm evaluates each key once per item; keep the step count.
            self.steps += 1;
            if let (Some(key), Some(v)) = (literal(k), self.eval(vexpr, context, env)?) {
                result.insert(key.to_string(), v);
            }
        }
        Ok(Some(Value::object(result)))
    }

    fn eval_sort(&mut self, node: &Node, input: Value, env: &Frame) -> Result<Value, Error> {
        let Kind::Sort(terms) = &node.kind else {
            return Ok(input);
        };
        let ts = is_tuple_stream(&input);
        let list = items(&input).to_vec();
        if list.len() <= 1 {
            return Ok(input);
        }
        // Each term is evaluated once per item, then items are merge-sorted on the keys.
        let mut keyed: Vec<(Vec<Option<Value>>, Value)> = Vec::with_capacity(list.len());
        for item in list {
            let (ctx, fenv) = if ts {
                (tuple_get(&item, "@").cloned(), env.tuple_frame(&item))
            } else {
                (Some(item.clone()), env.clone())
            };
            let mut keys = Vec::with_capacity(terms.len());
            for term in terms {
                keys.push(self.eval(&term.expr, ctx.as_ref(), &fenv)?);
            }
            keyed.push((keys, item));
        }
        let pos = node.pos;
        let mut cmp = |a: &(Vec<Option<Value>>, Value),
                       b: &(Vec<Option<Value>>, Value)|
         -> Result<bool, Error> {
            let mut comp = 0i32;
            for (i, term) in terms.iter().enumerate() {
                let aa = a.0.get(i).cloned().flatten();
                let bb = b.0.get(i).cloned().flatten();
                comp = match (&aa, &bb) {
                    (None, None) => 0,
                    (None, _) => 1,
                    (_, None) => -1,
                    (Some(x), Some(y)) => {
                        let ok = |v: &Value| matches!(v, Value::Num(_) | Value::Str(_));
                        if !ok(x) || !ok(y) {
                            let bad = if !ok(x) { x } else { y };
                            return Err(Error::code("T2008").pos(pos).value(describe(bad)));
                        }
                        let c = match (x, y) {
                            (Value::Num(p), Value::Num(q)) => {
                                p.partial_cmp(q).map_or(0, |o| o as i32)
                            }
                            (Value::Str(p), Value::Str(q)) => functions::cmp_js_str(p, q) as i32,
                            _ => {
                                return Err(Error::code("T2007")
                                    .pos(pos)
                                    .value(describe(x))
                                    .value2(describe(y)))
                            }
                        };
                        if term.descending {
                            -c
                        } else {
                            c
                        }
                    }
                };
                if comp != 0 {
                    break;
                }
            }
            Ok(comp == 1)
        };
        let sorted = merge_sort(keyed, &mut cmp)?;
        let out: Vec<Value> = sorted.into_iter().map(|(_, v)| v).collect();
        Ok(if ts {
            tuple_stream(out)
        } else {
            Value::sequence(out)
        })
    }

    // ------------------------------------------------------------ functions

    fn eval_function(
        &mut self,
        node: &Node,
        procedure: &Node,
        args: &[Node],
        input: Option<&Value>,
        env: &Frame,
        apply_to: Option<Option<Value>>,
    ) -> R {
        let proc = self.eval(procedure, input, env)?;
        if proc.is_none() {
            if let Kind::Path { steps, .. } = &procedure.kind {
                if let Some(Kind::Name(n)) = steps.first().map(|s| &s.kind) {
                    if env.lookup(n).is_some() {
                        return Err(Error::code("T1005").pos(node.pos).token(n.clone()));
                    }
                }
            }
        }
        let mut evaluated: Vec<Option<Value>> = Vec::with_capacity(args.len() + 1);
        if let Some(a) = apply_to {
            evaluated.push(a);
        }
        for a in args {
            evaluated.push(self.eval(a, input, env)?);
        }
        self.apply(proc.as_ref(), evaluated, input, env)
            .map_err(|e| {
                let e = if e.position.is_none() {
                    e.pos(node.pos)
                } else {
                    e
                };
                if !e.has_token() {
                    e.token(proc_name(procedure))
                } else {
                    e
                }
            })
    }

    fn eval_partial(
        &mut self,
        node: &Node,
        procedure: &Node,
        args: &[Node],
        input: Option<&Value>,
        env: &Frame,
    ) -> Result<Value, Error> {
        let mut bound = Vec::with_capacity(args.len());
        for a in args {
            if let Kind::Placeholder = a.kind {
                bound.push(PartialArg::Placeholder);
            } else {
                bound.push(PartialArg::Bound(self.eval(a, input, env)?));
            }
        }
        let proc = self.eval(procedure, input, env)?;
        match proc {
            Some(f @ Value::Func(_)) => Ok(Value::Func(Rc::new(Function::Partial {
                func: f,
                args: bound,
            }))),
            None => {
                if let Kind::Path { steps, .. } = &procedure.kind {
                    if let Some(Kind::Name(n)) = steps.first().map(|s| &s.kind) {
                        if env.lookup(n).is_some() {
                            return Err(Error::code("T1007").pos(node.pos).token(n.clone()));
                        }
                    }
                }
                Err(Error::code("T1008")
                    .pos(node.pos)
                    .token(proc_name(procedure)))
            }
            Some(_) => Err(Error::code("T1008")
                .pos(node.pos)
                .token(proc_name(procedure))),
        }
    }

    fn eval_apply(
        &mut self,
        node: &Node,
        l: &Node,
        r: &Node,
        input: Option<&Value>,
        env: &Frame,
    ) -> R {
        let lhs = self.eval(l, input, env)?;
        if let Kind::Function {
            procedure,
            args,
            partial: false,
        } = &r.kind
        {
            return self.eval_function(r, procedure, args, input, env, Some(lhs));
        }
        let func = self.eval(r, input, env)?;
        let Some(func @ Value::Func(_)) = func else {
            return Err(Error::code("T2006")
                .pos(node.pos)
                .value(func.as_ref().map(describe).unwrap_or_default()));
        };
        if let Some(lf @ Value::Func(_)) = lhs {
            return Ok(Some(Value::Func(Rc::new(Function::Chain(lf, func)))));
        }
        self.apply(Some(&func), vec![lhs], None, env)
    }

    /// Applies a function, trampolining tail calls (thunks) so tail recursion runs in constant
    /// stack.
    pub(crate) fn apply(
        &mut self,
        proc: Option<&Value>,
        args: Vec<Option<Value>>,
        input: Option<&Value>,
        env: &Frame,
    ) -> R {
        let mut result = self.apply_inner(proc, args, input, env)?;
        #[allow(clippy::while_let_loop)]
        loop {
            let (def, tin, tenv) = match &result {
                Some(Value::Func(f)) => match &**f {
                    Function::Lambda {
                        def, input, env, ..
                    } if def.thunk => (def.clone(), input.clone(), env.clone()),
                    _ => break,
                },
                _ => break,
            };
            let Kind::Function {
                procedure,
                args: targs,
                ..
            } = &def.body.kind
            else {
                break;
            };
            let next = self.eval(procedure, tin.as_ref(), &tenv)?;
            let mut evaluated = Vec::with_capacity(targs.len());
            for a in targs {
                evaluated.push(self.eval(a, tin.as_ref(), &tenv)?);
            }
            let pos = def.body.pos;
            result = self
                .apply_inner(next.as_ref(), evaluated, input, env)
                .map_err(|e| {
                    let e = if e.position.is_none() { e.pos(pos) } else { e };
                    if !e.has_token() {
                        e.token(proc_name(procedure))
                    } else {
                        e
                    }
                })?;
        }
        Ok(result)
    }

    fn apply_inner(
        &mut self,
        proc: Option<&Value>,
        args: Vec<Option<Value>>,
        input: Option<&Value>,
        env: &Frame,
    ) -> R {
        let Some(Value::Func(f)) = proc else {
            return Err(Error::code("T1006"));
        };
        let f = f.clone();
        match &*f {
            Function::Lambda {
                def,
                input: linput,
                env: lenv,
                params,
            } => {
                let args = match &def.signature {
                    Some(sig) => sig.validate(args, input)?,
                    None => args,
                };
                let frame = lenv.child();
                let names = params.as_ref().unwrap_or(&def.params);
                for (i, p) in names.iter().enumerate() {
                    frame.bind(p, args.get(i).cloned().flatten());
                }
                if def.thunk {
                    // A thunk's body is the tail call itself; hand it back to the trampoline.
                    return Ok(Some(Value::Func(Rc::new(Function::Lambda {
                        def: def.clone(),
                        input: linput.clone(),
                        env: frame,
                        params: None,
                    }))));
                }
                self.eval(&def.body, linput.as_ref(), &frame)
            }
            Function::Native(n) => {
                let sig = functions::signature(n)?;
                let args = sig.validate(args, input)?;
                (n.imp)(self, &args, input, env)
            }
            Function::Partial { func, args: bound } => {
                let mut supplied = args.into_iter();
                let full: Vec<Option<Value>> = bound
                    .iter()
                    .map(|b| match b {
                        PartialArg::Placeholder => supplied.next().flatten(),
                        PartialArg::Bound(v) => v.clone(),
                    })
                    .collect();
                self.apply(Some(func), full, input, env)
            }
            Function::Regex(re) => {
                let text = match args.first().cloned().flatten() {
                    Some(Value::Str(s)) => s,
                    _ => return Ok(None),
                };
                Ok(regex_match_object(re, &text, 0))
            }
            Function::RegexNext { regex, text, from } => {
                if *from >= text.len() {
                    return Ok(None);
                }
                let next = regex_match_object(regex, text, *from);
                if let Some(Value::Obj(o)) = &next {
                    if o.get("match").and_then(|m| m.as_str()) == Some("") {
                        return Err(Error::code("D1004").value(regex.source.clone()));
                    }
                }
                Ok(next)
            }
            Function::Transform { def, env: tenv } => {
                let arg = args.into_iter().next().flatten();
                match arg {
                    None => Ok(None),
                    Some(v @ (Value::Obj(_) | Value::Arr(_))) => {
                        self.transform(def, v, tenv).map(Some)
                    }
                    Some(other) => Err(Error::code("T0410").index(1).value(describe(&other))),
                }
            }
            Function::Chain(f1, g) => {
                let r = self.apply(Some(f1), args, input, env)?;
                self.apply(Some(g), vec![r], input, env)
            }
        }
    }

    fn transform(&mut self, def: &TransformDef, obj: Value, env: &Frame) -> Result<Value, Error> {
        let result = deep_clone(&obj);
        let matches = self.eval(&def.pattern, Some(&result), env)?;
        let Some(matches) = matches else {
            return Ok(result);
        };
        let mut mods: HashMap<*const Object, (Object, Vec<String>)> = HashMap::new();
        for m in items(&matches) {
            let update = self.eval(&def.update, Some(m), env)?;
            let mut upd = Object::new();
            match update {
                None => {}
                Some(Value::Obj(o)) => upd = (*o).clone(),
                Some(other) => {
                    return Err(Error::code("T2011")
                        .pos(def.update.pos)
                        .value(describe(&other)))
                }
            }
            let mut dels = Vec::new();
            if let Some(d) = &def.delete {
                if let Some(dv) = self.eval(d, Some(m), env)? {
                    for x in items(&dv) {
                        match x {
                            Value::Str(s) => dels.push(s.to_string()),
                            _ => return Err(Error::code("T2012").pos(d.pos).value(describe(&dv))),
                        }
                    }
                }
            }
            if let Value::Obj(o) = m {
                let entry = mods
                    .entry(Rc::as_ptr(o))
                    .or_insert_with(|| (Object::new(), Vec::new()));
                for (k, v) in upd {
                    entry.0.insert(k, v);
                }
                entry.1.extend(dels);
            }
        }
        if mods.is_empty() {
            return Ok(result);
        }
        Ok(rebuild(&result, &mods, 0))
    }
}

fn rebuild(v: &Value, mods: &HashMap<*const Object, (Object, Vec<String>)>, depth: usize) -> Value {
    if depth > 5000 {
        return v.clone();
    }
    match v {
        Value::Obj(o) => {
            let mut out: Object = o
                .iter()
                .map(|(k, x)| (k.clone(), rebuild(x, mods, depth + 1)))
                .collect();
            if let Some((upd, dels)) = mods.get(&Rc::as_ptr(o)) {
                for (k, x) in upd.iter() {
                    out.insert(k.clone(), x.clone());
                }
                for d in dels {
                    out.shift_remove(d);
                }
            }
            Value::object(out)
        }
        Value::Arr(a) => {
            let mut arr = (**a).clone();
            arr.depth.set(0);
            arr.items = a
                .items
                .iter()
                .map(|x| rebuild(x, mods, depth + 1))
                .collect();
            Value::Arr(Rc::new(arr))
        }
        other => other.clone(),
    }
}

pub(crate) fn deep_clone(v: &Value) -> Value {
    match v {
        Value::Obj(o) => Value::object(o.iter().map(|(k, x)| (k.clone(), deep_clone(x))).collect()),
        Value::Arr(a) => {
            let mut arr = (**a).clone();
            arr.items = a.items.iter().map(deep_clone).collect();
            Value::Arr(Rc::new(arr))
        }
        other => other.clone(),
    }
}

fn proc_name(procedure: &Node) -> String {
    match &procedure.kind {
        Kind::Path { steps, .. } => match steps.first().map(|s| &s.kind) {
            Some(Kind::Name(n)) => n.clone(),
            _ => String::new(),
        },
        Kind::Variable(v) => v.clone(),
        _ => String::new(),
    }
}

fn reduce_tuple_stream(data: Option<Value>) -> Option<Value> {
    match data {
        Some(Value::Arr(a)) => {
            let mut list = a.items.iter();
            let mut result = match list.next() {
                Some(Value::Obj(o)) => (**o).clone(),
                _ => Object::new(),
            };
            for t in list {
                if let Value::Obj(o) = t {
                    for (k, v) in o.iter() {
                        let cur = result.shift_remove(k);
                        if let Some(nv) = append(cur, Some(v.clone())) {
                            result.insert(k.clone(), nv);
                        }
                    }
                }
            }
            Some(Value::object(result))
        }
        other => other,
    }
}

/// A stable merge sort whose comparator may fail; `swap(a, b)` is true when `a` sorts after `b`.
pub(crate) fn merge_sort<T: Clone>(
    list: Vec<T>,
    swap: &mut dyn FnMut(&T, &T) -> Result<bool, Error>,
) -> Result<Vec<T>, Error> {
    if list.len() <= 1 {
        return Ok(list);
    }
    let mut runs: Vec<Vec<T>> = list.into_iter().map(|x| vec![x]).collect();
    while runs.len() > 1 {
        let mut next = Vec::with_capacity(runs.len() / 2 + 1);
        let mut it = runs.into_iter();
        while let Some(left) = it.next() {
            match it.next() {
                None => next.push(left),
                Some(right) => {
                    let mut merged = Vec::with_capacity(left.len() + right.len());
                    let mut l = left.into_iter().peekable();
                    let mut r = right.into_iter().peekable();
                    loop {
                        match (l.peek(), r.peek()) {
                            (Some(a), Some(b)) => {
                                if swap(a, b)? {
                                    if let Some(x) = r.next() {
                                        merged.push(x);
                                    }
                                } else if let Some(x) = l.next() {
                                    merged.push(x);
                                }
                            }
                            (Some(_), None) => merged.extend(l.by_ref()),
                            (None, Some(_)) => merged.extend(r.by_ref()),
                            (None, None) => break,
                        }
                    }
                    next.push(merged);
                }
            }
        }
        runs = next;
    }
    Ok(runs.into_iter().next().unwrap_or_default())
}

/// jsonata's `fn.lookup`.
pub(crate) fn lookup(input: Option<&Value>, key: &str) -> Option<Value> {
    match input {
        Some(Value::Arr(a)) => {
            let mut out = Vec::new();
            for item in &a.items {
                if let Some(r) = lookup(Some(item), key) {
                    match r {
                        Value::Arr(ra) => out.extend(ra.items.iter().cloned()),
                        other => out.push(other),
                    }
                }
            }
            Some(Value::sequence(out))
        }
        Some(Value::Obj(o)) => o.get_cloned(key),
        _ => None,
    }
}

fn flatten_into(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Arr(a) => {
            for x in &a.items {
                flatten_into(x, out);
            }
        }
        other => out.push(other.clone()),
    }
}

fn eval_wildcard(input: Option<&Value>) -> Value {
    let mut results = Vec::new();
    let input = match input {
        Some(Value::Arr(a)) if a.outer_wrapper && !a.items.is_empty() => a.items.first(),
        other => other,
    };
    // An array's "keys" are its indexes in JavaScript, so `*` over an array yields its items.
    let values: Vec<&Value> = match input {
        Some(Value::Obj(o)) => o.values().collect(),
        Some(Value::Arr(a)) => a.items.iter().collect(),
        _ => vec![],
    };
    for v in values {
        match v {
            Value::Arr(_) => flatten_into(v, &mut results),
            other => results.push(other.clone()),
        }
    }
    Value::sequence(results)
}

fn eval_descendants(input: Option<&Value>) -> Option<Value> {
    let input = input?;
    let mut out = Vec::new();
    recurse_descendants(input, &mut out, 0);
    if out.len() == 1 {
        out.pop()
    } else {
        Some(Value::sequence(out))
    }
}

fn recurse_descendants(v: &Value, out: &mut Vec<Value>, depth: usize) {
    if depth > 10_000 {
        return;
    }
    match v {
        Value::Arr(a) => {
            for x in &a.items {
                recurse_descendants(x, out, depth + 1);
            }
        }
        Value::Obj(o) => {
            out.push(v.clone());
            for x in o.values() {
                recurse_descendants(x, out, depth + 1);
            }
        }
        other => out.push(other.clone()),
    }
}

fn numeric(op: BinOp, lhs: Option<&Value>, rhs: Option<&Value>) -> R {
    if let Some(l) = lhs {
        if !is_numeric(l)? {
            return Err(Error::code("T2001").value(describe(l)));
        }
    }
    if let Some(r) = rhs {
        if !is_numeric(r)? {
            return Err(Error::code("T2002").value(describe(r)));
        }
    }
    let (Some(Value::Num(l)), Some(Value::Num(r))) = (lhs, rhs) else {
        return Ok(None);
    };
    let v = match op {
        BinOp::Add => l + r,
        BinOp::Sub => l - r,
        BinOp::Mul => l * r,
        BinOp::Div => l / r,
        _ => l % r,
    };
    Ok(Some(Value::Num(v)))
}

fn comparison(op: BinOp, lhs: Option<&Value>, rhs: Option<&Value>) -> R {
    let comparable = |v: Option<&Value>| -> Result<bool, Error> {
        Ok(match v {
            None => true,
            Some(Value::Str(_)) => true,
            Some(x) => is_numeric(x)?,
        })
    };
    let lc = comparable(lhs)?;
    let rc = comparable(rhs)?;
    if !lc || !rc {
        let bad = if !lc { lhs } else { rhs };
        return Err(Error::code("T2010").value(bad.map(describe).unwrap_or_default()));
    }
    let (Some(l), Some(r)) = (lhs, rhs) else {
        return Ok(None);
    };
    let ord = match (l, r) {
        (Value::Num(a), Value::Num(b)) => a.partial_cmp(b),
        (Value::Str(a), Value::Str(b)) => Some(functions::cmp_js_str(a, b)),
        _ => {
            return Err(Error::code("T2009").value(describe(l)).value2(describe(r)));
        }
    };
    let Some(ord) = ord else {
        return Ok(Some(Value::Bool(false)));
    };
    use std::cmp::Ordering::*;
    let b = match op {
        BinOp::Lt => ord == Less,
        BinOp::Le => ord != Greater,
        BinOp::Gt => ord == Greater,
        _ => ord != Less,
    };
    Ok(Some(Value::Bool(b)))
}

fn range(lhs: Option<&Value>, rhs: Option<&Value>) -> R {
    let is_int = |v: &Value| matches!(v, Value::Num(n) if n.fract() == 0.0 && n.is_finite());
    if let Some(l) = lhs {
        if !is_int(l) {
            return Err(Error::code("T2003").value(describe(l)));
        }
    }
    if let Some(r) = rhs {
        if !is_int(r) {
            return Err(Error::code("T2004").value(describe(r)));
        }
    }
    let (Some(Value::Num(l)), Some(Value::Num(r))) = (lhs, rhs) else {
        return Ok(None);
    };
    if l > r {
        return Ok(None);
    }
    let size = r - l + 1.0;
    if size > 1e7 {
        return Err(Error::code("D2014").value(value::format_number_js(size)));
    }
    let items = (0..size as i64).map(|i| Value::Num(l + i as f64)).collect();
    Ok(Some(Value::sequence(items)))
}

/// The object a regex matcher returns: `{match, start, end, groups, next}` (offsets in UTF-16
/// code units, as in JavaScript).
fn regex_match_object(re: &Arc<RegexLit>, text: &Rc<str>, from: usize) -> Option<Value> {
    let caps = re.regex.captures_at(text, from)?;
    let m = caps.get(0)?;
    let mut o = Object::new();
    o.insert("match".into(), Value::str(m.as_str()));
    o.insert(
        "start".into(),
        Value::Num(value::utf16_len(&text[..m.start()]) as f64),
    );
    o.insert(
        "end".into(),
        Value::Num(value::utf16_len(&text[..m.end()]) as f64),
    );
    let groups = caps
        .iter()
        .skip(1)
        .map(|g| Value::str(g.map(|g| g.as_str()).unwrap_or("")))
        .collect();
    o.insert("groups".into(), Value::array(groups));
    let next_from = if m.end() == m.start() {
        m.end() + text[m.end()..].chars().next().map_or(1, char::len_utf8)
    } else {
        m.end()
    };
    o.insert(
        "next".into(),
        Value::Func(Rc::new(Function::RegexNext {
            regex: re.clone(),
            text: text.clone(),
            from: next_from,
        })),
    );
    Some(Value::object(o))
}
