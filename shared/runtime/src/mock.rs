//! AWS Step Functions Local's mock configuration file (`MockConfigFile.json`, `SFN_MOCK_CONFIG`)
//! and the task invoker that answers Task states from it.
//!
//! The format is AWS's, unchanged: `StateMachines` → machine name → `TestCases` → test case
//! name → state name → mocked response name, and `MockedResponses` → response name → attempt
//! key (`"0"`, `"1-2"`: zero-based, the first call of a state is attempt 0) → `Return` (the
//! task's result) or `Throw` (`Error` and `Cause`: a task failure Retry and Catch see).
//!
//! The mock sits where tasks are invoked, in front of the real invoker: the decider and the
//! history are those of a real call. A state the test case does not name runs for real, as
//! Step Functions Local calls the service for it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::ports::{TaskDone, TaskFailure, TaskInvoker, TaskOutcome, TaskRequest};

/// The error name of a mocked state called more often than its mocked response has attempts
/// for: Step Functions Local fails the execution then.
pub const MOCK_ATTEMPT_MISSING: &str = "States.Runtime";

/// A mock configuration that is not of AWS's documented shape, or a test case it lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MockConfigError {
    #[error("invalid mock configuration: {0}")]
    Invalid(String),
    #[error("the mock configuration has no state machine named '{0}'")]
    NoStateMachine(String),
    #[error("the mock configuration has no test case '{case}' for the state machine '{machine}'")]
    NoTestCase { machine: String, case: String },
}

/// What one attempt of a mocked state answers.
#[derive(Debug, Clone, PartialEq)]
pub enum MockAnswer {
    /// The task's result, as the service would have answered.
    Return(Value),
    /// A task failure with this error and cause.
    Throw {
        error: String,
        cause: Option<String>,
    },
}

/// One entry of `MockedResponses`: answers by attempt number (zero-based, inclusive ranges).
#[derive(Debug, Clone, PartialEq)]
pub struct MockedResponse {
    attempts: Vec<(u64, u64, MockAnswer)>,
}

impl MockedResponse {
    /// Reads `{"0": {"Return": ...}, "1-2": {"Throw": {...}}}`.
    pub fn from_json(name: &str, value: &Value) -> Result<MockedResponse, MockConfigError> {
        let invalid = |what: String| MockConfigError::Invalid(format!("{name}: {what}"));
        let object = value
            .as_object()
            .ok_or_else(|| invalid("a mocked response must be an object of attempts".into()))?;
        if object.is_empty() {
            return Err(invalid(
                "a mocked response needs at least one attempt".into(),
            ));
        }
        let mut attempts = Vec::with_capacity(object.len());
        for (key, answer) in object {
            let (first, last) = parse_attempts(key).ok_or_else(|| {
                invalid(format!(
                    "'{key}' is not an attempt number or range such as \"0\" or \"1-2\""
                ))
            })?;
            if let Some((a, b, _)) = attempts.iter().find(|(a, b, _)| first <= *b && *a <= last) {
                return Err(invalid(format!(
                    "the attempts '{key}' overlap the attempts {a}-{b}"
                )));
            }
            attempts.push((
                first,
                last,
                parse_answer(answer).map_err(|e| invalid(format!("{key}: {e}")))?,
            ));
        }
        attempts.sort_by_key(|(first, _, _)| *first);
        Ok(MockedResponse { attempts })
    }

    /// The answer of the attempt (0 for the first call), if the response has one.
    pub fn answer(&self, attempt: u64) -> Option<&MockAnswer> {
        self.attempts
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&attempt))
            .map(|(_, _, answer)| answer)
    }
}

fn parse_attempts(key: &str) -> Option<(u64, u64)> {
    let number = |text: &str| {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u64>().ok())
            .flatten()
    };
    match key.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (number(first)?, number(last)?);
            (first <= last).then_some((first, last))
        }
        None => number(key).map(|n| (n, n)),
    }
}

fn parse_answer(value: &Value) -> Result<MockAnswer, String> {
    let object = value
        .as_object()
        .ok_or("an attempt must be an object with Return or Throw")?;
    match (object.get("Return"), object.get("Throw")) {
        (Some(_), Some(_)) => Err("an attempt has either Return or Throw, not both".into()),
        (Some(result), None) => Ok(MockAnswer::Return(result.clone())),
        (None, Some(Value::Object(throw))) => {
            let error = throw
                .get("Error")
                .and_then(Value::as_str)
                .ok_or("Throw needs an Error string")?;
            let cause = match throw.get("Cause") {
                None | Some(Value::Null) => None,
                Some(Value::String(cause)) => Some(cause.clone()),
                Some(_) => return Err("Throw's Cause must be a string".into()),
            };
            Ok(MockAnswer::Throw {
                error: error.to_owned(),
                cause,
            })
        }
        (None, Some(_)) => Err("Throw must be an object with Error and Cause".into()),
        (None, None) => Err("an attempt needs Return or Throw".into()),
    }
}

/// A whole mock configuration file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MockConfig {
    /// Machine name → test case name → state name → mocked response name.
    machines: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    responses: BTreeMap<String, Arc<MockedResponse>>,
}

impl MockConfig {
    pub fn parse(text: &str) -> Result<MockConfig, MockConfigError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| MockConfigError::Invalid(format!("not JSON: {e}")))?;
        MockConfig::from_json(&value)
    }

    /// Reads the file's JSON, checking that every test case names a mocked response that
    /// exists (Step Functions Local would only find out in the middle of an execution).
    pub fn from_json(value: &Value) -> Result<MockConfig, MockConfigError> {
        let invalid = |what: &str| MockConfigError::Invalid(what.to_owned());
        let root = value
            .as_object()
            .ok_or_else(|| invalid("the file must hold a JSON object"))?;
        for key in root.keys() {
            if key != "StateMachines" && key != "MockedResponses" {
                return Err(invalid(&format!(
                    "unknown field '{key}' (the fields are StateMachines and MockedResponses)"
                )));
            }
        }
        let empty = Map::new();
        let object_at =
            |value: Option<&'_ Value>, what: &str| -> Result<Map<String, Value>, MockConfigError> {
                match value {
                    None => Ok(empty.clone()),
                    Some(Value::Object(map)) => Ok(map.clone()),
                    Some(_) => Err(invalid(&format!("{what} must be an object"))),
                }
            };
        let mut responses = BTreeMap::new();
        for (name, response) in object_at(root.get("MockedResponses"), "MockedResponses")? {
            responses.insert(
                name.clone(),
                Arc::new(MockedResponse::from_json(&name, &response)?),
            );
        }
        let mut machines = BTreeMap::new();
        for (machine, body) in object_at(root.get("StateMachines"), "StateMachines")? {
            let body = object_at(Some(&body), &format!("StateMachines.{machine}"))?;
            let cases = object_at(body.get("TestCases"), &format!("{machine}.TestCases"))?;
            let mut parsed = BTreeMap::new();
            for (case, states) in cases {
                let states = object_at(Some(&states), &format!("{machine}.TestCases.{case}"))?;
                let mut mocked = BTreeMap::new();
                for (state, response) in states {
                    let response = response.as_str().ok_or_else(|| {
                        invalid(&format!(
                            "{machine}.TestCases.{case}.{state} must name a mocked response"
                        ))
                    })?;
                    if !responses.contains_key(response) {
                        return Err(invalid(&format!(
                            "{machine}.TestCases.{case}.{state} names the mocked response \
                             '{response}', which MockedResponses lacks"
                        )));
                    }
                    mocked.insert(state, response.to_owned());
                }
                parsed.insert(case, mocked);
            }
            machines.insert(machine, parsed);
        }
        Ok(MockConfig {
            machines,
            responses,
        })
    }

    /// The mocks of one test case of one state machine.
    pub fn test_case(&self, machine: &str, case: &str) -> Result<TestCase, MockConfigError> {
        let cases = self
            .machines
            .get(machine)
            .ok_or_else(|| MockConfigError::NoStateMachine(machine.to_owned()))?;
        let states = cases.get(case).ok_or_else(|| MockConfigError::NoTestCase {
            machine: machine.to_owned(),
            case: case.to_owned(),
        })?;
        let states = states
            .iter()
            .filter_map(|(state, response)| {
                let response = self.responses.get(response)?;
                Some((state.clone(), Arc::clone(response)))
            })
            .collect();
        Ok(TestCase {
            name: case.to_owned(),
            states,
        })
    }

    /// The state machine names the file configures.
    pub fn state_machines(&self) -> impl Iterator<Item = &str> {
        self.machines.keys().map(String::as_str)
    }
}

/// One test case: the mocked response of each mocked state.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    pub name: String,
    states: BTreeMap<String, Arc<MockedResponse>>,
}

impl TestCase {
    /// A test case from state name → mocked response (`cairn test`'s inline mocks).
    pub fn new(name: impl Into<String>, states: BTreeMap<String, MockedResponse>) -> TestCase {
        TestCase {
            name: name.into(),
            states: states
                .into_iter()
                .map(|(state, response)| (state, Arc::new(response)))
                .collect(),
        }
    }

    /// Mocks `state` with `response`, replacing its mock in this test case if it had one.
    pub fn insert(&mut self, state: impl Into<String>, response: MockedResponse) {
        self.states.insert(state.into(), Arc::new(response));
    }

    pub fn response(&self, state: &str) -> Option<&MockedResponse> {
        self.states.get(state).map(Arc::as_ref)
    }

    pub fn mocked_states(&self) -> impl Iterator<Item = &str> {
        self.states.keys().map(String::as_str)
    }
}

/// A task invoker that answers the mocked states of a test case and hands every other task
/// to the real invoker. Attempts are counted per state per execution.
pub struct MockInvoker {
    inner: Arc<dyn TaskInvoker>,
    case: Arc<TestCase>,
    attempts: Mutex<HashMap<String, u64>>,
}

impl MockInvoker {
    /// The mocks of one execution (`cairn run --test-case`, one `cairn test` case).
    pub fn new(inner: Arc<dyn TaskInvoker>, case: TestCase) -> MockInvoker {
        MockInvoker {
            inner,
            case: Arc::new(case),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The mocked outcome of this call, or `None` when its state is not mocked.
    pub fn mocked(&self, request: &TaskRequest) -> Option<TaskOutcome> {
        let response = self.case.response(&request.state_name)?;
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
            let count = attempts.entry(request.state_name.clone()).or_insert(0);
            let attempt = *count;
            *count += 1;
            attempt
        };
        // The mocked answer is the task's result, also for a `.waitForTaskToken` or `.sync`
        // task: nothing would ever answer its token.
        Some(TaskOutcome::ending(answer(
            response,
            attempt,
            &request.state_name,
            &self.case.name,
        )))
    }
}

/// The mocks of a server (`cairn serve` with SFN_MOCK_CONFIG): each execution started on
/// `<stateMachineArn>#<TestCaseName>` gets that test case's mocks; every other execution and
/// every unmocked state runs for real.
pub struct MockRegistry {
    config: MockConfig,
    inner: Arc<dyn TaskInvoker>,
    executions: Mutex<HashMap<String, Arc<MockInvoker>>>,
}

impl MockRegistry {
    pub fn new(config: MockConfig, inner: Arc<dyn TaskInvoker>) -> MockRegistry {
        MockRegistry {
            config,
            inner,
            executions: Mutex::new(HashMap::new()),
        }
    }

    /// Answers the tasks of `execution_arn` from the test case `case` of the state machine
    /// `machine`. Selecting again for the same execution (an idempotent StartExecution)
    /// keeps the attempts counted so far.
    pub fn select(
        &self,
        execution_arn: &str,
        machine: &str,
        case: &str,
    ) -> Result<(), MockConfigError> {
        let test_case = self.config.test_case(machine, case)?;
        let mut executions = self.executions.lock().unwrap_or_else(|e| e.into_inner());
        executions
            .entry(execution_arn.to_owned())
            .or_insert_with(|| Arc::new(MockInvoker::new(Arc::clone(&self.inner), test_case)));
        Ok(())
    }

    fn mock_of(&self, request: &TaskRequest) -> Option<Arc<MockInvoker>> {
        let executions = self.executions.lock().unwrap_or_else(|e| e.into_inner());
        executions.get(&request.execution_arn).cloned()
    }
}

impl TaskInvoker for MockRegistry {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        match self.mock_of(request) {
            Some(mock) => mock.invoke(request),
            None => self.inner.invoke(request),
        }
    }

    fn start(&self, request: TaskRequest, done: TaskDone) -> Result<(), (TaskRequest, TaskDone)> {
        match self.mock_of(&request) {
            Some(mock) => mock.start(request, done),
            None => self.inner.start(request, done),
        }
    }
}

/// The result of one attempt of a mocked state.
pub fn answer(
    response: &MockedResponse,
    attempt: u64,
    state: &str,
    case: &str,
) -> Result<Value, TaskFailure> {
    match response.answer(attempt) {
        Some(MockAnswer::Return(result)) => Ok(result.clone()),
        Some(MockAnswer::Throw { error, cause }) => Err(TaskFailure {
            error: error.clone(),
            cause: cause.clone(),
        }),
        None => Err(TaskFailure::new(
            MOCK_ATTEMPT_MISSING,
            format!(
                "The mocked response of state '{state}' in test case '{case}' has no answer \
                 for attempt {attempt} (attempts count from 0)"
            ),
        )),
    }
}

impl TaskInvoker for MockInvoker {
    fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
        match self.mocked(request) {
            Some(outcome) => outcome,
            None => self.inner.invoke(request),
        }
    }

    fn start(&self, request: TaskRequest, done: TaskDone) -> Result<(), (TaskRequest, TaskDone)> {
        match self.mocked(&request) {
            Some(outcome) => {
                done.finish(outcome);
                Ok(())
            }
            None => self.inner.start(request, done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_interpreter::ResourceKind;
    use serde_json::json;

    fn aws_example() -> Value {
        json!({
          "StateMachines": {"LambdaSQSIntegration": {"TestCases": {
            "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
            "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
            "HybridPath": {"LambdaState": "MockedLambdaSuccess"}}}},
          "MockedResponses": {
            "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}},
            "MockedLambdaRetry": {
              "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "Lambda resource is not ready."}},
              "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
              "3": {"Return": {"StatusCode": 200}}},
            "MockedSQSSuccess": {"0": {"Return": {"MessageId": "m"}}}}
        })
    }

    struct Real;
    impl TaskInvoker for Real {
        fn invoke(&self, request: &TaskRequest) -> TaskOutcome {
            TaskOutcome::now(Ok(json!({"real": request.state_name})))
        }
    }

    fn request(state: &str) -> TaskRequest {
        TaskRequest {
            task_id: 1,
            state_name: state.into(),
            resource: "arn:aws:states:::lambda:invoke".into(),
            kind: ResourceKind::Activity,
            input: json!({}),
            task_token: None,
            credentials: None,
            now_ms: 0,
            execution_arn: "arn:e".into(),
        }
    }

    #[test]
    fn attempts_count_from_zero_per_state_and_ranges_cover_each_attempt() {
        let config = MockConfig::from_json(&aws_example()).unwrap();
        let case = config
            .test_case("LambdaSQSIntegration", "RetryPath")
            .unwrap();
        let mock = MockInvoker::new(Arc::new(Real), case);
        let errors: Vec<_> = (0..4)
            .map(|_| mock.invoke(&request("LambdaState")).result)
            .collect();
        assert_eq!(
            errors[0].as_ref().unwrap_err().error,
            "Lambda.ResourceNotReadyException"
        );
        assert_eq!(
            errors[1].as_ref().unwrap_err().error,
            "Lambda.TimeoutException"
        );
        assert_eq!(
            errors[2].as_ref().unwrap_err().cause.as_deref(),
            Some("Lambda timed out.")
        );
        assert_eq!(errors[3], Ok(json!({"StatusCode": 200})));
        // A fifth call has no answer: Step Functions Local fails the execution.
        let fifth = mock.invoke(&request("LambdaState")).result.unwrap_err();
        assert_eq!(fifth.error, MOCK_ATTEMPT_MISSING);
        // Another state has its own count.
        assert_eq!(
            mock.invoke(&request("SQSState")).result,
            Ok(json!({"MessageId": "m"}))
        );
    }

    #[test]
    fn a_state_the_test_case_does_not_mock_runs_for_real() {
        let config = MockConfig::from_json(&aws_example()).unwrap();
        let case = config
            .test_case("LambdaSQSIntegration", "HybridPath")
            .unwrap();
        let mock = MockInvoker::new(Arc::new(Real), case);
        assert_eq!(
            mock.invoke(&request("SQSState")).result,
            Ok(json!({"real": "SQSState"}))
        );
    }

    #[test]
    fn a_registry_mocks_only_the_executions_started_on_a_test_case_each_with_its_own_attempts() {
        let config = MockConfig::from_json(&aws_example()).unwrap();
        let registry = MockRegistry::new(config, Arc::new(Real));
        registry
            .select("arn:e", "LambdaSQSIntegration", "RetryPath")
            .unwrap();
        registry
            .select("arn:f", "LambdaSQSIntegration", "RetryPath")
            .unwrap();
        let mut other = request("LambdaState");
        other.execution_arn = "arn:f".into();
        assert!(registry.invoke(&request("LambdaState")).result.is_err());
        assert!(registry.invoke(&request("LambdaState")).result.is_err());
        // The second execution starts at attempt 0: ResourceNotReady, not Timeout.
        assert_eq!(
            registry.invoke(&other).result.unwrap_err().error,
            "Lambda.ResourceNotReadyException"
        );
        // Selecting again keeps the count: attempt 2 of arn:e.
        registry
            .select("arn:e", "LambdaSQSIntegration", "RetryPath")
            .unwrap();
        assert_eq!(
            registry
                .invoke(&request("LambdaState"))
                .result
                .unwrap_err()
                .error,
            "Lambda.TimeoutException"
        );
        let mut unmocked = request("LambdaState");
        unmocked.execution_arn = "arn:plain".into();
        assert_eq!(
            registry.invoke(&unmocked).result,
            Ok(json!({"real": "LambdaState"}))
        );
        assert!(registry
            .select("arn:g", "LambdaSQSIntegration", "Nope")
            .is_err());
    }

    #[test]
    fn bad_configurations_and_unknown_cases_say_what_is_wrong() {
        let config = MockConfig::from_json(&aws_example()).unwrap();
        assert_eq!(
            config
                .test_case("LambdaSQSIntegration", "Nope")
                .unwrap_err(),
            MockConfigError::NoTestCase {
                machine: "LambdaSQSIntegration".into(),
                case: "Nope".into()
            }
        );
        assert_eq!(
            config.test_case("Other", "HappyPath").unwrap_err(),
            MockConfigError::NoStateMachine("Other".into())
        );
        let dangling = json!({"StateMachines": {"M": {"TestCases": {"T": {"S": "Missing"}}}}});
        let err = MockConfig::from_json(&dangling).unwrap_err().to_string();
        assert!(err.contains("'Missing'"), "{err}");
        for bad in [
            json!({"MockedResponses": {"R": {"x": {"Return": 1}}}}),
            json!({"MockedResponses": {"R": {"2-1": {"Return": 1}}}}),
            json!({"MockedResponses": {"R": {"0-2": {"Return": 1}, "2": {"Return": 2}}}}),
            json!({"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}}),
            json!({"MockedResponses": {"R": {"0": {"Throw": {"Cause": "no error"}}}}}),
            json!({"MockedResponse": {}}),
        ] {
            assert!(
                matches!(
                    MockConfig::from_json(&bad),
                    Err(MockConfigError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }
}
