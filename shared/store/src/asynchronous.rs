//! The Store port for shells that run on an async runtime (the serverless functions): the
//! same capabilities as the synchronous traits of this crate, each method returning a future,
//! so a network-backed adapter (DynamoDB) makes its requests as plain `.await`s on the
//! caller's runtime instead of hiding a runtime of its own behind every call.
//!
//! Nothing is written twice. Every synchronous store is also an asynchronous one (the blanket
//! impls below: its futures are ready at their first poll, which is what SQLite, the memory
//! store and the fault simulation's store need), and [`Blocking`] turns an asynchronous store
//! back into a synchronous one for the callers that block a thread anyway (the shared API's
//! actions, run on blocking threads), by waiting for each future on the caller's own runtime
//! ([`Wait`]).
//!
//! The futures are boxed ([`StoreFuture`]) so that the traits stay usable as `dyn`: a shell
//! holds `Arc<dyn Store>` without knowing the adapter. One allocation per request is nothing
//! next to a network round trip.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{
    ActivityRecord, ActivityTaskRecord, Effects, Error, ExecutionQuery, ExecutionRecord,
    HistoryQuery, Page, Result, StateMachineRecord, StoredEvent, TaskTokenRecord, TimerRecord,
    Transition, Version,
};

/// What every asynchronous store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// [`crate::StateMachineStore`], asynchronously.
pub trait StateMachineStore: Send + Sync {
    fn create_state_machine<'a>(&'a self, record: &'a StateMachineRecord) -> StoreFuture<'a, ()>;
    fn get_state_machine<'a>(
        &'a self,
        arn: &'a str,
    ) -> StoreFuture<'a, Option<(StateMachineRecord, Version)>>;
    fn update_state_machine<'a>(
        &'a self,
        record: &'a StateMachineRecord,
        expected: Version,
    ) -> StoreFuture<'a, Version>;
    fn delete_state_machine<'a>(&'a self, arn: &'a str) -> StoreFuture<'a, bool>;
    fn list_state_machines<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<StateMachineRecord>>;
}

/// [`crate::ActivityStore`], asynchronously.
pub trait ActivityStore: Send + Sync {
    fn create_activity<'a>(&'a self, record: &'a ActivityRecord) -> StoreFuture<'a, ()>;
    fn get_activity<'a>(&'a self, arn: &'a str) -> StoreFuture<'a, Option<ActivityRecord>>;
    fn delete_activity<'a>(&'a self, arn: &'a str) -> StoreFuture<'a, bool>;
    fn list_activities<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<ActivityRecord>>;
}

/// [`crate::ExecutionStore`], asynchronously: the same atomicity and version contract.
pub trait ExecutionStore: Send + Sync {
    fn create_execution<'a>(
        &'a self,
        record: &'a ExecutionRecord,
        history: &'a [StoredEvent],
        effects: &'a Effects,
    ) -> StoreFuture<'a, Version>;
    fn get_execution<'a>(
        &'a self,
        arn: &'a str,
    ) -> StoreFuture<'a, Option<(ExecutionRecord, Version)>>;
    fn commit<'a>(&'a self, transition: &'a Transition) -> StoreFuture<'a, Version>;
    fn list_executions<'a>(
        &'a self,
        query: &'a ExecutionQuery,
    ) -> StoreFuture<'a, Page<ExecutionRecord>>;
    fn running_executions(&self) -> StoreFuture<'_, Vec<String>>;
    fn running_executions_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<String>>;
    fn read_history<'a>(
        &'a self,
        execution_arn: &'a str,
        query: &'a HistoryQuery,
    ) -> StoreFuture<'a, Vec<StoredEvent>>;
    fn delete_closed_executions(&self, before_ms: i64, limit: usize) -> StoreFuture<'_, usize>;
    fn unsent_status_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<String>>;
    fn confirm_status_sent<'a>(
        &'a self,
        record: &'a ExecutionRecord,
        version: Version,
    ) -> StoreFuture<'a, bool>;
    /// [`crate::ExecutionStore::put_definition`]: keeps a definition once under its key;
    /// `false` from a store that keeps none (this default).
    fn put_definition<'a>(&'a self, key: &'a str, text: &'a str) -> StoreFuture<'a, bool> {
        let _ = (key, text);
        Box::pin(async { Ok(false) })
    }
    /// [`crate::ExecutionStore::get_definition`].
    fn get_definition<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        let _ = key;
        Box::pin(async { Ok(None) })
    }
    /// [`crate::ExecutionStore::put_closed_executions`]: closed executions with no state to
    /// advance (a Distributed Map's children once their Map Run ended), each replacing an
    /// earlier copy of itself, without history. This default awaits one create per record,
    /// as the synchronous default writes them one by one.
    fn put_closed_executions<'a>(&'a self, records: &'a [ExecutionRecord]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            for record in records {
                match self
                    .create_execution(record, &[], &Effects::default())
                    .await
                {
                    Ok(_) => {}
                    Err(Error::AlreadyExists(_)) => {
                        let Some((stored, version)) = self.get_execution(&record.arn).await? else {
                            continue;
                        };
                        if &stored == record {
                            continue;
                        }
                        let transition = Transition {
                            expected_version: version,
                            record: record.clone(),
                            history: Vec::new(),
                            effects: Effects::default(),
                        };
                        match self.commit(&transition).await {
                            // A concurrent writer of the same child wrote the same end.
                            Ok(_) | Err(Error::Conflict(_)) => {}
                            Err(other) => return Err(other),
                        }
                    }
                    Err(other) => return Err(other),
                }
            }
            Ok(())
        })
    }
}

/// [`crate::TimerStore`], asynchronously.
pub trait TimerStore: Send + Sync {
    fn due_timers(&self, now_ms: i64, limit: usize) -> StoreFuture<'_, Vec<TimerRecord>>;
    fn next_timer(&self) -> StoreFuture<'_, Option<TimerRecord>>;
    fn due_timers_page<'a>(
        &'a self,
        now_ms: i64,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<TimerRecord>>;
}

/// [`crate::ActivityTaskStore`], asynchronously.
pub trait ActivityTaskStore: Send + Sync {
    fn peek_activity_tasks<'a>(
        &'a self,
        activity_arn: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<ActivityTaskRecord>>;
}

/// [`crate::TaskTokenStore`], asynchronously.
pub trait TaskTokenStore: Send + Sync {
    fn get_task_token<'a>(&'a self, token: &'a str) -> StoreFuture<'a, Option<TaskTokenRecord>>;
}

/// The whole asynchronous port.
pub trait Store:
    StateMachineStore + ActivityStore + ExecutionStore + TimerStore + ActivityTaskStore + TaskTokenStore
{
}

impl<T> Store for T where
    T: StateMachineStore
        + ActivityStore
        + ExecutionStore
        + TimerStore
        + ActivityTaskStore
        + TaskTokenStore
        + ?Sized
{
}

// Every synchronous store is an asynchronous one whose futures do the work at their first
// poll. `async move` rather than a ready value: a future that is never polled does nothing,
// as with a native adapter.

impl<T: crate::StateMachineStore + ?Sized> StateMachineStore for T {
    fn create_state_machine<'a>(&'a self, record: &'a StateMachineRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move { crate::StateMachineStore::create_state_machine(self, record) })
    }

    fn get_state_machine<'a>(
        &'a self,
        arn: &'a str,
    ) -> StoreFuture<'a, Option<(StateMachineRecord, Version)>> {
        Box::pin(async move { crate::StateMachineStore::get_state_machine(self, arn) })
    }

    fn update_state_machine<'a>(
        &'a self,
        record: &'a StateMachineRecord,
        expected: Version,
    ) -> StoreFuture<'a, Version> {
        Box::pin(
            async move { crate::StateMachineStore::update_state_machine(self, record, expected) },
        )
    }

    fn delete_state_machine<'a>(&'a self, arn: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move { crate::StateMachineStore::delete_state_machine(self, arn) })
    }

    fn list_state_machines<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<StateMachineRecord>> {
        Box::pin(async move { crate::StateMachineStore::list_state_machines(self, cursor, limit) })
    }
}

impl<T: crate::ActivityStore + ?Sized> ActivityStore for T {
    fn create_activity<'a>(&'a self, record: &'a ActivityRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move { crate::ActivityStore::create_activity(self, record) })
    }

    fn get_activity<'a>(&'a self, arn: &'a str) -> StoreFuture<'a, Option<ActivityRecord>> {
        Box::pin(async move { crate::ActivityStore::get_activity(self, arn) })
    }

    fn delete_activity<'a>(&'a self, arn: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move { crate::ActivityStore::delete_activity(self, arn) })
    }

    fn list_activities<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<ActivityRecord>> {
        Box::pin(async move { crate::ActivityStore::list_activities(self, cursor, limit) })
    }
}

impl<T: crate::ExecutionStore + ?Sized> ExecutionStore for T {
    fn create_execution<'a>(
        &'a self,
        record: &'a ExecutionRecord,
        history: &'a [StoredEvent],
        effects: &'a Effects,
    ) -> StoreFuture<'a, Version> {
        Box::pin(
            async move { crate::ExecutionStore::create_execution(self, record, history, effects) },
        )
    }

    fn get_execution<'a>(
        &'a self,
        arn: &'a str,
    ) -> StoreFuture<'a, Option<(ExecutionRecord, Version)>> {
        Box::pin(async move { crate::ExecutionStore::get_execution(self, arn) })
    }

    fn commit<'a>(&'a self, transition: &'a Transition) -> StoreFuture<'a, Version> {
        Box::pin(async move { crate::ExecutionStore::commit(self, transition) })
    }

    fn list_executions<'a>(
        &'a self,
        query: &'a ExecutionQuery,
    ) -> StoreFuture<'a, Page<ExecutionRecord>> {
        Box::pin(async move { crate::ExecutionStore::list_executions(self, query) })
    }

    fn running_executions(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move { crate::ExecutionStore::running_executions(self) })
    }

    fn running_executions_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<String>> {
        Box::pin(async move { crate::ExecutionStore::running_executions_page(self, cursor, limit) })
    }

    fn read_history<'a>(
        &'a self,
        execution_arn: &'a str,
        query: &'a HistoryQuery,
    ) -> StoreFuture<'a, Vec<StoredEvent>> {
        Box::pin(async move { crate::ExecutionStore::read_history(self, execution_arn, query) })
    }

    fn delete_closed_executions(&self, before_ms: i64, limit: usize) -> StoreFuture<'_, usize> {
        Box::pin(
            async move { crate::ExecutionStore::delete_closed_executions(self, before_ms, limit) },
        )
    }

    fn unsent_status_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<String>> {
        Box::pin(async move { crate::ExecutionStore::unsent_status_page(self, cursor, limit) })
    }

    fn confirm_status_sent<'a>(
        &'a self,
        record: &'a ExecutionRecord,
        version: Version,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move { crate::ExecutionStore::confirm_status_sent(self, record, version) })
    }

    fn put_definition<'a>(&'a self, key: &'a str, text: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move { crate::ExecutionStore::put_definition(self, key, text) })
    }

    fn get_definition<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move { crate::ExecutionStore::get_definition(self, key) })
    }

    fn put_closed_executions<'a>(&'a self, records: &'a [ExecutionRecord]) -> StoreFuture<'a, ()> {
        // The synchronous store's own, which may write a call's records in one transaction.
        Box::pin(async move { crate::ExecutionStore::put_closed_executions(self, records) })
    }
}

impl<T: crate::TimerStore + ?Sized> TimerStore for T {
    fn due_timers(&self, now_ms: i64, limit: usize) -> StoreFuture<'_, Vec<TimerRecord>> {
        Box::pin(async move { crate::TimerStore::due_timers(self, now_ms, limit) })
    }

    fn next_timer(&self) -> StoreFuture<'_, Option<TimerRecord>> {
        Box::pin(async move { crate::TimerStore::next_timer(self) })
    }

    fn due_timers_page<'a>(
        &'a self,
        now_ms: i64,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Page<TimerRecord>> {
        Box::pin(async move { crate::TimerStore::due_timers_page(self, now_ms, cursor, limit) })
    }
}

impl<T: crate::ActivityTaskStore + ?Sized> ActivityTaskStore for T {
    fn peek_activity_tasks<'a>(
        &'a self,
        activity_arn: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<ActivityTaskRecord>> {
        Box::pin(
            async move { crate::ActivityTaskStore::peek_activity_tasks(self, activity_arn, limit) },
        )
    }
}

impl<T: crate::TaskTokenStore + ?Sized> TaskTokenStore for T {
    fn get_task_token<'a>(&'a self, token: &'a str) -> StoreFuture<'a, Option<TaskTokenRecord>> {
        Box::pin(async move { crate::TaskTokenStore::get_task_token(self, token) })
    }
}

/// Waits on the current thread for a future to finish, driving it on the caller's runtime.
/// The port knows no runtime: the shell supplies this (the serverless functions: Tokio's
/// `Handle::block_on` on the one Lambda runtime, called from a blocking thread).
pub trait Wait: Send + Sync {
    fn wait(&self, work: Pin<Box<dyn Future<Output = ()> + Send + '_>>);
}

/// An asynchronous store seen through the synchronous traits: each call waits for its future
/// through `W` on the calling thread. For code that already runs on a blocking thread (the
/// shared API's actions): called from a thread that is driving async tasks it would stall
/// them, and Tokio refuses it.
pub struct Blocking<S: ?Sized> {
    waiter: Arc<dyn Wait>,
    store: Arc<S>,
}

impl<S: ?Sized> Clone for Blocking<S> {
    fn clone(&self) -> Self {
        Blocking {
            waiter: Arc::clone(&self.waiter),
            store: Arc::clone(&self.store),
        }
    }
}

impl<S: ?Sized> Blocking<S> {
    pub fn new(store: Arc<S>, waiter: Arc<dyn Wait>) -> Blocking<S> {
        Blocking { waiter, store }
    }

    /// The asynchronous store underneath.
    pub fn inner(&self) -> &Arc<S> {
        &self.store
    }

    fn run<T: Send>(&self, future: StoreFuture<'_, T>) -> Result<T> {
        let mut out = None;
        self.waiter.wait(Box::pin(async {
            out = Some(future.await);
        }));
        out.unwrap_or_else(|| {
            Err(Error::Backend(
                "a store request was abandoned before it finished".into(),
            ))
        })
    }
}

impl<S: StateMachineStore + ?Sized> crate::StateMachineStore for Blocking<S> {
    fn create_state_machine(&self, record: &StateMachineRecord) -> Result<()> {
        self.run(self.store.create_state_machine(record))
    }

    fn get_state_machine(&self, arn: &str) -> Result<Option<(StateMachineRecord, Version)>> {
        self.run(self.store.get_state_machine(arn))
    }

    fn update_state_machine(
        &self,
        record: &StateMachineRecord,
        expected: Version,
    ) -> Result<Version> {
        self.run(self.store.update_state_machine(record, expected))
    }

    fn delete_state_machine(&self, arn: &str) -> Result<bool> {
        self.run(self.store.delete_state_machine(arn))
    }

    fn list_state_machines(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<StateMachineRecord>> {
        self.run(self.store.list_state_machines(cursor, limit))
    }
}

impl<S: ActivityStore + ?Sized> crate::ActivityStore for Blocking<S> {
    fn create_activity(&self, record: &ActivityRecord) -> Result<()> {
        self.run(self.store.create_activity(record))
    }

    fn get_activity(&self, arn: &str) -> Result<Option<ActivityRecord>> {
        self.run(self.store.get_activity(arn))
    }

    fn delete_activity(&self, arn: &str) -> Result<bool> {
        self.run(self.store.delete_activity(arn))
    }

    fn list_activities(&self, cursor: Option<&str>, limit: usize) -> Result<Page<ActivityRecord>> {
        self.run(self.store.list_activities(cursor, limit))
    }
}

impl<S: ExecutionStore + ?Sized> crate::ExecutionStore for Blocking<S> {
    fn create_execution(
        &self,
        record: &ExecutionRecord,
        history: &[StoredEvent],
        effects: &Effects,
    ) -> Result<Version> {
        self.run(self.store.create_execution(record, history, effects))
    }

    fn get_execution(&self, arn: &str) -> Result<Option<(ExecutionRecord, Version)>> {
        self.run(self.store.get_execution(arn))
    }

    fn commit(&self, transition: &Transition) -> Result<Version> {
        self.run(self.store.commit(transition))
    }

    fn list_executions(&self, query: &ExecutionQuery) -> Result<Page<ExecutionRecord>> {
        self.run(self.store.list_executions(query))
    }

    fn running_executions(&self) -> Result<Vec<String>> {
        self.run(self.store.running_executions())
    }

    fn running_executions_page(&self, cursor: Option<&str>, limit: usize) -> Result<Page<String>> {
        self.run(self.store.running_executions_page(cursor, limit))
    }

    fn read_history(&self, execution_arn: &str, query: &HistoryQuery) -> Result<Vec<StoredEvent>> {
        self.run(self.store.read_history(execution_arn, query))
    }

    fn delete_closed_executions(&self, before_ms: i64, limit: usize) -> Result<usize> {
        self.run(self.store.delete_closed_executions(before_ms, limit))
    }

    fn unsent_status_page(&self, cursor: Option<&str>, limit: usize) -> Result<Page<String>> {
        self.run(self.store.unsent_status_page(cursor, limit))
    }

    fn confirm_status_sent(&self, record: &ExecutionRecord, version: Version) -> Result<bool> {
        self.run(self.store.confirm_status_sent(record, version))
    }

    fn put_definition(&self, key: &str, text: &str) -> Result<bool> {
        self.run(self.store.put_definition(key, text))
    }

    fn get_definition(&self, key: &str) -> Result<Option<String>> {
        self.run(self.store.get_definition(key))
    }

    fn put_closed_executions(&self, records: &[ExecutionRecord]) -> Result<()> {
        self.run(self.store.put_closed_executions(records))
    }
}

impl<S: TimerStore + ?Sized> crate::TimerStore for Blocking<S> {
    fn due_timers(&self, now_ms: i64, limit: usize) -> Result<Vec<TimerRecord>> {
        self.run(self.store.due_timers(now_ms, limit))
    }

    fn next_timer(&self) -> Result<Option<TimerRecord>> {
        self.run(self.store.next_timer())
    }

    fn due_timers_page(
        &self,
        now_ms: i64,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<TimerRecord>> {
        self.run(self.store.due_timers_page(now_ms, cursor, limit))
    }
}

impl<S: ActivityTaskStore + ?Sized> crate::ActivityTaskStore for Blocking<S> {
    fn peek_activity_tasks(
        &self,
        activity_arn: &str,
        limit: usize,
    ) -> Result<Vec<ActivityTaskRecord>> {
        self.run(self.store.peek_activity_tasks(activity_arn, limit))
    }
}

impl<S: TaskTokenStore + ?Sized> crate::TaskTokenStore for Blocking<S> {
    fn get_task_token(&self, token: &str) -> Result<Option<TaskTokenRecord>> {
        self.run(self.store.get_task_token(token))
    }
}

/// Drives a future that never waits on anything outside itself: the futures of a
/// synchronous store seen through the blanket impls are ready at their first poll. Panics
/// on one that is not (it would need a runtime to make progress).
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("the future waited on something outside itself"),
    }
}

/// A [`Wait`] for futures that are ready at once (see [`ready`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct Immediate;

impl Wait for Immediate {
    fn wait(&self, work: Pin<Box<dyn Future<Output = ()> + Send + '_>>) {
        ready(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    /// A synchronous store is an asynchronous one (its futures ready at once), and an
    /// asynchronous one through [`Blocking`] passes the synchronous suite: the two adapters
    /// compose without losing any of the port's behaviour.
    #[test]
    fn both_adapters_keep_the_port_whole() {
        crate::suite::run_store_suite(|| {
            let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
            Blocking::new(store, Arc::new(Immediate))
        });
    }

    /// An asynchronous execution store of its own (not the blanket impl), so the port's
    /// default `put_closed_executions` is the one that runs.
    struct AsyncOnly(MemoryStore);

    impl ExecutionStore for AsyncOnly {
        fn create_execution<'a>(
            &'a self,
            record: &'a ExecutionRecord,
            history: &'a [StoredEvent],
            effects: &'a Effects,
        ) -> StoreFuture<'a, Version> {
            Box::pin(async move {
                crate::ExecutionStore::create_execution(&self.0, record, history, effects)
            })
        }
        fn get_execution<'a>(
            &'a self,
            arn: &'a str,
        ) -> StoreFuture<'a, Option<(ExecutionRecord, Version)>> {
            Box::pin(async move { crate::ExecutionStore::get_execution(&self.0, arn) })
        }
        fn commit<'a>(&'a self, transition: &'a Transition) -> StoreFuture<'a, Version> {
            Box::pin(async move { crate::ExecutionStore::commit(&self.0, transition) })
        }
        fn list_executions<'a>(
            &'a self,
            query: &'a ExecutionQuery,
        ) -> StoreFuture<'a, Page<ExecutionRecord>> {
            Box::pin(async move { crate::ExecutionStore::list_executions(&self.0, query) })
        }
        fn running_executions(&self) -> StoreFuture<'_, Vec<String>> {
            Box::pin(async move { crate::ExecutionStore::running_executions(&self.0) })
        }
        fn running_executions_page<'a>(
            &'a self,
            cursor: Option<&'a str>,
            limit: usize,
        ) -> StoreFuture<'a, Page<String>> {
            Box::pin(async move {
                crate::ExecutionStore::running_executions_page(&self.0, cursor, limit)
            })
        }
        fn read_history<'a>(
            &'a self,
            execution_arn: &'a str,
            query: &'a HistoryQuery,
        ) -> StoreFuture<'a, Vec<StoredEvent>> {
            Box::pin(
                async move { crate::ExecutionStore::read_history(&self.0, execution_arn, query) },
            )
        }
        fn delete_closed_executions(&self, before_ms: i64, limit: usize) -> StoreFuture<'_, usize> {
            Box::pin(async move {
                crate::ExecutionStore::delete_closed_executions(&self.0, before_ms, limit)
            })
        }
        fn unsent_status_page<'a>(
            &'a self,
            cursor: Option<&'a str>,
            limit: usize,
        ) -> StoreFuture<'a, Page<String>> {
            Box::pin(
                async move { crate::ExecutionStore::unsent_status_page(&self.0, cursor, limit) },
            )
        }
        fn confirm_status_sent<'a>(
            &'a self,
            record: &'a ExecutionRecord,
            version: Version,
        ) -> StoreFuture<'a, bool> {
            Box::pin(
                async move { crate::ExecutionStore::confirm_status_sent(&self.0, record, version) },
            )
        }
    }

    #[test]
    fn the_async_default_puts_closed_executions_and_replaces_changed_ones() {
        let store = AsyncOnly(MemoryStore::new());
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m/each";
        let child = |name: &str, status: &str| ExecutionRecord {
            arn: format!("arn:aws:states:us-east-1:123456789012:execution:m/each:{name}"),
            state_machine_arn: machine.into(),
            name: name.into(),
            status: status.into(),
            start_ms: 10,
            stop_ms: Some(20),
            summary: serde_json::json!({"mapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:m/each:r"}),
            state: Vec::new(),
        };
        let first = [child("a", "FAILED"), child("b", "SUCCEEDED")];
        ready(store.put_closed_executions(&first)).expect("put");
        ready(store.put_closed_executions(&first)).expect("put again");
        let (_, unchanged) = ready(store.get_execution(&first[0].arn)).unwrap().unwrap();
        ready(store.put_closed_executions(&[child("a", "SUCCEEDED")])).expect("replace");
        let (a, replaced) = ready(store.get_execution(&first[0].arn)).unwrap().unwrap();
        assert_eq!(a.status, "SUCCEEDED");
        assert!(replaced > unchanged, "a changed end is a new version");
        let query = ExecutionQuery {
            state_machine_arn: machine.into(),
            status: None,
            cursor: None,
            limit: 10,
        };
        let listed = ready(store.list_executions(&query)).unwrap().items;
        let mut names: Vec<(String, String)> =
            listed.into_iter().map(|r| (r.name, r.status)).collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("a".to_string(), "SUCCEEDED".to_string()),
                ("b".to_string(), "SUCCEEDED".to_string())
            ]
        );
    }

    #[test]
    fn an_async_write_is_read_back_through_the_async_port() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let record = StateMachineRecord {
            arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            name: "m".into(),
            created_ms: 1,
            document: serde_json::json!({"definition": "{}"}),
        };
        ready(store.create_state_machine(&record)).unwrap();
        let (read, version) = ready(store.get_state_machine(&record.arn))
            .unwrap()
            .unwrap();
        assert_eq!((read, version), (record.clone(), 1));
        assert!(matches!(
            ready(store.create_state_machine(&record)),
            Err(Error::AlreadyExists(_))
        ));
    }
}
