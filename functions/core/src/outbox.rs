//! Where the engine's messages and notifications go: EventBridge (advance and status-change
//! events), SQS (timers up to 15 minutes), EventBridge Scheduler (later timers) and SNS
//! (alerts). Counts what it sends, for the cost bench.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use serde_json::Value;

use crate::engine::EngineError;
use crate::message::{
    Message, ADVANCE_DETAIL_TYPE, ADVANCE_SOURCE, STATUS_DETAIL_TYPE, STATUS_SOURCE,
};

/// SQS's longest `DelaySeconds`.
pub const MAX_SQS_DELAY_SECONDS: i64 = 900;
/// PutEvents takes at most 10 entries.
const PUT_EVENTS_BATCH: usize = 10;

/// PutEvents takes at most 256 KiB per request (all entries), and SNS a 256 KiB message.
const PUT_EVENTS_BYTES: usize = 256 * 1024;

/// Where AWS leaves an execution's input or output out of its status-change event (248 KiB),
/// saying so in `inputDetails`/`outputDetails` (`"included": false`); DescribeExecution has it.
const STATUS_DETAIL_BYTES: usize = 248 * 1024;

/// How much of an execution's input, output, error or cause an alert carries. An alert is read
/// by a person (an e-mail, a chat message) and SNS takes at most 256 KiB: a large value is cut
/// here, and the alert says where the whole of it is (DescribeExecution of its ARN).
pub const ALERT_FIELD_BYTES: usize = 8 * 1024;

/// SNS's largest message.
pub const SNS_MESSAGE_BYTES: usize = 256 * 1024;

/// Names and ARNs of the resources the functions use (from the template's environment).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub bus_name: String,
    pub alert_topic_arn: String,
    pub timer_queue_url: String,
    pub timer_queue_arn: String,
    /// The role EventBridge Scheduler assumes to send a late timer to the queue.
    pub scheduler_role_arn: String,
    pub scheduler_group: String,
    /// The queue asynchronous Express executions wait on (`EXPRESS_QUEUE_URL`).
    pub express_queue_url: String,
    pub region: String,
    pub account: String,
}

/// What one engine step asks the outside world to do after its write is durable.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// Deliver `message` to the advance function at `fire_at_ms`.
    Timer { message: Message, fire_at_ms: i64 },
    /// Deliver `message` to the advance function now (through the bus).
    Advance(Message),
    /// A status-change event; `alert` also publishes it to the alert topic.
    StatusChange { detail: Value, alert: bool },
}

/// How many requests of each kind went out (AWS prices per request).
#[derive(Debug, Default)]
pub struct Counters {
    pub events_put: AtomicU64,
    pub put_events_calls: AtomicU64,
    pub sqs_messages: AtomicU64,
    pub schedules: AtomicU64,
    pub sns_publishes: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> [u64; 5] {
        [
            self.events_put.load(Ordering::Relaxed),
            self.put_events_calls.load(Ordering::Relaxed),
            self.sqs_messages.load(Ordering::Relaxed),
            self.schedules.load(Ordering::Relaxed),
            self.sns_publishes.load(Ordering::Relaxed),
        ]
    }
}

/// Takes a step's messages instead of AWS: what a simulation delivers itself (late, twice,
/// out of order or never, as it pleases).
pub trait Sink: Send + Sync {
    /// `now_ms` is the sender's clock, from which SQS would count a timer's delay.
    fn send(&self, outgoing: Vec<Outgoing>, now_ms: i64) -> Result<(), EngineError>;

    /// Queues an asynchronous Express execution ([`Outbox::queue_express`]).
    fn queue_express(&self, _message: &Message) -> Result<(), EngineError> {
        Err(EngineError::Config(
            "this outbox has no Express queue: asynchronous Express executions cannot start".into(),
        ))
    }
}

#[derive(Clone)]
enum Transport {
    Aws(Box<Clients>),
    Sink(Arc<dyn Sink>),
}

#[derive(Clone)]
struct Clients {
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    scheduler: aws_sdk_scheduler::Client,
}

#[derive(Clone)]
pub struct Outbox {
    pub settings: Settings,
    transport: Transport,
    pub counters: Arc<Counters>,
    /// False when the stack turned status-change events off ([`Outbox::without_status_events`]).
    status_events: bool,
}

/// The statuses whose change also alerts the operator (SNS).
pub fn alerts(status: &str) -> bool {
    matches!(status, "FAILED" | "TIMED_OUT" | "ABORTED")
}

fn send_error(what: &str, err: impl std::fmt::Display) -> EngineError {
    EngineError::Send(format!("{what}: {err}"))
}

impl Outbox {
    pub fn new(config: &aws_config::SdkConfig, settings: Settings) -> Outbox {
        Outbox {
            settings,
            transport: Transport::Aws(Box::new(Clients {
                events: aws_sdk_eventbridge::Client::new(config),
                sqs: aws_sdk_sqs::Client::new(config),
                sns: aws_sdk_sns::Client::new(config),
                scheduler: aws_sdk_scheduler::Client::new(config),
            })),
            counters: Arc::new(Counters::default()),
            status_events: true,
        }
    }

    /// An outbox that sends no status-change events (the template's `StatusEvents: Disabled`,
    /// `CAIRN_STATUS_EVENTS=DISABLED`): a stack nobody subscribes to them saves their price
    /// (EventBridge bills each event, two per execution) and the writes that keep them until
    /// they are sent. Alerts still go out, kept the same way. AWS always sends the events: the
    /// default is to send them.
    pub fn without_status_events(mut self) -> Outbox {
        self.status_events = false;
        self
    }

    /// Whether a change to `status` sends anything (an event, an alert), hence is kept marked
    /// unsent until it went out.
    pub fn sends_status(&self, status: &str) -> bool {
        self.status_events || alerts(status)
    }

    /// An outbox that hands every step's messages to `sink` (no AWS calls, no counters).
    pub fn with_sink(settings: Settings, sink: Arc<dyn Sink>) -> Outbox {
        Outbox {
            settings,
            transport: Transport::Sink(sink),
            counters: Arc::new(Counters::default()),
            status_events: true,
        }
    }

    /// Sends everything; the first failure is returned after trying the rest, so one bad
    /// request does not hold back the others (the caller's retry re-derives what is missing).
    pub async fn send(&self, mut outgoing: Vec<Outgoing>, now_ms: i64) -> Result<(), EngineError> {
        if !self.status_events {
            outgoing.retain(|item| match item {
                Outgoing::StatusChange { alert, .. } => *alert,
                _ => true,
            });
        }
        let clients = match &self.transport {
            Transport::Aws(clients) => clients,
            Transport::Sink(sink) => return sink.send(outgoing, now_ms),
        };
        let mut first_error = None;
        let mut entries = Vec::new();
        let mut statuses = Vec::new();
        for item in outgoing {
            let result = match item {
                Outgoing::Timer {
                    message,
                    fire_at_ms,
                } => self.timer(clients, &message, fire_at_ms, now_ms).await,
                Outgoing::Advance(message) => match serde_json::to_string(&message) {
                    Ok(detail) => {
                        entries.push(self.entry(ADVANCE_SOURCE, ADVANCE_DETAIL_TYPE, detail));
                        Ok(())
                    }
                    Err(e) => Err(send_error("encode", e)),
                },
                Outgoing::StatusChange { detail, alert } => {
                    let result = if alert {
                        self.alert(clients, &detail).await
                    } else {
                        Ok(())
                    };
                    if self.status_events {
                        let text = within_event_limit(detail).to_string();
                        statuses.push(self.entry(STATUS_SOURCE, STATUS_DETAIL_TYPE, text));
                    }
                    result
                }
            };
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        // Status events in the order they were given (an execution's RUNNING before its end),
        // batched together, and none after a batch of them failed: the failed ones stay
        // marked unsent and the sweep sends them all again in order, so a user never gets an
        // end whose RUNNING comes later.
        for batch in batches(statuses) {
            if let Err(e) = self.put_events(clients, batch).await {
                first_error.get_or_insert(e);
                break;
            }
        }
        for batch in batches(entries) {
            if let Err(e) = self.put_events(clients, batch).await {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Puts an asynchronous Express execution on the Express queue; StartExecution answers
    /// only once this succeeded, so an accepted start is never lost.
    pub async fn queue_express(&self, message: &Message) -> Result<(), EngineError> {
        let clients = match &self.transport {
            Transport::Aws(clients) => clients,
            Transport::Sink(sink) => return sink.queue_express(message),
        };
        if self.settings.express_queue_url.is_empty() {
            return Err(EngineError::Config(
                "EXPRESS_QUEUE_URL is not set: asynchronous Express executions need the template's Express queue".into(),
            ));
        }
        let body = serde_json::to_string(message).map_err(|e| send_error("encode", e))?;
        clients
            .sqs
            .send_message()
            .queue_url(&self.settings.express_queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| send_error("SendMessage", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        self.counters.sqs_messages.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Publishes an operator alert of plain text to the alert topic (a sink has none).
    pub async fn alert_text(&self, subject: &str, message: &str) -> Result<(), EngineError> {
        let clients = match &self.transport {
            Transport::Aws(clients) => clients,
            Transport::Sink(_) => return Ok(()),
        };
        clients
            .sns
            .publish()
            .topic_arn(&self.settings.alert_topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| send_error("Publish", aws_sdk_sns::error::DisplayErrorContext(e)))?;
        self.counters.sns_publishes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn entry(&self, source: &str, detail_type: &str, detail: String) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.settings.bus_name)
            .source(source)
            .detail_type(detail_type)
            .detail(detail)
            .build()
    }

    async fn put_events(
        &self,
        clients: &Clients,
        entries: Vec<PutEventsRequestEntry>,
    ) -> Result<(), EngineError> {
        let count = entries.len() as u64;
        let out = clients
            .events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                send_error(
                    "PutEvents",
                    aws_sdk_eventbridge::error::DisplayErrorContext(e),
                )
            })?;
        self.counters
            .put_events_calls
            .fetch_add(1, Ordering::Relaxed);
        self.counters.events_put.fetch_add(count, Ordering::Relaxed);
        if out.failed_entry_count() > 0 {
            return Err(EngineError::Send(format!(
                "PutEvents: {} of {count} entries failed",
                out.failed_entry_count()
            )));
        }
        Ok(())
    }

    async fn alert(&self, clients: &Clients, detail: &Value) -> Result<(), EngineError> {
        let status = detail.get("status").and_then(Value::as_str).unwrap_or("");
        let name = detail.get("name").and_then(Value::as_str).unwrap_or("");
        // SNS subjects: at most 100 printable ASCII characters.
        let subject: String = format!("Cairn execution {status}: {name}")
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(100)
            .collect();
        clients
            .sns
            .publish()
            .topic_arn(&self.settings.alert_topic_arn)
            .subject(subject)
            .message(alert_message(detail))
            .send()
            .await
            .map_err(|e| send_error("Publish", aws_sdk_sns::error::DisplayErrorContext(e)))?;
        self.counters.sns_publishes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn timer(
        &self,
        clients: &Clients,
        message: &Message,
        fire_at_ms: i64,
        now_ms: i64,
    ) -> Result<(), EngineError> {
        let body = serde_json::to_string(message).map_err(|e| send_error("encode", e))?;
        let wait_ms = fire_at_ms.saturating_sub(now_ms).max(0);
        // Rounded up: a timer must never fire early.
        let delay = wait_ms.saturating_add(999) / 1000;
        if delay <= MAX_SQS_DELAY_SECONDS {
            clients
                .sqs
                .send_message()
                .queue_url(&self.settings.timer_queue_url)
                .message_body(body)
                .delay_seconds(i32::try_from(delay).unwrap_or(0))
                .send()
                .await
                .map_err(|e| {
                    send_error("SendMessage", aws_sdk_sqs::error::DisplayErrorContext(e))
                })?;
            self.counters.sqs_messages.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| send_error("CreateSchedule", e))?;
        let target = Target::builder()
            .arn(&self.settings.timer_queue_arn)
            .role_arn(&self.settings.scheduler_role_arn)
            .input(body)
            .build()
            .map_err(|e| send_error("CreateSchedule", e))?;
        let result = clients
            .scheduler
            .create_schedule()
            .name(schedule_name(message))
            .group_name(&self.settings.scheduler_group)
            .schedule_expression(format!(
                "at({})",
                utc_seconds(fire_at_ms.saturating_add(999))
            ))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match result {
            Ok(_) => {}
            // A redelivered step re-creates the same schedule: the first one stands.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conflict_exception()) => {}
            Err(e) => {
                return Err(send_error(
                    "CreateSchedule",
                    aws_sdk_scheduler::error::DisplayErrorContext(e),
                ))
            }
        }
        self.counters.schedules.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A schedule name unique per execution and timer (Scheduler names: at most 64 characters
/// of `[0-9a-zA-Z-_.]`).
fn schedule_name(message: &Message) -> String {
    let hash = cairn_common::entropy::fnv1a(message.execution_arn().as_bytes());
    let timer = match message {
        Message::Apply {
            event: cairn_interpreter::Event::TimerFired { timer_id },
            ..
        } => *timer_id,
        _ => 0,
    };
    format!("cairn-{hash:016x}-{timer}")
}

/// `yyyy-mm-ddThh:mm:ss` in UTC, the form of Scheduler's `at()` expressions.
pub fn utc_seconds(ms: i64) -> String {
    let t = cairn_common::civil::UtcDateTime::from_epoch_ms(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// A status-change detail that fits an event and an alert: the larger of the input and the
/// output, then the other, left out (as AWS leaves them out) while the whole is over 248 KiB.
fn within_event_limit(mut detail: Value) -> Value {
    let size = |detail: &Value, field: &str| detail.get(field).map_or(0, |v| v.to_string().len());
    let mut fields = [("input", "inputDetails"), ("output", "outputDetails")];
    fields.sort_by_key(|(field, _)| std::cmp::Reverse(size(&detail, field)));
    for (field, details) in fields {
        if detail.to_string().len() <= STATUS_DETAIL_BYTES {
            break;
        }
        if detail.get(field).is_some_and(|v| !v.is_null()) {
            detail[field] = Value::Null;
            detail[details] = serde_json::json!({"included": false});
        }
    }
    detail
}

/// An alert's text: the status-change detail with each long field (input, output, error,
/// cause) cut to [`ALERT_FIELD_BYTES`] and a marker saying how much was left out and where the
/// whole is, so it always fits SNS's 256 KiB (four fields of 8 KiB and the rest of a detail).
pub fn alert_message(detail: &Value) -> String {
    let mut alert = detail.clone();
    let arn = detail
        .get("executionArn")
        .and_then(Value::as_str)
        .unwrap_or("the execution")
        .to_string();
    for field in ["input", "output", "error", "cause"] {
        let Some(text) = alert.get(field).and_then(Value::as_str) else {
            continue;
        };
        if text.len() <= ALERT_FIELD_BYTES {
            continue;
        }
        let mut cut = ALERT_FIELD_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let marker = format!(
            "... [{} of {} bytes left out: DescribeExecution {arn} has the whole {field}]",
            text.len() - cut,
            text.len()
        );
        alert[field] = Value::String(format!("{}{marker}", &text[..cut]));
    }
    // Any other field could still be large (a state machine's name cannot, the detail's shape
    // is AWS's): cut what remains to the limit rather than lose the alert.
    let mut text = alert.to_string();
    if text.len() > SNS_MESSAGE_BYTES {
        let mut cut = SNS_MESSAGE_BYTES - 200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text = format!(
            "{}... [alert cut to SNS's 256 KiB: DescribeExecution {arn}]",
            &text[..cut]
        );
    }
    text
}

/// PutEvents requests of at most ten entries and 256 KiB (an entry's size counts its source,
/// detail type and detail, as AWS counts it).
fn batches(entries: Vec<PutEventsRequestEntry>) -> Vec<Vec<PutEventsRequestEntry>> {
    let size = |entry: &PutEventsRequestEntry| {
        entry.source().map_or(0, str::len)
            + entry.detail_type().map_or(0, str::len)
            + entry.detail().map_or(0, str::len)
    };
    let mut batches: Vec<Vec<PutEventsRequestEntry>> = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let entry_bytes = size(&entry);
        let full = batches.last().is_none_or(|batch| {
            batch.len() >= PUT_EVENTS_BATCH || bytes + entry_bytes > PUT_EVENTS_BYTES
        });
        if full {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += entry_bytes;
        if let Some(batch) = batches.last_mut() {
            batch.push(entry);
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_times_are_utc_calendar_dates() {
        assert_eq!(utc_seconds(0), "1970-01-01T00:00:00");
        // 2024-02-29T23:59:59Z, a leap day.
        assert_eq!(utc_seconds(1_709_251_199_000), "2024-02-29T23:59:59");
        assert_eq!(utc_seconds(1_764_064_800_500), "2025-11-25T10:00:00");
    }

    #[test]
    fn schedule_names_differ_per_timer_and_fit_the_limit() {
        let message = |timer_id| Message::Apply {
            execution_arn: "arn:aws:states:us-east-1:1:execution:m:e".into(),
            event: cairn_interpreter::Event::TimerFired { timer_id },
        };
        let (a, b) = (schedule_name(&message(1)), schedule_name(&message(2)));
        assert_ne!(a, b);
        assert!(a.len() <= 64 && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn big_inputs_and_outputs_are_left_out_of_status_events_as_aws_leaves_them() {
        let small = serde_json::json!({"status": "SUCCEEDED", "input": "{}", "output": "{}",
            "inputDetails": {"included": true}, "outputDetails": {"included": true}});
        assert_eq!(within_event_limit(small.clone()), small);
        let big_output = "x".repeat(STATUS_DETAIL_BYTES);
        let detail = serde_json::json!({"status": "SUCCEEDED", "input": "{\"a\":1}",
            "output": big_output, "inputDetails": {"included": true},
            "outputDetails": {"included": true}});
        let bounded = within_event_limit(detail);
        assert!(bounded.to_string().len() <= STATUS_DETAIL_BYTES);
        // Only the big one goes.
        assert_eq!(bounded["output"], Value::Null);
        assert_eq!(
            bounded["outputDetails"],
            serde_json::json!({"included": false})
        );
        assert_eq!(bounded["input"], "{\"a\":1}");
        assert_eq!(
            bounded["inputDetails"],
            serde_json::json!({"included": true})
        );
    }

    #[test]
    fn alerts_cut_large_fields_and_say_where_the_whole_is() {
        let arn = "arn:aws:states:us-east-1:123456789012:execution:m:e";
        let small = serde_json::json!({"executionArn": arn, "status": "FAILED",
            "input": "{\"a\":1}", "error": "E", "cause": "c"});
        assert_eq!(alert_message(&small), small.to_string());

        // An output of AWS's full 256 KiB and a multi-byte input of the same size.
        let output = format!("\"{}\"", "x".repeat(SNS_MESSAGE_BYTES - 2));
        let input = "é".repeat(SNS_MESSAGE_BYTES / 2);
        let detail = serde_json::json!({"executionArn": arn, "status": "FAILED",
            "input": input, "output": output, "error": "States.TaskFailed", "cause": "boom"});
        let text = alert_message(&detail);
        assert!(text.len() <= SNS_MESSAGE_BYTES, "{} bytes", text.len());
        let alert: Value = serde_json::from_str(&text).unwrap();
        let out = alert["output"].as_str().unwrap();
        assert!(out.starts_with("\"xxx"));
        assert!(out.ends_with(&format!(
            "[{} of {} bytes left out: DescribeExecution {arn} has the whole output]",
            output.len() - ALERT_FIELD_BYTES,
            output.len()
        )));
        assert!(alert["input"].as_str().unwrap().contains("bytes left out"));
        // What is small stays whole.
        assert_eq!(alert["error"], "States.TaskFailed");
        assert_eq!(alert["cause"], "boom");
        assert_eq!(alert["executionArn"], arn);
    }

    #[test]
    fn put_events_batches_hold_ten_entries_and_256_kib() {
        let entry = |bytes: usize| {
            PutEventsRequestEntry::builder()
                .source("s")
                .detail_type("t")
                .detail("d".repeat(bytes))
                .build()
        };
        let sizes = |entries: Vec<PutEventsRequestEntry>| -> Vec<usize> {
            batches(entries).iter().map(Vec::len).collect()
        };
        assert_eq!(sizes((0..25).map(|_| entry(10)).collect()), vec![10, 10, 5]);
        let big = 100 * 1024;
        assert_eq!(sizes((0..5).map(|_| entry(big)).collect()), vec![2, 2, 1]);
        assert!(batches(Vec::new()).is_empty());
    }
}
