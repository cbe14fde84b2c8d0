//! A Distributed Map's ResultWriter: what each child execution of the Map Run left behind,
//! shaped as AWS exports it (`manifest.json`, `SUCCEEDED_n.json`, `FAILED_n.json`,
//! `PENDING_n.json`) or as the Map's output when only a WriterConfig is given. Pure: the
//! objects are handed to the shell as one command, whose answer ends the Map. The files are
//! rendered from the Map Run's record ([`RunLog`] and the children's results), never kept:
//! a shell that sends the request again renders it again
//! ([`crate::Execution::result_write_request`]).

use crate::api::{ResourceKind, TaskId};
use crate::flow::Template;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

/// The only resource AWS accepts for a ResultWriter.
pub(crate) const PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Transformation {
    /// The child execution's record (ARN, input, output, status, dates) as JSON text fields.
    None,
    /// The child execution's output alone.
    Compact,
    /// The outputs, arrays spliced into one array.
    Flatten,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OutputType {
    Json,
    JsonLines,
}

#[derive(Debug, Clone)]
pub(crate) struct WriterSpec {
    /// `None`: only a WriterConfig, the results stay in the state's output.
    pub resource: Option<(String, ResourceKind)>,
    pub parameters: Option<Template>,
    pub transformation: Transformation,
    pub output_type: OutputType,
}

/// Reads a ResultWriter's WriterConfig; `Err` names what is not supported.
pub(crate) fn config_of(raw: &Value) -> Result<(Transformation, OutputType, bool), String> {
    let resource = raw.get("Resource").and_then(Value::as_str);
    if let Some(r) = resource {
        if r != PUT_OBJECT {
            return Err(format!("ResultWriter Resource {r} is not supported"));
        }
    }
    let config = raw.get("WriterConfig");
    let field = |name: &str| config.and_then(|c| c.get(name)).and_then(Value::as_str);
    let transformation = match field("Transformation") {
        // Exporting without a WriterConfig keeps each execution's metadata; AWS's default
        // for the state output is the outputs alone.
        None if resource.is_some() => Transformation::None,
        None | Some("COMPACT") => Transformation::Compact,
        Some("NONE") => Transformation::None,
        Some("FLATTEN") => Transformation::Flatten,
        Some(other) => {
            return Err(format!(
                "WriterConfig Transformation {other} is not supported"
            ))
        }
    };
    let output_type = match field("OutputType") {
        None | Some("JSON") => OutputType::Json,
        Some("JSONL") => OutputType::JsonLines,
        Some(other) => return Err(format!("WriterConfig OutputType {other} is not supported")),
    };
    Ok((transformation, output_type, resource.is_some()))
}

/// One child execution of a Map Run.
///
/// A Map Run of 100,000 children keeps 100,000 of these in its execution, rewritten by every
/// write of the parent while the run goes on: stored as an array, `[name, start_ms, stop_ms -
/// start_ms, flags]` with the batch size and the input after it when there are any, its start
/// (in a run's list) after the start of the child before it: 46 bytes for a child without
/// input, 115 as an object with its field names. The object form of earlier states is still
/// read.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Child {
    /// The execution's name (a UUID); empty for an item never started.
    pub name: String,
    /// Kept only when the results are written; boxed, as most children (every one a run
    /// handed over, every one of a run without a ResultWriter) keep none and a `Value` in
    /// place took 80 bytes of each of a 1,000,000-child run's entries.
    pub input: Option<Box<Value>>,
    pub start_ms: i64,
    pub stop_ms: i64,
    pub failed: bool,
    pub ended: bool,
    /// Stopped by the failure of its Map Run.
    pub aborted: bool,
    /// Its record is in a ResultWriter file already written (a part written while the run
    /// went on); `in_part`: in the part being written.
    pub written: bool,
    pub in_part: bool,
    /// How many items its batch holds when the Map has an ItemBatcher (0: one item, not
    /// batched). Kept apart from the input, which only a ResultWriter keeps, so that
    /// ListExecutions' `itemCount` is known for every child.
    pub items: u64,
}

const FAILED: u64 = 1;
const ENDED: u64 = 2;
const ABORTED: u64 = 4;
const WRITTEN: u64 = 8;

/// A child's input as kept: none for `null`, which is what a child without one shows.
pub(crate) fn kept_input(input: Value) -> Option<Box<Value>> {
    (!input.is_null()).then(|| Box::new(input))
}
const IN_PART: u64 = 16;

impl Child {
    fn flags(&self) -> u64 {
        let mut flags = 0;
        for (set, flag) in [
            (self.failed, FAILED),
            (self.ended, ENDED),
            (self.aborted, ABORTED),
            (self.written, WRITTEN),
            (self.in_part, IN_PART),
        ] {
            if set {
                flags |= flag;
            }
        }
        flags
    }
}

/// A child in its array form, its start written after `previous` (the start of the child
/// before it in the run: most children start within the same few milliseconds).
struct Kept<'a>(&'a Child, i64);

impl Serialize for Kept<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Kept(child, previous) = *self;
        let with_input = child.input.is_some();
        let with_items = with_input || child.items > 0;
        let len = 4 + usize::from(with_items) + usize::from(with_input);
        let mut seq = serializer.serialize_seq(Some(len))?;
        seq.serialize_element(&child.name)?;
        seq.serialize_element(&child.start_ms.wrapping_sub(previous))?;
        seq.serialize_element(&child.stop_ms.wrapping_sub(child.start_ms))?;
        seq.serialize_element(&child.flags())?;
        if with_items {
            seq.serialize_element(&child.items)?;
        }
        if let Some(input) = &child.input {
            seq.serialize_element(input)?;
        }
        seq.end()
    }
}

/// A child alone: its start as it is.
impl Serialize for Child {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Kept(self, 0).serialize(serializer)
    }
}

/// A [`Child`] as states written before the array form keep it.
#[derive(Deserialize)]
struct ChildFields {
    name: String,
    #[serde(default)]
    input: Value,
    start_ms: i64,
    stop_ms: i64,
    #[serde(default)]
    failed: bool,
    #[serde(default)]
    ended: bool,
    #[serde(default)]
    aborted: bool,
    #[serde(default)]
    items: u64,
}

/// A child as read: from the array form its start is relative to the child's before it.
struct Read {
    child: Child,
    relative: bool,
}

impl<'de> Deserialize<'de> for Read {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Read, D::Error> {
        struct Form;
        impl<'de> Visitor<'de> for Form {
            type Value = Read;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Map Run child as an array or an object")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Read, A::Error> {
                let missing = |i| de::Error::invalid_length(i, &"4 to 6 elements");
                let name: String = seq.next_element()?.ok_or_else(|| missing(0))?;
                let start_ms: i64 = seq.next_element()?.ok_or_else(|| missing(1))?;
                let lasted: i64 = seq.next_element()?.ok_or_else(|| missing(2))?;
                let flags: u64 = seq.next_element()?.ok_or_else(|| missing(3))?;
                let items: u64 = seq.next_element()?.unwrap_or(0);
                let input = kept_input(seq.next_element()?.unwrap_or(Value::Null));
                let child = Child {
                    name,
                    input,
                    start_ms,
                    // Until the start is made absolute: the duration.
                    stop_ms: lasted,
                    failed: flags & FAILED != 0,
                    ended: flags & ENDED != 0,
                    aborted: flags & ABORTED != 0,
                    written: flags & WRITTEN != 0,
                    in_part: flags & IN_PART != 0,
                    items,
                };
                Ok(Read {
                    child,
                    relative: true,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Read, A::Error> {
                let c = ChildFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let child = Child {
                    name: c.name,
                    input: kept_input(c.input),
                    start_ms: c.start_ms,
                    stop_ms: c.stop_ms,
                    failed: c.failed,
                    ended: c.ended,
                    aborted: c.aborted,
                    written: false,
                    in_part: false,
                    items: c.items,
                };
                Ok(Read {
                    child,
                    relative: false,
                })
            }
        }
        deserializer.deserialize_any(Form)
    }
}

impl Read {
    /// The child, its start and stop made absolute given the start of the child before it.
    fn after(self, previous: i64) -> Child {
        let mut child = self.child;
        if self.relative {
            child.start_ms = previous.wrapping_add(child.start_ms);
            child.stop_ms = child.start_ms.wrapping_add(child.stop_ms);
        }
        child
    }
}

/// A child alone: its start as it is.
impl<'de> Deserialize<'de> for Child {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Child, D::Error> {
        Ok(Read::deserialize(deserializer)?.after(0))
    }
}

/// A run's children, each start written after the one before it (`[[name, start, ...],
/// [name, 0, ...]]` for children started in the same millisecond).
mod children {
    use super::{Child, Kept, Read};
    use serde::de::{self, MapAccess, SeqAccess, Visitor};
    use serde::ser::{SerializeMap, SerializeSeq};
    use serde::{Deserializer, Serializer};

    /// Leading empty entries (children handed over) shorter than this stay in the array.
    const LEAST_RUN: usize = 8;

    struct Listed<'a>(&'a [Child]);

    impl serde::Serialize for Listed<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
            let mut previous = 0;
            for child in self.0 {
                seq.serialize_element(&Kept(child, previous))?;
                previous = child.start_ms;
            }
            seq.end()
        }
    }

    /// An array; or, when the first children were handed to the shell (their entries
    /// empty), `{"lead": n, "rest": [...]}`.
    pub fn serialize<S: Serializer>(children: &[Child], serializer: S) -> Result<S::Ok, S::Error> {
        let lead = children
            .iter()
            .take_while(|c| **c == Child::default())
            .count();
        if lead < LEAST_RUN {
            return serde::Serialize::serialize(&Listed(children), serializer);
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("lead", &lead)?;
        map.serialize_entry("rest", &Listed(&children[lead..]))?;
        map.end()
    }

    /// The array's children, each start after the one before it.
    struct Rest(Vec<Child>);

    impl<'de> serde::Deserialize<'de> for Rest {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rest, D::Error> {
            deserializer.deserialize_seq(List).map(Rest)
        }
    }

    struct List;
    impl<'de> Visitor<'de> for List {
        type Value = Vec<Child>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a Map Run's children")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Child>, A::Error> {
            let mut children = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
            let mut previous = 0;
            while let Some(read) = seq.next_element::<Read>()? {
                let child = read.after(previous);
                previous = child.start_ms;
                children.push(child);
            }
            Ok(children)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Child>, A::Error> {
            let (mut lead, mut rest) = (0usize, Vec::new());
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "lead" => lead = map.next_value()?,
                    "rest" => rest = map.next_value::<Rest>()?.0,
                    other => return Err(de::Error::unknown_field(other, &["lead", "rest"])),
                }
            }
            let mut children = Vec::with_capacity(lead + rest.len());
            children.resize_with(lead, Child::default);
            children.append(&mut rest);
            Ok(children)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Child>, D::Error> {
        deserializer.deserialize_any(List)
    }
}

/// What a Distributed Map keeps about its Map Run: its children for the ResultWriter, the
/// Map Run API and ListExecutions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct RunLog {
    pub map_run_arn: String,
    #[serde(default)]
    pub start_ms: i64,
    #[serde(with = "children")]
    pub children: Vec<Child>,
    /// The write command under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writing: Option<TaskId>,
    /// Where that write puts its files and how it shapes them: with the children's results,
    /// all its request is rendered from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    /// The Map Run failed: the fault it fails with once its results are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing: Option<crate::execution::Fault>,
    /// The Map's output once written: the MapRunArn and ResultWriterDetails.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub output: Value,
    /// The run's succeeded children are handed to the shell as they end
    /// ([`crate::Execution::detach_map_run_children`]) rather than when the run ends: no
    /// ResultWriter reads them later. Set when the run starts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hands_over: bool,
    /// A handed-over child's result is not kept either: the Map's ResultPath drops the
    /// results (`null`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drops_results: bool,
    /// The succeeded children handed over while the run went on: all the run keeps of them.
    #[serde(default, skip_serializing_if = "Handed::is_empty")]
    pub handed: Handed,
    /// Children run inside the execution started since the run last paused (see
    /// [`SLICE`]), and the timer it waits on while paused.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub since_pause: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<crate::api::TimerId>,
    /// The run's ResultWriter puts its files in S3: a part of them, the records of the
    /// children ended since the last part, at each pause, so that they can be handed over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub writes_parts: bool,
    /// The files the parts written so far put, for the manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<WrittenFile>,
    /// The part being written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
}

/// A result file put in S3, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WrittenFile {
    pub status: String,
    pub key: String,
    pub size: usize,
}

/// A part of a run's result files under way: the write's task and the files it puts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Part {
    pub task_id: TaskId,
    pub files: Vec<WrittenFile>,
}

/// Children a Distributed Map runs inside its execution between two pauses. A pause ends
/// the decision (a timer due at once resumes the run), so the shell stores the children that
/// ended before the next slice starts: a run of 1,000,000 such children otherwise ran whole
/// in one decision, every child's record and result in memory at once (254 MB at 100,000),
/// and handed them all to the shell at the end.
pub(crate) const SLICE: u64 = 20_000;

/// Ended children whose records a run that exports its results keeps before it writes them
/// as a part (`SUCCEEDED_n`/`FAILED_n`) and hands them over. AWS writes one file per status
/// up to 5 GB, so a run of up to this many children writes exactly AWS's files; past it the
/// files come in parts of about this many records, which keeps the execution's state and each
/// decision bounded (a 1,000,000-child run held every record until its one write). The unit
/// tests exercise parts at one slice's size rather than run five slices in a debug build.
#[cfg(not(test))]
pub(crate) const PART_CHILDREN: usize = 5 * SLICE as usize;
#[cfg(test)]
pub(crate) const PART_CHILDREN: usize = SLICE as usize;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Succeeded children of a running Map Run already handed to the shell, and the items they
/// held under an ItemBatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Handed {
    pub children: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub items: u64,
}

impl Handed {
    fn is_empty(&self) -> bool {
        *self == Handed::default()
    }
}

/// Where a ResultWriter's files go and how they are shaped, as the write's request was
/// evaluated when the Map Run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Destination {
    pub bucket: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    pub transformation: Transformation,
    pub output_type: OutputType,
}

impl RunLog {
    pub fn child_mut(&mut self, index: usize) -> Option<&mut Child> {
        if self.children.len() <= index {
            self.children.resize_with(index + 1, Child::default);
        }
        self.children.get_mut(index)
    }

    /// `…:mapRun:<machine>/<label>:<run id>` → the Map Run's UUID.
    pub fn run_id(&self) -> &str {
        self.map_run_arn.rsplit(':').next().unwrap_or_default()
    }

    /// A child execution's ARN: `…:execution:<machine>/<label>:<name>`.
    pub fn execution_arn(&self, name: &str) -> String {
        let base = self
            .map_run_arn
            .rsplit_once(':')
            .map_or(self.map_run_arn.as_str(), |(b, _)| b);
        format!("{}:{name}", base.replacen(":mapRun:", ":execution:", 1))
    }

    /// The state machine a child runs: `…:stateMachine:<machine>/<label>`.
    pub fn child_machine_arn(&self) -> String {
        let base = self
            .map_run_arn
            .rsplit_once(':')
            .map_or(self.map_run_arn.as_str(), |(b, _)| b);
        base.replacen(":mapRun:", ":stateMachine:", 1)
    }
}

/// What every record of a run names alike, made once per run.
struct Names {
    /// A child's ARN without its name: `…:execution:<machine>/<label>:`.
    execution_prefix: String,
    machine: String,
}

impl Names {
    fn of(log: &RunLog) -> Names {
        Names {
            execution_prefix: log.execution_arn(""),
            machine: log.child_machine_arn(),
        }
    }
}

/// A child's entry in a result file, with Transformation NONE: as DescribeExecution shows it.
fn record(names: &Names, child: &Child, result: &Value, status: &str) -> Value {
    let text = crate::history::json_text;
    let mut r = Map::new();
    r.insert(
        "ExecutionArn".into(),
        Value::String(format!("{}{}", names.execution_prefix, child.name)),
    );
    let input = child.input.as_deref().unwrap_or(&Value::Null);
    r.insert("Input".into(), Value::String(text(input)));
    r.insert("InputDetails".into(), json!({"Included": true}));
    r.insert("Name".into(), Value::String(child.name.clone()));
    if status == "SUCCEEDED" {
        r.insert("Output".into(), Value::String(text(result)));
        r.insert("OutputDetails".into(), json!({"Included": true}));
        r.insert("RedriveCount".into(), json!(0));
        r.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
        r.insert(
            "RedriveStatusReason".into(),
            json!("Execution is SUCCEEDED and cannot be redriven"),
        );
    } else {
        for (field, key) in [("Error", "Error"), ("Cause", "Cause")] {
            if let Some(v) = result.get(key).filter(|v| !v.is_null()) {
                r.insert(field.into(), v.clone());
            }
        }
        r.insert("RedriveCount".into(), json!(0));
        r.insert("RedriveStatus".into(), json!("REDRIVABLE_BY_MAP_RUN"));
    }
    r.insert(
        "StartDate".into(),
        Value::String(cairn_common::civil::rfc3339_millis(child.start_ms)),
    );
    r.insert(
        "StateMachineArn".into(),
        Value::String(names.machine.clone()),
    );
    r.insert("Status".into(), Value::String(status.into()));
    r.insert(
        "StopDate".into(),
        Value::String(cairn_common::civil::rfc3339_millis(child.stop_ms)),
    );
    Value::Object(r)
}

/// The results as the state's output sees them (no export): the transformation applied
/// to the children that ended.
pub(crate) fn transformed(
    spec: &WriterSpec,
    log: Option<&RunLog>,
    results: Vec<Value>,
) -> Vec<Value> {
    match spec.transformation {
        Transformation::Compact => results,
        Transformation::Flatten => flattened(results),
        Transformation::None => {
            let Some(log) = log else { return results };
            let names = Names::of(log);
            results
                .into_iter()
                .enumerate()
                .map(|(i, result)| {
                    let child = log.children.get(i).cloned().unwrap_or_default();
                    let status = if child.failed { "FAILED" } else { "SUCCEEDED" };
                    record(&names, &child, &result, status)
                })
                .collect()
        }
    }
}

/// The Map's output once its results are written: the Map Run's ARN and where the manifest is.
pub(crate) fn written(log: &RunLog, to: &Destination) -> Value {
    json!({
        "MapRunArn": log.map_run_arn,
        "ResultWriterDetails": {"Bucket": to.bucket, "Key": manifest_key(log, to)},
    })
}

/// The folder of a run's files: `<prefix>/<run id>`.
fn folder(log: &RunLog, to: &Destination) -> String {
    let prefix = &to.prefix;
    if prefix.is_empty() || prefix.ends_with('/') {
        format!("{prefix}{}", log.run_id())
    } else {
        format!("{prefix}/{}", log.run_id())
    }
}

fn manifest_key(log: &RunLog, to: &Destination) -> String {
    format!("{}/manifest.json", folder(log, to))
}

/// The write's request as the shell carries it out: `{"Bucket", "Objects": [{"Key", "Body"}]}`,
/// the result files and the manifest last (the shell puts them in that order).
pub(crate) fn request(
    log: &RunLog,
    to: &Destination,
    results: &[Value],
    pending: &[Value],
) -> Value {
    put_request(to, objects(log, to, results, pending))
}

/// Arrays spliced into one array (FLATTEN).
fn flattened(results: Vec<Value>) -> Vec<Value> {
    results
        .into_iter()
        .flat_map(|r| match r {
            Value::Array(inner) => inner,
            other => vec![other],
        })
        .collect()
}

/// The objects to write for a run: `(key, body)` pairs, manifest last. The children whose
/// records a part already wrote are not written again; the manifest lists that part's files
/// before these.
pub(crate) fn objects(
    log: &RunLog,
    to: &Destination,
    results: &[Value],
    pending: &[Value],
) -> Vec<(String, String)> {
    let made = result_files(log, to, results, pending, |c| !c.written);
    let mut listed = Map::new();
    for status in ["FAILED", "PENDING", "SUCCEEDED"] {
        let earlier = log
            .files
            .iter()
            .map(|f| (f.status.as_str(), &f.key, f.size));
        let now = made
            .iter()
            .map(|(f, body)| (f.status.as_str(), &f.key, body.len()));
        let list: Vec<Value> = earlier
            .chain(now)
            .filter(|(s, _, _)| *s == status)
            .map(|(_, key, size)| json!({"Key": key, "Size": size}))
            .collect();
        listed.insert(status.into(), Value::Array(list));
    }
    let mut files: Vec<(String, String)> =
        made.into_iter().map(|(f, body)| (f.key, body)).collect();
    let manifest = json!({
        "DestinationBucket": to.bucket,
        "MapRunArn": log.map_run_arn,
        "ResultFiles": listed,
    });
    files.push((manifest_key(log, to), crate::history::json_text(&manifest)));
    files
}

/// The files of the part being written: the records of the children in it.
pub(crate) fn part_objects(
    log: &RunLog,
    to: &Destination,
    results: &[Value],
) -> Vec<(WrittenFile, String)> {
    result_files(log, to, results, &[], |c| c.in_part)
}

/// The request that puts `objects` (`{"Bucket", "Objects": [{"Key", "Body"}]}`).
pub(crate) fn put_request(to: &Destination, objects: Vec<(String, String)>) -> Value {
    let objects: Vec<Value> = objects
        .into_iter()
        .map(|(key, body)| json!({"Key": key, "Body": body}))
        .collect();
    json!({"Bucket": to.bucket, "Objects": objects})
}

/// The result files of the children `taken` picks (and of the pending items), each named
/// after the files of its status already written.
fn result_files(
    log: &RunLog,
    to: &Destination,
    results: &[Value],
    pending: &[Value],
    taken: impl Fn(&Child) -> bool,
) -> Vec<(WrittenFile, String)> {
    let dir = folder(log, to);
    let names = Names::of(log);
    // Each entry is written into its file as it is made: a run of 100,000 children
    // otherwise held all their records at once (~400 MB) besides the files' text.
    let mut succeeded = File::new(to.output_type);
    let mut failed = File::new(to.output_type);
    for (i, result) in results.iter().enumerate() {
        let Some(child) = log
            .children
            .get(i)
            .filter(|c| !c.name.is_empty() && taken(c))
        else {
            continue;
        };
        if child.failed {
            // A failed child's record is exported unchanged, whatever the transformation.
            let status = if child.aborted { "ABORTED" } else { "FAILED" };
            failed.push(&record(&names, child, result, status));
        } else {
            match (to.transformation, result) {
                (Transformation::None, _) => {
                    succeeded.push(&record(&names, child, result, "SUCCEEDED"))
                }
                (Transformation::Flatten, Value::Array(inner)) => {
                    inner.iter().for_each(|entry| succeeded.push(entry))
                }
                _ => succeeded.push(result),
            }
        }
    }
    let mut waiting = File::new(to.output_type);
    for input in pending {
        waiting.push(
            &json!({"Input": crate::history::json_text(input), "InputDetails": {"Included": true}}),
        );
    }
    let mut files = Vec::new();
    for (status, file) in [
        ("FAILED", failed),
        ("PENDING", waiting),
        ("SUCCEEDED", succeeded),
    ] {
        if let Some(body) = file.text() {
            let number = log.files.iter().filter(|f| f.status == status).count();
            let file = WrittenFile {
                status: status.to_string(),
                key: format!("{dir}/{status}_{number}.json"),
                size: body.len(),
            };
            files.push((file, body));
        }
    }
    files
}

/// A result file's text, entry by entry: a JSON array or JSON lines.
struct File {
    text: Vec<u8>,
    entries: usize,
    output_type: OutputType,
}

impl File {
    fn new(output_type: OutputType) -> File {
        File {
            text: Vec::new(),
            entries: 0,
            output_type,
        }
    }

    fn push(&mut self, entry: &Value) {
        if self.output_type == OutputType::Json {
            self.text.push(if self.entries == 0 { b'[' } else { b',' });
        }
        // Writing a Value into memory cannot fail: its keys are strings, its numbers finite.
        let _ = serde_json::to_writer(&mut self.text, entry);
        if self.output_type == OutputType::JsonLines {
            self.text.push(b'\n');
        }
        self.entries += 1;
    }

    /// The file's text; `None` when it has no entry (and is not written).
    fn text(mut self) -> Option<String> {
        if self.entries == 0 {
            return None;
        }
        if self.output_type == OutputType::Json {
            self.text.push(b']');
        }
        String::from_utf8(self.text).ok()
    }
}

/// A Map's items and results as its state keeps them: the runs of `null` at either end
/// (the items already started, the results of children not ended yet) as counts, so a run
/// of 1,000,000 items does not write 5 MB of `null,` at every step. A plain array (what
/// states written before keep, and what a list without such runs still is) reads as it is.
pub(crate) mod sparse {
    use serde::de::{self, MapAccess, SeqAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serialize, Serializer};
    use serde_json::Value;

    /// Runs shorter than this stay in the array: the object costs more than a few `null`s.
    const LEAST_RUN: usize = 8;

    pub fn serialize<S: Serializer>(values: &[Value], serializer: S) -> Result<S::Ok, S::Error> {
        let lead = values.iter().take_while(|v| v.is_null()).count();
        let trail = if lead == values.len() {
            0
        } else {
            values.iter().rev().take_while(|v| v.is_null()).count()
        };
        if lead < LEAST_RUN && trail < LEAST_RUN {
            return values.serialize(serializer);
        }
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("lead", &lead)?;
        map.serialize_entry("values", &values[lead..values.len() - trail])?;
        map.serialize_entry("trail", &trail)?;
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Value>, D::Error> {
        struct Form;
        impl<'de> Visitor<'de> for Form {
            type Value = Vec<Value>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array, or an object with lead, values and trail")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(v) = seq.next_element()? {
                    values.push(v);
                }
                Ok(values)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Value>, A::Error> {
                let (mut lead, mut middle, mut trail) = (0usize, Vec::new(), 0usize);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "lead" => lead = map.next_value()?,
                        "values" => middle = map.next_value()?,
                        "trail" => trail = map.next_value()?,
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["lead", "values", "trail"],
                            ))
                        }
                    }
                }
                let mut values = Vec::with_capacity(lead + middle.len() + trail);
                values.resize(lead, Value::Null);
                values.append(&mut middle);
                values.resize(values.len() + trail, Value::Null);
                Ok(values)
            }
        }
        deserializer.deserialize_any(Form)
    }

    #[cfg(test)]
    mod tests {
        use serde::{Deserialize, Serialize};
        use serde_json::{json, Value};

        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Kept(#[serde(with = "super")] Vec<Value>);

        #[test]
        fn runs_of_null_at_the_ends_are_counted_and_read_back() {
            let mut values = vec![Value::Null; 1_000];
            values.extend([json!({"a": 1}), Value::Null, json!(2)]);
            values.extend(vec![Value::Null; 500]);
            let text = serde_json::to_string(&Kept(values.clone())).unwrap();
            assert_eq!(
                text,
                r#"{"lead":1000,"values":[{"a":1},null,2],"trail":500}"#
            );
            assert_eq!(serde_json::from_str::<Kept>(&text).unwrap().0, values);
            let through_value = serde_json::to_value(Kept(values.clone())).unwrap();
            assert_eq!(
                serde_json::from_value::<Kept>(through_value).unwrap().0,
                values
            );

            // All null; short runs; empty: what reads back is what was kept.
            for values in [
                vec![Value::Null; 20],
                vec![Value::Null, json!(1), Value::Null],
                Vec::new(),
            ] {
                let text = serde_json::to_string(&Kept(values.clone())).unwrap();
                assert_eq!(
                    serde_json::from_str::<Kept>(&text).unwrap().0,
                    values,
                    "{text}"
                );
            }
            assert_eq!(
                serde_json::to_string(&Kept(vec![Value::Null, json!(1)])).unwrap(),
                "[null,1]"
            );
            // The plain array of states written before.
            let old: Kept = serde_json::from_value(json!([null, null, 3])).unwrap();
            assert_eq!(old.0, vec![Value::Null, Value::Null, json!(3)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> RunLog {
        let mut log = RunLog {
            map_run_arn: "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:run-1".into(),
            ..RunLog::default()
        };
        for (i, failed) in [false, true, false].into_iter().enumerate() {
            *log.child_mut(i).unwrap() = Child {
                name: format!("c{i}"),
                input: kept_input(json!({"i": i})),
                start_ms: 0,
                stop_ms: 1000,
                failed,
                ended: true,
                ..Child::default()
            };
        }
        log
    }

    fn to(prefix: &str, transformation: Transformation, output_type: OutputType) -> Destination {
        Destination {
            bucket: "b".into(),
            prefix: prefix.into(),
            transformation,
            output_type,
        }
    }

    #[test]
    fn files_and_manifest_follow_aws() {
        let results = [
            json!([1, 2]),
            json!({"Error": "E", "Cause": "C"}),
            json!([3]),
        ];
        let to = to("out", Transformation::None, OutputType::Json);
        let files = objects(&log(), &to, &results, &[json!({"i": 3})]);
        let keys: Vec<&str> = files.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "out/run-1/FAILED_0.json",
                "out/run-1/PENDING_0.json",
                "out/run-1/SUCCEEDED_0.json",
                "out/run-1/manifest.json"
            ]
        );
        assert_eq!(
            written(&log(), &to),
            json!({"MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:run-1",
                   "ResultWriterDetails": {"Bucket": "b", "Key": "out/run-1/manifest.json"}})
        );
        let succeeded: Value = serde_json::from_str(&files[2].1).unwrap();
        assert_eq!(
            succeeded[1]["ExecutionArn"],
            json!("arn:aws:states:us-east-1:123456789012:execution:m/Map:c2")
        );
        assert_eq!(succeeded[1]["Output"], json!("[3]"));
        assert_eq!(succeeded[1]["Input"], json!("{\"i\":2}"));
        assert_eq!(
            succeeded[0]["StateMachineArn"],
            json!("arn:aws:states:us-east-1:123456789012:stateMachine:m/Map")
        );
        let failed: Value = serde_json::from_str(&files[0].1).unwrap();
        assert_eq!(failed[0]["Error"], json!("E"));
        assert_eq!(failed[0]["Status"], json!("FAILED"));
        let manifest: Value = serde_json::from_str(&files[3].1).unwrap();
        assert_eq!(manifest["DestinationBucket"], json!("b"));
        assert_eq!(
            manifest["ResultFiles"]["SUCCEEDED"][0],
            json!({"Key": "out/run-1/SUCCEEDED_0.json", "Size": files[2].1.len()})
        );
    }

    #[test]
    fn flatten_and_json_lines() {
        let results = [json!([1, 2]), json!({"Error": "E"}), json!([3])];
        let to = to("", Transformation::Flatten, OutputType::JsonLines);
        let files = objects(&log(), &to, &results, &[]);
        assert_eq!(
            files[1],
            ("run-1/SUCCEEDED_0.json".into(), "1\n2\n3\n".into())
        );
        assert_eq!(files.len(), 3);
    }

    #[test]
    fn a_child_is_kept_as_a_short_array_and_read_in_either_form() {
        let mut log = log();
        for (child, start) in log.children.iter_mut().zip([1_000, 1_000, 1_003]) {
            child.start_ms = start;
            child.stop_ms = start + 7;
        }
        log.children[1].aborted = true;
        log.children[2].input = None;
        log.children[2].items = 3;
        let text = serde_json::to_string(&log).unwrap();
        let kept =
            r#""children":[["c0",1000,7,2,0,{"i":0}],["c1",0,7,7,0,{"i":1}],["c2",3,7,2,3]]"#;
        assert!(text.contains(kept), "{text}");
        let read: RunLog = serde_json::from_str(&text).unwrap();
        assert_eq!(read, log);
        let value = serde_json::to_value(&log).unwrap();
        assert_eq!(serde_json::from_value::<RunLog>(value).unwrap(), log);
        // Never started, nothing kept: four elements.
        assert_eq!(
            serde_json::to_string(&Child::default()).unwrap(),
            r#"["",0,0,0]"#
        );
        // The object form states kept before.
        let old: RunLog = serde_json::from_value(json!({"map_run_arn": "a", "children": [
            {"name": "c9", "input": {"i": 9}, "start_ms": 5, "stop_ms": 8, "failed": true,
             "ended": true, "items": 2},
            {"name": "c10", "start_ms": 6, "stop_ms": 6}]}))
        .unwrap();
        let expected = Child {
            name: "c9".into(),
            input: kept_input(json!({"i": 9})),
            start_ms: 5,
            stop_ms: 8,
            failed: true,
            ended: true,
            aborted: false,
            items: 2,
            ..Child::default()
        };
        assert_eq!(old.children[0], expected);
        assert_eq!((old.children[1].start_ms, old.children[1].stop_ms), (6, 6));
        assert!(serde_json::from_str::<Child>(r#"["c0",0]"#).is_err());
    }

    #[test]
    fn writer_config_is_checked() {
        assert_eq!(
            config_of(&json!({"Resource": PUT_OBJECT})),
            Ok((Transformation::None, OutputType::Json, true))
        );
        assert_eq!(
            config_of(&json!({"WriterConfig": {"Transformation": "FLATTEN"}})),
            Ok((Transformation::Flatten, OutputType::Json, false))
        );
        assert!(config_of(&json!({"Resource": "arn:aws:states:::s3:getObject"})).is_err());
    }
}
