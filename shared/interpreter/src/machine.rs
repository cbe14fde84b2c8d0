//! A definition compiled once per version: states in one flat arena, names resolved to
//! indices, paths/templates/rules precompiled, so that a step does no parsing.

use crate::api::{IntegrationPattern, Limits, ResourceKind};
use crate::flow::{Path, Rule, Template};
use crate::jsonata::JTemplate;
use crate::retry::CompiledRetrier;
use cairn_asl::model::{
    Catcher, ChoiceRule, FailState, MapState, ModelError, ParallelState, QueryLanguage, Seen,
    State, StateMachine, TaskState, WaitState,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Nesting of Parallel/Map scopes beyond which a definition is refused, so that compiling
/// cannot exhaust the stack.
const MAX_SCOPE_DEPTH: usize = 64;

/// Why a definition could not be compiled into a [`Machine`].
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("state '{state}': {message}")]
    State { state: String, message: String },
    #[error("state '{0}' is referenced but not defined in its scope")]
    UnknownState(String),
    #[error("states are nested more than {MAX_SCOPE_DEPTH} levels deep")]
    TooDeep,
}

/// A compiled state machine definition. Cheap to share between executions.
#[derive(Debug, Clone)]
pub struct Machine {
    pub(crate) states: Vec<CState>,
    pub(crate) start: usize,
    pub(crate) timeout_seconds: Option<u64>,
    pub(crate) limits: Limits,
    /// Record each state's data-flow stages in its decisions (TestState's inspection).
    pub(crate) inspect: bool,
    /// A caller-supplied context object that replaces the one built from the execution
    /// (TestState's `context`).
    pub(crate) context_object: Option<Value>,
    /// Variables the execution starts with (TestState's `variables`).
    pub(crate) initial_variables: Map<String, Value>,
}

impl Machine {
    pub fn new(definition: &StateMachine) -> Result<Machine, LoadError> {
        Machine::compile(definition, &definition.states)
    }

    /// `definition`'s header (StartAt, QueryLanguage, TimeoutSeconds) with these states.
    fn compile(
        definition: &StateMachine,
        states: &Map<String, Value>,
    ) -> Result<Machine, LoadError> {
        let mut compiler = Compiler {
            reserved: 0,
            language: definition.language(),
        };
        let (states, start) = compiler.scope(states, &definition.start_at, 0)?;
        Ok(Machine {
            states,
            start,
            timeout_seconds: definition.timeout_seconds,
            limits: Limits::default(),
            inspect: false,
            context_object: None,
            initial_variables: Map::new(),
        })
    }

    pub fn from_json(definition: &Value) -> Result<Machine, LoadError> {
        // The typed header is read without its States, which the compiler reads in place:
        // copying them into the typed model was a fifth of the cost of loading a definition.
        match definition.as_object().map(|o| (o, o.get("States"))) {
            Some((object, Some(Value::Object(states)))) => {
                let mut header: Map<String, Value> = object
                    .iter()
                    .filter(|(key, _)| key.as_str() != "States")
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                header.insert("States".into(), Value::Object(Map::new()));
                let typed = StateMachine::from_value(&Value::Object(header))?;
                Machine::compile(&typed, states)
            }
            _ => Machine::new(&StateMachine::from_value(definition)?),
        }
    }

    /// Makes every decision record the data-flow stages of the JSONPath states it runs
    /// ([`crate::Decision::inspection`]); off by default, as it copies every stage's value.
    pub fn with_inspection(mut self) -> Machine {
        self.inspect = true;
        self
    }

    /// Makes `$$` (and `$states.context`) this value instead of the context object built
    /// from the execution, as TestState does with a `context` it is given.
    pub fn with_context_object(mut self, context: Value) -> Machine {
        self.context_object = Some(context);
        self
    }

    /// Starts every execution with these variables assigned at the top level, as TestState
    /// does with the `variables` it is given.
    pub fn with_variables(mut self, variables: Map<String, Value>) -> Machine {
        self.initial_variables = variables;
        self
    }

    /// Overrides the service limits (payload size, history length) for executions of this machine.
    pub fn with_limits(mut self, limits: Limits) -> Machine {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub(crate) fn state(&self, index: usize) -> Option<&CState> {
        self.states.get(index)
    }
}

/// `InputPath`/`OutputPath`: absent means `$`, `null` means `{}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IoPath {
    Whole,
    Empty,
    Path(Path),
}

/// `ResultPath`: absent means `$` (the result replaces the input), `null` discards the result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResultPath {
    Replace,
    Discard,
    Path(Path),
}

#[derive(Debug, Clone)]
pub(crate) struct CCatcher {
    pub errors: Vec<String>,
    pub next: usize,
    pub result_path: ResultPath,
    pub assign: Option<Template>,
}

/// A number fixed in the definition or read from the input with a `...Path` field.
#[derive(Debug, Clone)]
pub(crate) enum Setting<T> {
    Fixed(T),
    Path { field: &'static str, path: Path },
}

#[derive(Debug, Clone)]
pub(crate) struct TaskSpec {
    pub resource: String,
    pub kind: ResourceKind,
    pub timeout: Option<Setting<u64>>,
    pub heartbeat: Option<Setting<u64>>,
    pub credentials: Option<Template>,
}

#[derive(Debug, Clone)]
pub(crate) enum WaitSpec {
    Seconds(u64),
    Timestamp(String),
    SecondsPath(Path),
    TimestampPath(Path),
}

#[derive(Debug, Clone)]
pub(crate) enum FailField {
    None,
    Literal(String),
    Path(Path),
    /// An intrinsic function, kept as a one-field template `{"ErrorPath.$": "States...."}`.
    Intrinsic(Template),
}

#[derive(Debug, Clone)]
pub(crate) struct ChoiceBranch {
    pub rule: Rule,
    pub next: usize,
    pub assign: Option<Template>,
}

#[derive(Debug, Clone)]
pub(crate) struct MapSpec {
    pub processor: usize,
    pub items_path: IoPath,
    pub item_selector: Option<Template>,
    pub selector_uses_context: bool,
    pub max_concurrency: Setting<u64>,
    pub tolerated_count: Option<Setting<u64>>,
    pub tolerated_percentage: Option<Setting<f64>>,
    /// DISTRIBUTED mode: iterations are child executions (a Map Run) whose events are
    /// not part of this execution's history.
    pub distributed: bool,
    /// ProcessorConfig ExecutionType EXPRESS (a Distributed Map's children; AWS's default is
    /// STANDARD).
    pub express: bool,
    pub label: Option<String>,
    pub reader: Option<Box<crate::reader::ReaderSpec>>,
    pub batcher: Option<Box<crate::reader::BatcherSpec>>,
    pub writer: Option<Box<crate::writer::WriterSpec>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Pass {
        result: Option<Value>,
    },
    Task(Box<TaskSpec>),
    Choice {
        branches: Vec<ChoiceBranch>,
        default: Option<usize>,
    },
    Wait(WaitSpec),
    Succeed,
    Fail {
        error: FailField,
        cause: FailField,
    },
    Parallel {
        branches: Vec<usize>,
    },
    Map(Box<MapSpec>),
    /// A state the decider cannot run yet: running it fails the execution with this message.
    Unsupported(String),
}

/// One compiled state.
#[derive(Debug, Clone)]
pub(crate) struct CState {
    pub name: String,
    /// `Pass`, `Task`, ...: the prefix of the state's history events.
    pub type_name: &'static str,
    pub input_path: IoPath,
    pub output_path: IoPath,
    pub result_path: ResultPath,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub assign: Option<Template>,
    pub next: Option<usize>,
    pub retry: Vec<CompiledRetrier>,
    pub catch: Vec<CCatcher>,
    /// Whether the state's own fields mention `$$`: the context object is built only then.
    pub uses_context: bool,
    /// Whether those mentions may read `$$.Execution.Input`.
    pub context_input: bool,
    pub kind: Kind,
    /// The JSONata fields of a state whose QueryLanguage is JSONata.
    pub jsonata: Option<Box<JSpec>>,
    /// Details objects of its frequent history events, named after it.
    pub shapes: crate::history::Shapes,
}

/// A JSONata state's fields, compiled. Unset fields take AWS's defaults when run.
#[derive(Debug, Clone, Default)]
pub(crate) struct JSpec {
    pub arguments: Option<JTemplate>,
    pub output: Option<JTemplate>,
    pub assign: Option<JTemplate>,
    /// Output and Assign of each Catcher, in `CState::catch` order.
    pub catch: Vec<(Option<JTemplate>, Option<JTemplate>)>,
    pub choices: Vec<JChoice>,
    pub items: Option<JTemplate>,
    pub item_selector: Option<JTemplate>,
    pub max_concurrency: Option<JTemplate>,
    pub tolerated_count: Option<JTemplate>,
    pub tolerated_percentage: Option<JTemplate>,
    pub timeout: Option<JTemplate>,
    pub heartbeat: Option<JTemplate>,
    pub credentials: Option<JTemplate>,
    pub seconds: Option<JTemplate>,
    pub timestamp: Option<JTemplate>,
    pub error: Option<JTemplate>,
    pub cause: Option<JTemplate>,
    /// A Distributed Map's ItemReader `Arguments` and `ReaderConfig.MaxItems`.
    pub reader_arguments: Option<JTemplate>,
    pub reader_max_items: Option<JTemplate>,
    /// Its ItemBatcher's `MaxItemsPerBatch`, `MaxInputBytesPerBatch` and `BatchInput`.
    pub batch_max_items: Option<JTemplate>,
    pub batch_max_bytes: Option<JTemplate>,
    pub batch_input: Option<JTemplate>,
    /// Its ResultWriter's `Arguments` (Bucket and Prefix).
    pub writer_arguments: Option<JTemplate>,
    /// Variables the expressions may read: only these are bound.
    pub variables: Vec<String>,
    /// Whether some expression may read `$states.context`.
    pub uses_context: bool,
    /// The members of `$states` the expressions may read.
    pub states: crate::jsonata::StatesUse,
}

#[derive(Debug, Clone)]
pub(crate) struct JChoice {
    pub condition: JTemplate,
    pub output: Option<JTemplate>,
    pub assign: Option<JTemplate>,
    pub next: usize,
}

impl JSpec {
    fn all(&self) -> Vec<&JTemplate> {
        let mut all: Vec<&JTemplate> = [
            &self.arguments,
            &self.output,
            &self.assign,
            &self.items,
            &self.item_selector,
            &self.max_concurrency,
            &self.tolerated_count,
            &self.tolerated_percentage,
            &self.timeout,
            &self.heartbeat,
            &self.credentials,
            &self.seconds,
            &self.timestamp,
            &self.error,
            &self.cause,
            &self.reader_arguments,
            &self.reader_max_items,
            &self.batch_max_items,
            &self.batch_max_bytes,
            &self.batch_input,
            &self.writer_arguments,
        ]
        .into_iter()
        .flatten()
        .collect();
        for (o, a) in &self.catch {
            all.extend(o.iter().chain(a.iter()));
        }
        for c in &self.choices {
            all.push(&c.condition);
            all.extend(c.output.iter().chain(c.assign.iter()));
        }
        all
    }
}

fn jtemplate(state: &str, raw: &Value, name: &str) -> Result<Option<JTemplate>, LoadError> {
    field(raw, name)
        .map(|v| JTemplate::compile(v).map_err(|m| err(state, format!("{name}: {m}"))))
        .transpose()
}

/// A field of a raw object. A state has a handful of fields, so comparing their names is
/// cheaper than hashing the one looked for, which was a seventh of compiling a Pass chain.
fn field<'v>(raw: &'v Value, name: &str) -> Option<&'v Value> {
    let object = raw.as_object()?;
    if object.len() <= 16 {
        object
            .iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    } else {
        object.get(name)
    }
}

struct Compiler {
    /// How many state indices the scopes compiled so far have taken: a scope's states take
    /// the next ones, and the scopes nested in it the indices after them.
    reserved: usize,
    language: QueryLanguage,
}

fn err(state: &str, message: impl Into<String>) -> LoadError {
    LoadError::State {
        state: state.to_string(),
        message: message.into(),
    }
}

fn path(state: &str, text: &str) -> Result<Path, LoadError> {
    Path::compile(text).map_err(|m| err(state, m))
}

fn io_path(state: &str, field: Option<&Value>) -> Result<IoPath, LoadError> {
    match field {
        // `$`, the most frequent path, is the whole input without parsing it.
        None => Ok(IoPath::Whole),
        Some(Value::String(text)) if text == "$" => Ok(IoPath::Whole),
        Some(Value::Null) => Ok(IoPath::Empty),
        Some(Value::String(text)) => {
            let p = path(state, text)?;
            Ok(if p.is_root() {
                IoPath::Whole
            } else {
                IoPath::Path(p)
            })
        }
        Some(other) => Err(err(state, format!("a path must be a string, got {other}"))),
    }
}

fn result_path(state: &str, field: Option<&Value>) -> Result<ResultPath, LoadError> {
    match field {
        None => Ok(ResultPath::Replace),
        Some(Value::String(text)) if text == "$" => Ok(ResultPath::Replace),
        Some(Value::Null) => Ok(ResultPath::Discard),
        Some(Value::String(text)) => {
            let p = path(state, text)?;
            Ok(if p.is_root() {
                ResultPath::Replace
            } else {
                ResultPath::Path(p)
            })
        }
        Some(other) => Err(err(
            state,
            format!("ResultPath must be a string, got {other}"),
        )),
    }
}

fn template(state: &str, field: Option<&Value>) -> Result<Option<Template>, LoadError> {
    field
        .map(|v| Template::compile(v).map_err(|m| err(state, m)))
        .transpose()
}

fn number_setting(
    state: &str,
    fixed: Option<&Value>,
    path_field: &'static str,
    path_text: &Option<String>,
) -> Result<Option<Setting<u64>>, LoadError> {
    if let Some(text) = path_text {
        return Ok(Some(Setting::Path {
            field: path_field,
            path: path(state, text)?,
        }));
    }
    match fixed {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(Setting::Fixed(n)))
            .ok_or_else(|| err(state, format!("expected a non-negative integer, got {v}"))),
    }
}

/// Parses a Task `Resource` into the family of history events it produces.
pub(crate) fn resource_kind(resource: &str) -> ResourceKind {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    match parts.as_slice() {
        [_, _, "lambda", _, _, rest] if rest.starts_with("function:") => {
            ResourceKind::LambdaFunction
        }
        [_, _, "states", _, _, rest] if rest.starts_with("activity:") => ResourceKind::Activity,
        _ => {
            let tail = resource.splitn(6, ':').nth(5).unwrap_or(resource);
            let (base, pattern) = if let Some(b) = tail.strip_suffix(".waitForTaskToken") {
                (b, IntegrationPattern::WaitForTaskToken)
            } else if let Some(b) = tail
                .strip_suffix(".sync:2")
                .or_else(|| tail.strip_suffix(".sync"))
            {
                (b, IntegrationPattern::Sync)
            } else {
                (tail, IntegrationPattern::RequestResponse)
            };
            let (service, action_base) = base.rsplit_once(':').unwrap_or(("", base));
            let suffix = tail.get(base.len()..).unwrap_or_default();
            ResourceKind::Service {
                service: service.to_string(),
                action: format!("{action_base}{suffix}"),
                pattern,
            }
        }
    }
}

/// Whether the state's own fields (nested processors and branches excluded) mention `$$`,
/// and whether a mention may read `$$.Execution.Input`. Each string is looked at in place:
/// writing the fields out as text first was a fifth of compiling a Pass chain.
fn context_use(raw: &Value) -> (bool, bool) {
    fn see(text: &str, uses: &mut (bool, bool)) {
        // Two bytes compared in one pass: the strings are short, and `contains` set up a
        // substring search for each of them.
        if text.as_bytes().windows(2).any(|pair| pair == b"$$") {
            uses.0 = true;
            uses.1 |= context_reads_input(text);
        }
    }
    // Recursion follows the definition's nesting, which serde_json bounds when parsing.
    fn walk(value: &Value, uses: &mut (bool, bool)) {
        match value {
            Value::String(text) => see(text, uses),
            Value::Array(items) => items.iter().for_each(|item| walk(item, uses)),
            Value::Object(map) => {
                for (key, item) in map {
                    see(key, uses);
                    walk(item, uses);
                }
            }
            _ => {}
        }
    }
    let mut uses = (false, false);
    if let Value::Object(map) = raw {
        for (key, value) in map {
            if !matches!(key.as_str(), "ItemProcessor" | "Iterator" | "Branches") {
                walk(value, &mut uses);
            }
        }
    }
    uses
}

/// Context members that do not contain the execution input.
const SMALL_CONTEXT_PATHS: [&str; 9] = [
    ".Map",
    ".State",
    ".Task",
    ".Execution.Id",
    ".Execution.Name",
    ".Execution.StartTime",
    ".Execution.RoleArn",
    ".Execution.RedriveCount",
    ".Execution.RedriveTime",
];

/// Whether some `$$` reference may reach `$$.Execution.Input` (copying the input into each
/// context object would make a Map over a large input quadratic).
fn context_reads_input(text: &str) -> bool {
    text.match_indices("$$").any(|(at, _)| {
        let after = text.get(at + 2..).unwrap_or_default();
        !SMALL_CONTEXT_PATHS.iter().any(|p| after.starts_with(p))
    })
}

impl Compiler {
    /// Compiles one scope (the top level, a branch, an item processor): its states, then the
    /// states of the scopes nested in it, in the order of the indices they took; and its start
    /// index. Each state is compiled where it ends up, with no placeholder first: placeholders
    /// (copied in and then overwritten, each as large as a state) were a tenth of compiling a
    /// Pass chain.
    fn scope(
        &mut self,
        states: &Map<String, Value>,
        start_at: &str,
        depth: usize,
    ) -> Result<(Vec<CState>, usize), LoadError> {
        if depth > MAX_SCOPE_DEPTH {
            return Err(LoadError::TooDeep);
        }
        let base = self.reserved;
        self.reserved += states.len();
        let names: HashMap<&str, usize> = states
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), base + i))
            .collect();
        let mut own = Vec::with_capacity(states.len());
        let mut nested = Vec::new();
        for (name, raw) in states {
            let state = State::<Seen>::deserialize(raw).map_err(|e| err(name, e.to_string()))?;
            // Built in its place in the scope: a state is large (hundreds of bytes), and
            // returning it and pushing it copied it twice more.
            own.push(placeholder(name));
            if let Some(c) = own.last_mut() {
                self.state(c, name, raw, &state, &names, depth, &mut nested)?;
            }
        }
        let start = names
            .get(start_at)
            .copied()
            .ok_or_else(|| LoadError::UnknownState(start_at.to_string()))?;
        own.append(&mut nested);
        Ok((own, start))
    }

    /// Compiles a scope nested in a state of the scope being compiled: its states join
    /// `nested`, which follows that scope's own states.
    fn nested_scope(
        &mut self,
        states: &Map<String, Value>,
        start_at: &str,
        depth: usize,
        nested: &mut Vec<CState>,
    ) -> Result<usize, LoadError> {
        let (mut compiled, start) = self.scope(states, start_at, depth)?;
        nested.append(&mut compiled);
        Ok(start)
    }

    /// Compiles the state `name` into `c`, a placeholder of that name.
    #[allow(clippy::too_many_arguments)]
    fn state(
        &mut self,
        c: &mut CState,
        name: &str,
        raw: &Value,
        state: &State<Seen>,
        names: &HashMap<&str, usize>,
        depth: usize,
        nested: &mut Vec<CState>,
    ) -> Result<(), LoadError> {
        let resolve = |target: &str| -> Result<usize, LoadError> {
            names
                .get(target)
                .copied()
                .ok_or_else(|| LoadError::UnknownState(target.to_string()))
        };
        // The typed state only checked the fields' shapes; their values are read in place.
        let get = |name: &str| field(raw, name);
        // `Next` or `Default`, which the typed state checked to be a string if present.
        let next = |key: &str| get(key).and_then(Value::as_str).map(resolve).transpose();
        c.type_name = state.type_name();
        (c.uses_context, c.context_input) = context_use(raw);
        if state.query_language().unwrap_or(self.language) == QueryLanguage::JSONata {
            return self.jsonata_state(c, name, raw, state, &resolve, depth, nested);
        }
        let catchers = |list: &[Catcher<Seen>]| -> Result<Vec<CCatcher>, LoadError> {
            list.iter()
                .zip(items(raw, "Catch"))
                .map(|(k, raw_k)| {
                    Ok(CCatcher {
                        errors: k.error_equals.clone(),
                        next: resolve(&k.next)?,
                        result_path: result_path(name, raw_k.get("ResultPath"))?,
                        assign: template(name, raw_k.get("Assign"))?,
                    })
                })
                .collect()
        };
        match state {
            State::Pass(_) => {
                c.input_path = io_path(name, get("InputPath"))?;
                c.output_path = io_path(name, get("OutputPath"))?;
                c.result_path = result_path(name, get("ResultPath"))?;
                c.parameters = template(name, get("Parameters"))?;
                c.assign = template(name, get("Assign"))?;
                c.next = next("Next")?;
                c.kind = Kind::Pass {
                    result: get("Result").cloned(),
                };
            }
            State::Task(s) => {
                let TaskState {
                    resource,
                    timeout_seconds_path,
                    heartbeat_seconds_path,
                    retry,
                    catch,
                    ..
                } = &**s;
                c.input_path = io_path(name, get("InputPath"))?;
                c.output_path = io_path(name, get("OutputPath"))?;
                c.result_path = result_path(name, get("ResultPath"))?;
                c.parameters = template(name, get("Parameters"))?;
                c.result_selector = template(name, get("ResultSelector"))?;
                c.assign = template(name, get("Assign"))?;
                c.retry = retry.iter().map(CompiledRetrier::new).collect();
                c.catch = catchers(catch)?;
                c.next = next("Next")?;
                c.kind = Kind::Task(Box::new(TaskSpec {
                    resource: resource.clone(),
                    kind: resource_kind(resource),
                    timeout: number_setting(
                        name,
                        get("TimeoutSeconds"),
                        "TimeoutSecondsPath",
                        timeout_seconds_path,
                    )?,
                    heartbeat: number_setting(
                        name,
                        get("HeartbeatSeconds"),
                        "HeartbeatSecondsPath",
                        heartbeat_seconds_path,
                    )?,
                    credentials: template(name, get("Credentials"))?,
                }));
            }
            State::Choice(_) => {
                c.input_path = io_path(name, get("InputPath"))?;
                c.output_path = io_path(name, get("OutputPath"))?;
                c.assign = template(name, get("Assign"))?;
                let rules = choice_rules(raw)?;
                let mut branches = Vec::with_capacity(rules.len());
                for (rule, raw_rule) in rules {
                    let compiled = Rule::compile(raw_rule).map_err(|m| err(name, m))?;
                    branches.push(ChoiceBranch {
                        assign: compiled.assign(),
                        rule: compiled,
                        next: resolve(&rule.next)?,
                    });
                }
                c.kind = Kind::Choice {
                    branches,
                    default: next("Default")?,
                };
            }
            State::Wait(s) => {
                let WaitState {
                    seconds_path,
                    timestamp_path,
                    ..
                } = &**s;
                c.input_path = io_path(name, get("InputPath"))?;
                c.output_path = io_path(name, get("OutputPath"))?;
                c.assign = template(name, get("Assign"))?;
                c.next = next("Next")?;
                let spec = match (
                    get("Seconds"),
                    seconds_path,
                    get("Timestamp"),
                    timestamp_path,
                ) {
                    (Some(v), _, _, _) => WaitSpec::Seconds(
                        v.as_u64()
                            .ok_or_else(|| err(name, "Seconds must be a non-negative integer"))?,
                    ),
                    (_, Some(p), _, _) => WaitSpec::SecondsPath(path(name, p)?),
                    (_, _, Some(Value::String(t)), _) => WaitSpec::Timestamp(t.clone()),
                    (_, _, _, Some(p)) => WaitSpec::TimestampPath(path(name, p)?),
                    _ => {
                        return Err(err(
                            name,
                            "a Wait state needs Seconds, SecondsPath, Timestamp or TimestampPath",
                        ))
                    }
                };
                c.kind = Kind::Wait(spec);
            }
            State::Succeed(_) => {
                c.input_path = io_path(name, get("InputPath"))?;
                c.output_path = io_path(name, get("OutputPath"))?;
                c.kind = Kind::Succeed;
            }
            State::Fail(s) => {
                let FailState {
                    error_path,
                    cause_path,
                    ..
                } = &**s;
                let field = |lit: Option<&Value>,
                             p: &Option<String>,
                             key: &str|
                 -> Result<FailField, LoadError> {
                    Ok(match (lit, p) {
                        (_, Some(p)) if p.starts_with("States.") => FailField::Intrinsic(
                            Template::compile(&serde_json::json!({ format!("{key}.$"): p }))
                                .map_err(|m| err(name, m))?,
                        ),
                        (_, Some(p)) => FailField::Path(path(name, p)?),
                        (Some(Value::String(s)), _) => FailField::Literal(s.clone()),
                        _ => FailField::None,
                    })
                };
                c.kind = Kind::Fail {
                    error: field(get("Error"), error_path, "ErrorPath")?,
                    cause: field(get("Cause"), cause_path, "CausePath")?,
                };
            }
            State::Parallel(s) => {
                let ParallelState {
                    branches,
                    retry,
                    catch,
                    ..
                } = &**s;
                c.input_path = io_path(name, get("InputPath"))?;
                c.output_path = io_path(name, get("OutputPath"))?;
                c.result_path = result_path(name, get("ResultPath"))?;
                c.parameters = template(name, get("Parameters"))?;
                c.result_selector = template(name, get("ResultSelector"))?;
                c.assign = template(name, get("Assign"))?;
                c.retry = retry.iter().map(CompiledRetrier::new).collect();
                c.catch = catchers(catch)?;
                c.next = next("Next")?;
                let mut starts = Vec::with_capacity(branches.len());
                for (b, raw_b) in branches.iter().zip(items(raw, "Branches")) {
                    starts.push(self.nested_scope(
                        states_of(raw_b),
                        &b.start_at,
                        depth + 1,
                        nested,
                    )?);
                }
                c.kind = Kind::Parallel { branches: starts };
            }
            State::Map(s) => {
                let m: &MapState<Seen> = s;
                c.input_path = io_path(name, get("InputPath"))?;
                c.output_path = io_path(name, get("OutputPath"))?;
                c.result_path = result_path(name, get("ResultPath"))?;
                c.result_selector = template(name, get("ResultSelector"))?;
                c.assign = template(name, get("Assign"))?;
                c.retry = m.retry.iter().map(CompiledRetrier::new).collect();
                c.catch = catchers(&m.catch)?;
                c.next = next("Next")?;
                let writer = match get("ResultWriter").map(|w| writer_spec(name, w)) {
                    None => None,
                    Some(Ok(Ok(w))) => Some(Box::new(w)),
                    Some(Ok(Err(message))) => {
                        c.kind = Kind::Unsupported(format!("{message} (state '{name}')"));
                        return Ok(());
                    }
                    Some(Err(e)) => return Err(e),
                };
                let reader = match get("ItemReader")
                    .map(|r| reader_spec(name, r))
                    .transpose()?
                {
                    Some(Ok(reader)) => Some(Box::new(reader)),
                    Some(Err(message)) => {
                        c.kind = Kind::Unsupported(format!("{message} (state '{name}')"));
                        return Ok(());
                    }
                    None => None,
                };
                let batcher = get("ItemBatcher")
                    .map(|b| batcher_spec(name, b))
                    .transpose()?
                    .map(Box::new);
                let distributed = m.mode() == cairn_asl::model::ProcessorMode::Distributed;
                let processor = m
                    .processor()
                    .ok_or_else(|| err(name, "a Map state needs an ItemProcessor"))?;
                let raw_processor = get("ItemProcessor").or_else(|| get("Iterator"));
                let start = self.nested_scope(
                    raw_processor.map_or(&*EMPTY_STATES, states_of),
                    &processor.start_at,
                    depth + 1,
                    nested,
                )?;
                let max_concurrency = number_setting(
                    name,
                    get("MaxConcurrency"),
                    "MaxConcurrencyPath",
                    &m.max_concurrency_path,
                )?
                .unwrap_or(Setting::Fixed(0));
                let tolerated_count = number_setting(
                    name,
                    get("ToleratedFailureCount"),
                    "ToleratedFailureCountPath",
                    &m.tolerated_failure_count_path,
                )?;
                let tolerated_percentage = match (
                    get("ToleratedFailurePercentage"),
                    &m.tolerated_failure_percentage_path,
                ) {
                    (_, Some(p)) => Some(Setting::Path {
                        field: "ToleratedFailurePercentagePath",
                        path: path(name, p)?,
                    }),
                    (Some(v), None) => Some(Setting::Fixed(v.as_f64().ok_or_else(|| {
                        err(name, "ToleratedFailurePercentage must be a number")
                    })?)),
                    (None, None) => None,
                };
                let selector = get("ItemSelector").or_else(|| get("Parameters"));
                c.kind = Kind::Map(Box::new(MapSpec {
                    processor: start,
                    items_path: io_path(name, get("ItemsPath"))?,
                    item_selector: template(name, selector)?,
                    selector_uses_context: selector
                        .is_some_and(|v| crate::history::json_text(v).contains("$$")),
                    max_concurrency,
                    tolerated_count,
                    tolerated_percentage,
                    distributed,
                    express: processor
                        .processor_config
                        .as_ref()
                        .and_then(|c| c.execution_type)
                        == Some(cairn_asl::model::ExecutionType::Express),
                    label: m.label.clone(),
                    reader,
                    batcher,
                    writer,
                }));
            }
        }
        Ok(())
    }
}

/// The items of an array field of a raw state (none when absent: the typed state has
/// checked that a present one is an array).
fn items<'v>(raw: &'v Value, name: &str) -> &'v [Value] {
    field(raw, name)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// An empty scope, for a branch whose `States` the typed state has checked but is not an
/// object (which cannot happen).
static EMPTY_STATES: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

/// A Choice state's rules, each typed (all of them first, as the typed model reads them)
/// beside its raw object.
fn choice_rules(raw: &Value) -> Result<Vec<(ChoiceRule<Seen>, &Value)>, LoadError> {
    items(raw, "Choices")
        .iter()
        .map(|r| Ok((ChoiceRule::deserialize(r).map_err(ModelError::from)?, r)))
        .collect()
}

/// The `States` of a raw branch or processor.
fn states_of(raw: &Value) -> &Map<String, Value> {
    field(raw, "States")
        .and_then(Value::as_object)
        .unwrap_or(&EMPTY_STATES)
}

impl Compiler {
    /// A JSONata state: the same kinds as JSONPath, with the fields in a [`JSpec`].
    #[allow(clippy::too_many_arguments)]
    fn jsonata_state(
        &mut self,
        c: &mut CState,
        name: &str,
        raw: &Value,
        state: &State<Seen>,
        resolve: &dyn Fn(&str) -> Result<usize, LoadError>,
        depth: usize,
        nested: &mut Vec<CState>,
    ) -> Result<(), LoadError> {
        let t = |field: &str| jtemplate(name, raw, field);
        let mut j = JSpec {
            arguments: t("Arguments")?,
            output: t("Output")?,
            assign: t("Assign")?,
            ..JSpec::default()
        };
        let next = |key: &str| {
            field(raw, key)
                .and_then(Value::as_str)
                .map(resolve)
                .transpose()
        };
        let compile = |v: Option<&Value>| {
            v.map(|v| JTemplate::compile(v).map_err(|m| err(name, m)))
                .transpose()
        };
        let catchers =
            |list: &[Catcher<Seen>], j: &mut JSpec| -> Result<Vec<CCatcher>, LoadError> {
                let mut out = Vec::with_capacity(list.len());
                for (k, raw_k) in list.iter().zip(items(raw, "Catch")) {
                    j.catch
                        .push((compile(raw_k.get("Output"))?, compile(raw_k.get("Assign"))?));
                    out.push(CCatcher {
                        errors: k.error_equals.clone(),
                        next: resolve(&k.next)?,
                        result_path: ResultPath::Replace,
                        assign: None,
                    });
                }
                Ok(out)
            };
        match state {
            State::Pass(_) => {
                c.next = next("Next")?;
                c.kind = Kind::Pass { result: None };
            }
            State::Task(s) => {
                c.next = next("Next")?;
                c.retry = s.retry.iter().map(CompiledRetrier::new).collect();
                c.catch = catchers(&s.catch, &mut j)?;
                j.timeout = t("TimeoutSeconds")?;
                j.heartbeat = t("HeartbeatSeconds")?;
                j.credentials = t("Credentials")?;
                c.kind = Kind::Task(Box::new(TaskSpec {
                    resource: s.resource.clone(),
                    kind: resource_kind(&s.resource),
                    timeout: None,
                    heartbeat: None,
                    credentials: None,
                }));
            }
            State::Choice(_) => {
                for (rule, raw_rule) in choice_rules(raw)? {
                    let condition = raw_rule
                        .get("Condition")
                        .ok_or_else(|| err(name, "a JSONata Choice rule needs a Condition"))?;
                    j.choices.push(JChoice {
                        condition: JTemplate::compile(condition).map_err(|m| err(name, m))?,
                        output: compile(raw_rule.get("Output"))?,
                        assign: compile(raw_rule.get("Assign"))?,
                        next: resolve(&rule.next)?,
                    });
                }
                c.kind = Kind::Choice {
                    branches: Vec::new(),
                    default: next("Default")?,
                };
            }
            State::Wait(_) => {
                c.next = next("Next")?;
                j.seconds = t("Seconds")?;
                j.timestamp = t("Timestamp")?;
                if j.seconds.is_none() && j.timestamp.is_none() {
                    return Err(err(name, "a JSONata Wait state needs Seconds or Timestamp"));
                }
                c.kind = Kind::Wait(WaitSpec::Seconds(0));
            }
            State::Succeed(_) => c.kind = Kind::Succeed,
            State::Fail(_) => {
                j.error = t("Error")?;
                j.cause = t("Cause")?;
                c.kind = Kind::Fail {
                    error: FailField::None,
                    cause: FailField::None,
                };
            }
            State::Parallel(s) => {
                c.next = next("Next")?;
                c.retry = s.retry.iter().map(CompiledRetrier::new).collect();
                c.catch = catchers(&s.catch, &mut j)?;
                let mut starts = Vec::with_capacity(s.branches.len());
                for (b, raw_b) in s.branches.iter().zip(items(raw, "Branches")) {
                    starts.push(self.nested_scope(
                        states_of(raw_b),
                        &b.start_at,
                        depth + 1,
                        nested,
                    )?);
                }
                c.kind = Kind::Parallel { branches: starts };
            }
            State::Map(m) => {
                c.next = next("Next")?;
                c.retry = m.retry.iter().map(CompiledRetrier::new).collect();
                c.catch = catchers(&m.catch, &mut j)?;
                j.items = t("Items")?;
                j.item_selector = t("ItemSelector")?;
                j.max_concurrency = t("MaxConcurrency")?;
                j.tolerated_count = t("ToleratedFailureCount")?;
                j.tolerated_percentage = t("ToleratedFailurePercentage")?;
                let mut writer = None;
                if let Some(raw_writer) = raw.get("ResultWriter") {
                    match writer_spec(name, &without(raw_writer, "Arguments")) {
                        Ok(Ok(w)) => writer = Some(Box::new(w)),
                        Ok(Err(message)) => {
                            c.kind = Kind::Unsupported(format!("{message} (state '{name}')"));
                            return Ok(());
                        }
                        Err(e) => return Err(e),
                    }
                    j.writer_arguments = jtemplate(name, raw_writer, "Arguments")?;
                }
                let mut reader = None;
                if let Some(raw_reader) = raw.get("ItemReader") {
                    let resource = raw_reader
                        .get("Resource")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let config = raw_reader.get("ReaderConfig");
                    let format = match crate::reader::format_of(config, &resource) {
                        Ok(format) => format,
                        Err(message) => {
                            c.kind = Kind::Unsupported(format!("{message} (state '{name}')"));
                            return Ok(());
                        }
                    };
                    j.reader_arguments = jtemplate(name, raw_reader, "Arguments")?;
                    if let Some(config) = config {
                        j.reader_max_items = jtemplate(name, config, "MaxItems")?;
                    }
                    reader = Some(Box::new(crate::reader::ReaderSpec {
                        kind: resource_kind(&resource),
                        parameters: None,
                        max_items: None,
                        format,
                        resource,
                    }));
                }
                let mut batcher = None;
                if let Some(raw_batcher) = raw.get("ItemBatcher") {
                    j.batch_max_items = jtemplate(name, raw_batcher, "MaxItemsPerBatch")?;
                    j.batch_max_bytes = jtemplate(name, raw_batcher, "MaxInputBytesPerBatch")?;
                    j.batch_input = jtemplate(name, raw_batcher, "BatchInput")?;
                    batcher = Some(Box::new(crate::reader::BatcherSpec {
                        max_items: None,
                        max_bytes: None,
                        batch_input: None,
                    }));
                }
                let processor = m
                    .processor()
                    .ok_or_else(|| err(name, "a Map state needs an ItemProcessor"))?;
                let raw_processor = raw.get("ItemProcessor").or_else(|| raw.get("Iterator"));
                let start = self.nested_scope(
                    raw_processor.map_or(&*EMPTY_STATES, states_of),
                    &processor.start_at,
                    depth + 1,
                    nested,
                )?;
                c.kind = Kind::Map(Box::new(MapSpec {
                    processor: start,
                    items_path: IoPath::Whole,
                    item_selector: None,
                    selector_uses_context: false,
                    max_concurrency: Setting::Fixed(0),
                    tolerated_count: None,
                    tolerated_percentage: None,
                    distributed: m.mode() == cairn_asl::model::ProcessorMode::Distributed,
                    express: processor
                        .processor_config
                        .as_ref()
                        .and_then(|c| c.execution_type)
                        == Some(cairn_asl::model::ExecutionType::Express),
                    label: m.label.clone(),
                    reader,
                    batcher,
                    writer,
                }));
            }
        }
        let (variables, states) = {
            let all = j.all();
            (
                crate::jsonata::referenced_variables(all.iter().copied()),
                crate::jsonata::states_use(all.iter().copied()),
            )
        };
        j.variables = variables;
        j.states = states;
        j.uses_context = states.context;
        c.uses_context = j.uses_context;
        c.context_input = j.uses_context;
        c.jsonata = Some(Box::new(j));
        Ok(())
    }
}

/// A setting written as `Field` (any JSON value, checked at run time) or `FieldPath`.
fn value_setting(
    state: &str,
    object: &Value,
    field: &str,
    path_field: &'static str,
) -> Result<Option<Setting<Value>>, LoadError> {
    if let Some(text) = object.get(path_field).and_then(Value::as_str) {
        return Ok(Some(Setting::Path {
            field: path_field,
            path: path(state, text)?,
        }));
    }
    Ok(object.get(field).cloned().map(Setting::Fixed))
}

/// `Ok(Err(message))` for a reader this decider cannot run yet.
fn reader_spec(
    state: &str,
    raw: &Value,
) -> Result<Result<crate::reader::ReaderSpec, String>, LoadError> {
    let resource = raw
        .get("Resource")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let config = raw.get("ReaderConfig");
    let format = match crate::reader::format_of(config, &resource) {
        Ok(format) => format,
        Err(message) => return Ok(Err(message)),
    };
    let empty = Value::Object(Map::new());
    Ok(Ok(crate::reader::ReaderSpec {
        kind: resource_kind(&resource),
        parameters: template(state, raw.get("Parameters"))?,
        max_items: value_setting(state, config.unwrap_or(&empty), "MaxItems", "MaxItemsPath")?,
        format,
        resource,
    }))
}

/// `Ok(Err(message))` for a writer this decider cannot run.
fn writer_spec(
    state: &str,
    raw: &Value,
) -> Result<Result<crate::writer::WriterSpec, String>, LoadError> {
    let (transformation, output_type, export) = match crate::writer::config_of(raw) {
        Ok(c) => c,
        Err(message) => return Ok(Err(message)),
    };
    let resource = raw
        .get("Resource")
        .and_then(Value::as_str)
        .map(|r| (r.to_string(), resource_kind(r)));
    Ok(Ok(crate::writer::WriterSpec {
        resource: resource.filter(|_| export),
        parameters: template(state, raw.get("Parameters"))?,
        transformation,
        output_type,
    }))
}

/// `raw` without one of its fields.
fn without(raw: &Value, field: &str) -> Value {
    let mut copy = raw.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove(field);
    }
    copy
}

fn batcher_spec(state: &str, raw: &Value) -> Result<crate::reader::BatcherSpec, LoadError> {
    Ok(crate::reader::BatcherSpec {
        max_items: value_setting(state, raw, "MaxItemsPerBatch", "MaxItemsPerBatchPath")?,
        max_bytes: value_setting(
            state,
            raw,
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
        )?,
        batch_input: template(state, raw.get("BatchInput"))?,
    })
}

fn placeholder(name: &str) -> CState {
    CState {
        name: name.to_string(),
        type_name: "Pass",
        input_path: IoPath::Whole,
        output_path: IoPath::Whole,
        result_path: ResultPath::Replace,
        parameters: None,
        result_selector: None,
        assign: None,
        next: None,
        retry: Vec::new(),
        catch: Vec::new(),
        uses_context: false,
        context_input: false,
        kind: Kind::Succeed,
        jsonata: None,
        shapes: crate::history::Shapes::new(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_input_is_copied_only_when_it_may_be_read() {
        assert!(!context_reads_input(
            r#"{"v.$":"$$.Map.Item.Value","id.$":"$$.Execution.Id"}"#
        ));
        assert!(context_reads_input(r#"{"in.$":"$$.Execution.Input.a"}"#));
        assert!(context_reads_input(r#"{"all.$":"$$"}"#));
        assert!(context_reads_input(r#"{"e.$":"$$.Execution"}"#));
        assert!(context_reads_input(r#"{"e.$":"States.JsonToString($$)"}"#));
    }

    #[test]
    fn context_use_reads_the_states_own_fields() {
        let state = |raw: Value| context_use(&raw);
        assert_eq!(
            state(serde_json::json!({"Type": "Pass", "Parameters": {"a.$": "$.a"}})),
            (false, false)
        );
        assert_eq!(
            state(serde_json::json!({"Parameters": {"x": [{"id.$": "$$.Execution.Id"}]}})),
            (true, false)
        );
        assert_eq!(
            state(serde_json::json!({"ResultSelector": {"in.$": "$$.Execution.Input"}})),
            (true, true)
        );
        assert_eq!(
            state(
                serde_json::json!({"ItemProcessor": {"States": {"p": {"Parameters": {"a.$": "$$"}}}}})
            ),
            (false, false),
            "a nested processor's states are compiled on their own"
        );
    }

    #[test]
    fn resource_kinds() {
        assert_eq!(
            resource_kind("arn:aws:lambda:us-east-1:111111111111:function:f"),
            ResourceKind::LambdaFunction
        );
        assert_eq!(
            resource_kind("arn:aws:states:us-east-1:111111111111:activity:a"),
            ResourceKind::Activity
        );
        assert_eq!(
            resource_kind("arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
            ResourceKind::Service {
                service: "sqs".into(),
                action: "sendMessage.waitForTaskToken".into(),
                pattern: IntegrationPattern::WaitForTaskToken
            }
        );
        assert_eq!(
            resource_kind("arn:aws:states:::states:startExecution.sync:2"),
            ResourceKind::Service {
                service: "states".into(),
                action: "startExecution.sync:2".into(),
                pattern: IntegrationPattern::Sync
            }
        );
        assert_eq!(
            resource_kind("arn:aws:states:::aws-sdk:s3:getObject"),
            ResourceKind::Service {
                service: "aws-sdk:s3".into(),
                action: "getObject".into(),
                pattern: IntegrationPattern::RequestResponse
            }
        );
    }
}
