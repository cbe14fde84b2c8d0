//! Compiled machines, by definition, for the shells that run Standard executions
//! (`cairn serve`'s driver and the serverless engine): a definition is compiled once per
//! process or warm container, not once per event. A definition kept in the store is found by
//! its key, so an event never needs its text; a state machine's current definition is found
//! by the state machine's ARN, so a start never hashes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cairn_interpreter::{Limits, Machine};
use cairn_store::ExecutionStore;
use serde_json::Value;

use crate::persisted::{definition_key, Definition};

/// Machines a process keeps before it starts over: versions come and go in a long-lived
/// process, and its memory must not grow with them.
const CAPACITY: usize = 256;

/// Why a stored definition cannot be run (it was validated when stored, so this means a
/// corrupted row or a definition this build cannot compile).
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    #[error("stored definition is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the definition cannot be run: {0}")]
    Compile(cairn_interpreter::LoadError),
    /// A state names a definition the store cannot give.
    #[error("{0}")]
    Unavailable(String),
}

/// A state machine's definition as its executions start on it: the text, its key and its
/// compiled machine.
#[derive(Debug)]
pub struct Prepared {
    pub text: Arc<str>,
    pub key: Arc<str>,
    pub machine: Arc<Machine>,
}

pub struct MachineCache {
    limits: Limits,
    /// By text: definitions a state carries itself, and Express executions.
    machines: Mutex<HashMap<String, Arc<Machine>>>,
    /// By key ([`definition_key`]): definitions a state names.
    keyed: Mutex<HashMap<Arc<str>, Arc<Machine>>>,
    /// By the ARN a start names (a state machine or a version): its text is compared, not
    /// hashed, to tell whether it is still the one cached.
    starts: Mutex<HashMap<String, Arc<Prepared>>>,
}

impl MachineCache {
    /// Machines compiled under `limits`.
    pub fn new(limits: Limits) -> MachineCache {
        MachineCache {
            limits,
            machines: Mutex::new(HashMap::new()),
            keyed: Mutex::new(HashMap::new()),
            starts: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn compile(&self, definition: &str) -> Result<Arc<Machine>, MachineError> {
        // The definition reader builds maps at their final size: a fifth less than serde_json
        // for a large definition, with the same value or error.
        let value: Value = cairn_asl::json::parse(definition).map_err(MachineError::NotJson)?;
        Ok(Arc::new(
            Machine::from_json(&value)
                .map_err(MachineError::Compile)?
                .with_limits(self.limits),
        ))
    }

    /// The compiled machine of a definition, compiled on first use.
    pub fn get(&self, definition: &str) -> Result<Arc<Machine>, MachineError> {
        if let Some(machine) = self
            .machines
            .lock()
            .ok()
            .and_then(|cache| cache.get(definition).cloned())
        {
            return Ok(machine);
        }
        let machine = self.compile(definition)?;
        if let Ok(mut cache) = self.machines.lock() {
            if cache.len() >= CAPACITY {
                cache.clear();
            }
            cache.insert(definition.to_owned(), Arc::clone(&machine));
        }
        Ok(machine)
    }

    /// The compiled machine of the definition kept under `key`, if this process has it.
    pub fn cached(&self, key: &str) -> Option<Arc<Machine>> {
        self.keyed
            .lock()
            .ok()
            .and_then(|cache| cache.get(key).cloned())
    }

    /// Compiles `text`, the definition kept under `key`, and keeps it by that key.
    pub fn compile_keyed(&self, key: &Arc<str>, text: &str) -> Result<Arc<Machine>, MachineError> {
        if let Some(machine) = self.cached(key) {
            return Ok(machine);
        }
        let machine = self.compile(text)?;
        if let Ok(mut cache) = self.keyed.lock() {
            if cache.len() >= CAPACITY {
                cache.clear();
            }
            cache.insert(Arc::clone(key), Arc::clone(&machine));
        }
        Ok(machine)
    }

    /// The compiled machine of the definition an execution runs: by its key (read from
    /// `store` the first time this process meets it) or by its text.
    pub fn of<S: ExecutionStore + ?Sized>(
        &self,
        definition: &Definition,
        store: &S,
    ) -> Result<Arc<Machine>, MachineError> {
        match definition {
            Definition::Text(text) => self.get(text),
            Definition::Stored { key, text } => {
                if let Some(machine) = self.cached(key) {
                    return Ok(machine);
                }
                let text = match text {
                    Some(text) => Arc::clone(text),
                    None => definition
                        .resolve(store)
                        .map_err(|e| MachineError::Unavailable(e.message))?,
                };
                self.compile_keyed(key, &text)
            }
        }
    }

    /// The definition `arn` (a state machine or version) holds now, `text`, as executions
    /// start on it: its key computed and its machine compiled once per text, found again by
    /// the ARN and a comparison of the text (a 137 KB definition is compared in microseconds,
    /// where hashing it took a tenth of a millisecond and more).
    pub fn prepare(&self, arn: &str, text: &str) -> Result<Arc<Prepared>, MachineError> {
        if let Some(prepared) = self
            .starts
            .lock()
            .ok()
            .and_then(|cache| cache.get(arn).cloned())
        {
            if &*prepared.text == text {
                return Ok(prepared);
            }
        }
        let key: Arc<str> = Arc::from(definition_key(text));
        let machine = self.compile_keyed(&key, text)?;
        let prepared = Arc::new(Prepared {
            text: Arc::from(text),
            key,
            machine,
        });
        if let Ok(mut cache) = self.starts.lock() {
            if cache.len() >= CAPACITY {
                cache.clear();
            }
            cache.insert(arn.to_owned(), Arc::clone(&prepared));
        }
        Ok(prepared)
    }
}

/// DeleteStateMachine as AWS does it: a state machine with running executions is DELETING
/// until the last one ends (DescribeStateMachine shows it, StartExecution and
/// UpdateStateMachine answer StateMachineDeleting, its running executions fail at their
/// next transition, as AWS terminates them); one without is
/// deleted at once. Nothing watches for the last end: the first read of a DELETING state
/// machine that finds none running deletes it ([`settle`]), so no execution's write has to
/// know of deletions.
pub mod lifecycle {
    use cairn_store::{Error as StoreError, ExecutionQuery, StateMachineRecord};
    use serde_json::Value;

    use crate::driver::{store_error, Driver};
    use crate::ApiError;

    pub const ACTIVE: &str = "ACTIVE";
    pub const DELETING: &str = "DELETING";

    /// `ACTIVE` or `DELETING`, as DescribeStateMachine answers it. Public for the shells'
    /// own start paths (the serverless engine's StartExecution) and the redrive check.
    pub fn status(record: &StateMachineRecord) -> &str {
        record
            .document
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or(ACTIVE)
    }

    pub fn is_deleting(record: &StateMachineRecord) -> bool {
        status(record) == DELETING
    }

    /// The state machine whose deletion ends an execution, from the ARN its record keeps:
    /// a Map Run child's `…:stateMachine:NAME/LABEL` is its parent's machine (records keep
    /// versions' executions under the unqualified ARN already).
    pub fn deleted_with(state_machine_arn: &str) -> String {
        crate::fields::split_label(state_machine_arn)
            .map_or_else(|| state_machine_arn.to_string(), |(base, _)| base)
    }

    pub fn deleting(arn: &str) -> ApiError {
        ApiError::new(
            "StateMachineDeleting",
            format!("State machine is being deleted: '{arn}'"),
        )
    }

    /// Whether any execution of the state machine still runs.
    fn runs(driver: &Driver, arn: &str) -> Result<bool, ApiError> {
        let query = ExecutionQuery {
            state_machine_arn: arn.to_string(),
            status: Some("RUNNING".into()),
            cursor: None,
            limit: 1,
        };
        match driver.store.list_executions(&query) {
            Ok(page) => Ok(!page.items.is_empty()),
            Err(StoreError::NotFound(_)) => Ok(false),
            Err(other) => Err(store_error(other)),
        }
    }

    /// DeleteStateMachine: deleted now when no execution runs, else marked DELETING (a
    /// second call while it is changes nothing, as AWS's does).
    pub(crate) fn delete(driver: &Driver, arn: &str) -> Result<(), ApiError> {
        // Only a concurrent change of the record makes the conditional write fail.
        for _ in 0..16 {
            let Some((mut record, version)) =
                driver.store.get_state_machine(arn).map_err(store_error)?
            else {
                return Ok(());
            };
            if !runs(driver, arn)? {
                deleted(driver, arn)?;
                return Ok(());
            }
            if is_deleting(&record) {
                mark(driver, arn);
                return Ok(());
            }
            record.document["status"] = Value::from(DELETING);
            match driver.store.update_state_machine(&record, version) {
                Ok(_) => {
                    mark(driver, arn);
                    return Ok(());
                }
                Err(StoreError::NotFound(_)) => return Ok(()),
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(store_error(other)),
            }
        }
        Err(ApiError::new(
            "ConflictException",
            format!("State machine '{arn}' was updated concurrently; retry the deletion"),
        ))
    }

    /// Its running executions fail at their next transition (AWS: "On the next state
    /// transition, the state machine's executions are terminated").
    fn mark(driver: &Driver, arn: &str) {
        if let Ok(mut deleting) = driver.deleting.lock() {
            deleting.insert(arn.to_string());
        }
    }

    /// Deletes the record; a state machine created again under the name is not DELETING.
    fn deleted(driver: &Driver, arn: &str) -> Result<(), ApiError> {
        driver
            .store
            .delete_state_machine(arn)
            .map_err(store_error)?;
        if let Ok(mut deleting) = driver.deleting.lock() {
            deleting.remove(arn);
        }
        Ok(())
    }

    /// A stored state machine as the API may show it: a DELETING one whose executions all
    /// ended is deleted now and reads as gone (`None`).
    pub(crate) fn settle(
        driver: &Driver,
        found: Option<(StateMachineRecord, u64)>,
    ) -> Result<Option<(StateMachineRecord, u64)>, ApiError> {
        match found {
            Some((record, _)) if is_deleting(&record) && !runs(driver, &record.arn)? => {
                deleted(driver, &record.arn)?;
                Ok(None)
            }
            other => Ok(other),
        }
    }
}

/// AWS's account quotas on registered resources: CreateStateMachine past the registered
/// state machines, and CreateActivity past the registered activities (10,000 each by
/// default), are refused; creating one that exists already is not refused by them
/// (AWS's idempotency answers the original). The count stops at the quota, so a store
/// far below it is read in one page.
pub mod quotas {
    use cairn_store::{ActivityStore, Page, StateMachineStore};

    use crate::driver::store_error;
    use crate::ApiError;

    /// AWS's default quota of registered state machines per account and region.
    pub const STATE_MACHINES: usize = 10_000;
    /// AWS's default quota of registered activities per account and region.
    pub const ACTIVITIES: usize = 10_000;

    /// Refuses a new state machine when `limit` are registered. `exists`: whether the ARN
    /// being created is one of them (asked only at the quota).
    pub fn admit_state_machine(
        store: &dyn StateMachineStore,
        limit: usize,
        exists: impl FnOnce() -> Result<bool, ApiError>,
    ) -> Result<(), ApiError> {
        let registered = count(
            |cursor, page| store.list_state_machines(cursor, page),
            limit,
        )?;
        if registered >= limit && !exists()? {
            return Err(ApiError::new(
                "StateMachineLimitExceeded",
                "The maximum number of state machines has been reached. Existing state machines must be deleted before a new state machine can be created.",
            ));
        }
        Ok(())
    }

    /// Refuses a new activity when `limit` are registered (see [`admit_state_machine`]).
    pub fn admit_activity(
        store: &dyn ActivityStore,
        limit: usize,
        exists: impl FnOnce() -> Result<bool, ApiError>,
    ) -> Result<(), ApiError> {
        let registered = count(|cursor, page| store.list_activities(cursor, page), limit)?;
        if registered >= limit && !exists()? {
            return Err(ApiError::new(
                "ActivityLimitExceeded",
                "The maximum number of activities has been reached. Existing activities must be deleted before a new activity can be created.",
            ));
        }
        Ok(())
    }

    /// How many a listing holds, counted up to `limit`.
    fn count<T>(
        list: impl Fn(Option<&str>, usize) -> cairn_store::Result<Page<T>>,
        limit: usize,
    ) -> Result<usize, ApiError> {
        let mut counted = 0;
        let mut cursor: Option<String> = None;
        while counted < limit {
            let page =
                list(cursor.as_deref(), (limit - counted).clamp(1, 1000)).map_err(store_error)?;
            counted += page.items.len();
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(counted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_run_childs_machine_is_deleted_with_its_parents() {
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
        assert_eq!(lifecycle::deleted_with(machine), machine);
        assert_eq!(lifecycle::deleted_with(&format!("{machine}/Rows")), machine);
    }

    #[test]
    fn each_definition_is_compiled_once_under_the_given_limits() {
        let raised = Limits {
            max_history_events: 100_000,
            ..Limits::default()
        };
        let cache = MachineCache::new(raised);
        let pass = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
        let wait =
            r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}"#;
        let first = cache.get(pass).unwrap();
        assert!(Arc::ptr_eq(&first, &cache.get(pass).unwrap()));
        assert!(!Arc::ptr_eq(&first, &cache.get(wait).unwrap()));
        assert_eq!(first.limits(), raised);
        assert!(matches!(cache.get("{"), Err(MachineError::NotJson(_))));
        assert!(matches!(
            cache.get(r#"{"StartAt": "X", "States": {}}"#),
            Err(MachineError::Compile(_))
        ));
    }

    fn record(kind: &str, name: &str) -> cairn_store::StateMachineRecord {
        cairn_store::StateMachineRecord {
            arn: format!("arn:aws:states:us-east-1:123456789012:{kind}:{name}"),
            name: name.to_string(),
            created_ms: 0,
            document: serde_json::json!({}),
        }
    }

    #[test]
    fn new_resources_are_refused_at_the_quota_and_existing_ones_are_not() {
        use cairn_store::{ActivityStore, StateMachineStore};
        let store = cairn_store::MemoryStore::new();
        let fresh = || Ok(false);
        for n in 0..3 {
            quotas::admit_state_machine(&store, 3, fresh).expect("below the quota");
            store
                .create_state_machine(&record("stateMachine", &format!("m{n}")))
                .unwrap();
            quotas::admit_activity(&store, 3, fresh).expect("below the quota");
            store
                .create_activity(&record("activity", &format!("a{n}")))
                .unwrap();
        }
        let refused = quotas::admit_state_machine(&store, 3, fresh).unwrap_err();
        assert_eq!(refused.error_type, "StateMachineLimitExceeded");
        assert_eq!(
            refused.message,
            "The maximum number of state machines has been reached. Existing state machines must be deleted before a new state machine can be created."
        );
        let refused = quotas::admit_activity(&store, 3, fresh).unwrap_err();
        assert_eq!(refused.error_type, "ActivityLimitExceeded");
        assert_eq!(
            refused.message,
            "The maximum number of activities has been reached. Existing activities must be deleted before a new activity can be created."
        );
        // Creating one that exists is the action's idempotency, not a new resource.
        quotas::admit_state_machine(&store, 3, || Ok(true)).expect("existing");
        quotas::admit_activity(&store, 3, || Ok(true)).expect("existing");
        // A larger quota admits more; a deletion frees a place.
        quotas::admit_state_machine(&store, 4, fresh).expect("below a larger quota");
        store
            .delete_state_machine(&record("stateMachine", "m0").arn)
            .unwrap();
        quotas::admit_state_machine(&store, 3, fresh).expect("a place freed");
    }

    #[test]
    fn the_create_actions_answer_at_aws_default_quotas() {
        use cairn_store::{ActivityStore, StateMachineStore};
        let store = Arc::new(cairn_store::MemoryStore::new());
        let pass = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
        // Registered directly: ten thousand creates through the API would each count.
        for n in 0..quotas::STATE_MACHINES {
            let mut machine = record("stateMachine", &format!("m{n}"));
            machine.document = serde_json::json!({"definition": pass, "roleArn": "arn:aws:iam::123456789012:role/r",
                "type": "STANDARD", "loggingConfiguration": {"level": "OFF", "includeExecutionData": false}});
            store.create_state_machine(&machine).unwrap();
        }
        for n in 0..quotas::ACTIVITIES {
            store
                .create_activity(&record("activity", &format!("a{n}")))
                .unwrap();
        }
        let api = crate::Api::new(
            Arc::clone(&store) as Arc<dyn cairn_store::Store>,
            crate::Config::default(),
        );
        let create = |name: &str| {
            api.handle(
                "CreateStateMachine",
                serde_json::json!({"name": name, "definition": pass,
                    "roleArn": "arn:aws:iam::123456789012:role/r"}),
            )
        };
        assert_eq!(
            create("one-more").unwrap_err().error_type,
            "StateMachineLimitExceeded"
        );
        assert_eq!(
            api.handle("CreateActivity", serde_json::json!({"name": "one-more"}))
                .unwrap_err()
                .error_type,
            "ActivityLimitExceeded"
        );
        // Creating again what exists answers as before the quota.
        let again = api
            .handle("CreateActivity", serde_json::json!({"name": "a7"}))
            .expect("idempotent");
        assert_eq!(
            again["activityArn"],
            "arn:aws:states:us-east-1:123456789012:activity:a7"
        );
        assert_eq!(
            create("m7").expect("idempotent")["stateMachineArn"],
            "arn:aws:states:us-east-1:123456789012:stateMachine:m7"
        );
        let other = api.handle(
            "CreateStateMachine",
            serde_json::json!({"name": "m8", "roleArn": "arn:aws:iam::123456789012:role/r",
                "definition": r#"{"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}"#}),
        );
        assert_eq!(
            other.unwrap_err().error_type,
            "StateMachineAlreadyExists",
            "another definition under an existing name"
        );
        // Deleting one frees its place.
        api.handle(
            "DeleteActivity",
            serde_json::json!({"activityArn": "arn:aws:states:us-east-1:123456789012:activity:a0"}),
        )
        .expect("deleted");
        api.handle("CreateActivity", serde_json::json!({"name": "one-more"}))
            .expect("a place freed");
        api.shutdown();
    }
}
