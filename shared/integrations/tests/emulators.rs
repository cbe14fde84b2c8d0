//! The integrations against real emulators (moto for SNS, SQS, EventBridge and S3; DynamoDB
//! Local for DynamoDB), driven through the same run loop as `cairn run`. Unit tests pin the
//! wire formats Cairn writes; only a real service can say whether it understands them, and
//! what it answers when a call fails. What a workflow wrote is read back through the official
//! AWS SDK clients, so a result is never confirmed by the code that produced it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_integrations::Integrations;
use cairn_interpreter::{Machine, Status};
use cairn_runtime::{run_to_completion, RunOptions, RunResult, Unsupported};
use cairn_test_support::{emulators, succeeded, Emulators};
use serde_json::{json, Value};

/// Integrations that call the emulators whatever else the environment holds.
fn integrations(emulators: &Emulators) -> Integrations {
    Integrations::new(emulators.settings(), Arc::new(Unsupported)).unwrap()
}

/// A name no earlier run left behind: the emulators outlive the tests, and a table, queue or
/// bucket from a previous run would make a create fail or a count wrong.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "cairn-it-{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn run(definition: Value, input: Value, integrations: &Integrations) -> RunResult {
    let machine = Machine::from_json(&definition).unwrap();
    run_to_completion(
        &machine,
        input,
        Arc::new(integrations.clone()),
        &RunOptions::default(),
    )
    .unwrap()
}

/// The official clients read what the workflows wrote; they run on their own runtime, apart
/// from the one inside the integrations.
struct Sdk {
    runtime: tokio::runtime::Runtime,
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

impl Sdk {
    fn new(emulators: &Emulators) -> Sdk {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = |endpoint: &str| runtime.block_on(cairn_test_support::sdk_config(endpoint));
        let sqs = aws_sdk_sqs::Client::new(&config(&emulators.moto));
        let dynamodb = aws_sdk_dynamodb::Client::new(&config(&emulators.dynamodb));
        Sdk {
            runtime,
            sqs,
            dynamodb,
        }
    }
}

/// A cause in SDK v1's words, as the optimized integrations give it:
/// `<message> (Service: <service>; Status Code: <status>; Error Code: <code>; Request ID:
/// <id>; Proxy: null)`. Returns the request id, which must not be empty.
fn assert_sdk_v1_cause(cause: &str, service: &str, status: u16, code: &str) -> String {
    let (message, rest) = cause
        .split_once(" (Service: ")
        .unwrap_or_else(|| panic!("no SDK v1 suffix in the cause {cause:?}"));
    assert!(!message.is_empty(), "the cause has no message: {cause:?}");
    let prefix = format!("{service}; Status Code: {status}; Error Code: {code}; Request ID: ");
    let request_id = rest
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix("; Proxy: null)"))
        .unwrap_or_else(|| panic!("the cause {cause:?} is not in SDK v1's words for {code}"));
    assert!(
        !request_id.is_empty() && !request_id.contains(';'),
        "the cause {cause:?} carries no request id"
    );
    request_id.to_owned()
}

/// A cause in SDK v2's words, as `aws-sdk:*` gives it: `<message> (Service: <service>, Status
/// Code: <status>, Request ID: <id>[, Extended Request ID: <id>]) (SDK Attempt Count: 1)`.
fn assert_sdk_v2_cause(cause: &str, service: &str, status: u16) {
    let (message, rest) = cause
        .split_once(" (Service: ")
        .unwrap_or_else(|| panic!("no SDK v2 suffix in the cause {cause:?}"));
    assert!(!message.is_empty(), "the cause has no message: {cause:?}");
    let prefix = format!("{service}, Status Code: {status}, Request ID: ");
    let request_id = rest
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(") (SDK Attempt Count: 1)"))
        .unwrap_or_else(|| panic!("the cause {cause:?} is not in SDK v2's words"));
    assert!(
        !request_id.is_empty(),
        "the cause {cause:?} carries no request id"
    );
}

/// What every optimized integration adds to its result (Step Functions' SDK v1 metadata).
fn assert_sdk_metadata(result: &Value, what: &str) {
    assert_eq!(
        result["SdkHttpMetadata"]["HttpStatusCode"], 200,
        "{what}: {result}"
    );
    let request_id = result["SdkResponseMetadata"]["RequestId"].as_str();
    assert!(
        request_id.is_some_and(|id| !id.is_empty()),
        "{what} carries no request id: {result}"
    );
}

#[test]
fn a_workflow_reaches_every_service_and_catches_a_failing_call() {
    let Some(emulators) = emulators() else {
        return;
    };
    let integrations = integrations(&emulators);
    let sdk = Sdk::new(&emulators);
    let name = unique("all");
    let missing_table = format!("{name}-missing");
    let definition = json!({"StartAt": "CreateTable", "States": {
        "CreateTable": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:createTable",
            "Parameters": {"TableName.$": "$.name", "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]},
            "ResultSelector": {"Status.$": "$.TableDescription.TableStatus"},
            "ResultPath": "$.table", "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName.$": "$.name", "Item": {"id": {"S": "a"}, "n": {"N": "1"}}},
            "ResultPath": "$.put", "Next": "Update"},
        "Update": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {"TableName.$": "$.name", "Key": {"id": {"S": "a"}},
                "UpdateExpression": "SET n = n + :one, note = :note",
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":note": {"S.$": "$.note"}},
                "ReturnValues": "ALL_NEW"},
            "ResultPath": "$.updated", "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName.$": "$.name", "Key": {"id": {"S": "a"}}},
            "ResultPath": "$.got", "Next": "Queue"},
        "Queue": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sqs:createQueue",
            "Parameters": {"QueueName.$": "$.name"}, "ResultPath": "$.queue", "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl.$": "$.queue.QueueUrl",
                "MessageBody": {"hello.$": "$.got.Item.id.S", "n.$": "$.got.Item.n.N"}},
            "ResultPath": "$.sent", "Next": "Topic"},
        "Topic": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sns:createTopic",
            "Parameters": {"Name.$": "$.name"}, "ResultPath": "$.topic", "Next": "Publish"},
        "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn.$": "$.topic.TopicArn", "Message": {"a": 1}},
            "ResultPath": "$.published", "Next": "Events"},
        "Events": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {"Entries": [{"Source": "cairn.test", "DetailType": "t", "Detail": {"x": 1}}]},
            "ResultPath": "$.events", "Next": "Bucket"},
        "Bucket": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:createBucket",
            "Parameters": {"Bucket.$": "$.name"}, "ResultPath": null, "Next": "PutObject"},
        "PutObject": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"Bucket.$": "$.name", "Key": "a/b c.json", "Body": {"k": "v"}},
            "ResultPath": null, "Next": "GetObject"},
        "GetObject": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket.$": "$.name", "Key": "a/b c.json"},
            "ResultSelector": {"Body.$": "$.Body"}, "ResultPath": "$.object", "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName.$": "$.missing", "Key": {"id": {"S": "a"}}},
            "Catch": [{"ErrorEquals": ["DynamoDB.ResourceNotFoundException"],
                "ResultPath": "$.caught", "Next": "Done"}],
            "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let input = json!({"name": name, "missing": missing_table, "note": "hi"});
    let result = run(definition, input, &integrations);
    let output = succeeded(&result);

    assert_eq!(output["table"]["Status"], "ACTIVE", "{output}");
    assert_sdk_metadata(&output["put"], "putItem");
    assert_eq!(
        output["updated"]["Attributes"],
        json!({"id": {"S": "a"}, "n": {"N": "2"}, "note": {"S": "hi"}}),
        "{output}"
    );
    assert_sdk_metadata(&output["updated"], "updateItem");
    assert_eq!(
        output["got"]["Item"],
        json!({"id": {"S": "a"}, "n": {"N": "2"}, "note": {"S": "hi"}}),
        "{output}"
    );
    assert_sdk_metadata(&output["got"], "getItem");

    // DynamoDB Local, not moto (which serves DynamoDB too), holds the item.
    let item = sdk
        .runtime
        .block_on(
            sdk.dynamodb
                .get_item()
                .table_name(&name)
                .key("id", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
                .consistent_read(true)
                .send(),
        )
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("DynamoDB Local has no item 'a' in {name}"));
    assert_eq!(
        item.get("n")
            .and_then(|n| n.as_n().ok())
            .map(String::as_str),
        Some("2")
    );
    assert_eq!(
        item.get("note")
            .and_then(|n| n.as_s().ok())
            .map(String::as_str),
        Some("hi")
    );

    // The message arrived, its object body sent as its JSON text, as Step Functions sends it.
    assert_sdk_metadata(&output["sent"], "sendMessage");
    let queue_url = output["queue"]["QueueUrl"].as_str().unwrap();
    let received = sdk
        .runtime
        .block_on(
            sdk.sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send(),
        )
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        messages[0].body(),
        Some(json!({"hello": "a", "n": "2"}).to_string().as_str())
    );
    assert_eq!(
        messages[0].message_id(),
        output["sent"]["MessageId"].as_str(),
        "{output}"
    );
    assert!(
        output["sent"]["MD5OfMessageBody"]
            .as_str()
            .is_some_and(|md5| md5.len() == 32),
        "{output}"
    );

    assert_sdk_metadata(&output["published"], "publish");
    assert!(
        output["published"]["MessageId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{output}"
    );
    assert_eq!(output["events"]["FailedEntryCount"], 0, "{output}");
    assert!(
        output["events"]["Entries"][0]["EventId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{output}"
    );
    assert_eq!(output["object"]["Body"], r#"{"k":"v"}"#, "{output}");

    assert_eq!(
        output["caught"]["Error"], "DynamoDB.ResourceNotFoundException",
        "{output}"
    );
    assert_sdk_v1_cause(
        output["caught"]["Cause"].as_str().unwrap(),
        "AmazonDynamoDBv2",
        400,
        "ResourceNotFoundException",
    );
}

#[test]
fn aws_sdk_errors_are_named_as_step_functions_names_them() {
    let Some(emulators) = emulators() else {
        return;
    };
    let integrations = integrations(&emulators);
    let name = unique("errors");
    // Each call fails and is caught into its own field, so one run shows every answer; a call
    // that succeeded would leave its field missing.
    let caught = |resource: &str, parameters: Value, field: &str, next: &str| {
        json!({"Type": "Task", "Resource": format!("arn:aws:states:::{resource}"),
            "Parameters": parameters,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": format!("$.{field}"), "Next": next}],
            "Next": next})
    };
    let definition = json!({"StartAt": "S3", "States": {
        "S3": caught("aws-sdk:s3:getObject",
            json!({"Bucket.$": "$.name", "Key": "k"}), "s3", "DynamoDb"),
        "DynamoDb": caught("aws-sdk:dynamodb:getItem",
            json!({"TableName.$": "$.name", "Key": {"id": {"S": "a"}}}), "dynamodb", "Sns"),
        "Sns": caught("sns:publish",
            json!({"TopicArn.$": "States.Format('arn:aws:sns:us-east-1:123456789012:{}', $.name)",
                "Message": "m"}), "sns", "Sqs"),
        "Sqs": caught("sqs:sendMessage",
            json!({"QueueUrl.$": "$.queue_url", "MessageBody": "m"}), "sqs", "SqsSdk"),
        "SqsSdk": caught("aws-sdk:sqs:getQueueUrl",
            json!({"QueueName.$": "$.name"}), "sqs_sdk", "Done"),
        "Done": {"Type": "Succeed"}
    }});
    let input = json!({
        "name": name,
        "queue_url": format!("{}/123456789012/{name}", emulators.moto.trim_end_matches('/')),
    });
    let result = run(definition, input, &integrations);
    let output = succeeded(&result);
    let error = |field: &str| {
        let caught = &output[field];
        let error = caught["Error"]
            .as_str()
            .unwrap_or_else(|| panic!("the {field} call was not caught: {output}"));
        (
            error.to_owned(),
            caught["Cause"].as_str().unwrap().to_owned(),
        )
    };

    let (s3, cause) = error("s3");
    assert_eq!(s3, "S3.NoSuchBucketException", "{cause}");
    // S3 answers with an extended request id too, which the cause carries before the count.
    assert!(
        cause.contains(" (Service: S3, Status Code: 404, Request ID: ")
            && cause.ends_with(") (SDK Attempt Count: 1)"),
        "{cause}"
    );

    let (dynamodb, cause) = error("dynamodb");
    assert_eq!(dynamodb, "DynamoDb.ResourceNotFoundException", "{cause}");
    assert_sdk_v2_cause(&cause, "DynamoDb", 400);

    let (sns, cause) = error("sns");
    assert_eq!(sns, "SNS.NotFoundException", "{cause}");
    assert_sdk_v1_cause(&cause, "AmazonSNS", 404, "NotFound");

    // moto answers as SQS does over its JSON protocol: the shape's name (`QueueDoesNotExist`)
    // in the body and `x-amzn-ErrorType`, and the query-era code
    // `AWS.SimpleQueueService.NonExistentQueue` in `x-amzn-query-error`, which the SDKs report
    // as the error code: the code goes into the cause, the shape names the error.
    let (sqs, cause) = error("sqs");
    assert_eq!(sqs, "SQS.QueueDoesNotExistException", "{cause}");
    assert_sdk_v1_cause(
        &cause,
        "AmazonSQS",
        400,
        "AWS.SimpleQueueService.NonExistentQueue",
    );
    let (sqs_sdk, cause) = error("sqs_sdk");
    assert_eq!(sqs_sdk, "Sqs.QueueDoesNotExistException", "{cause}");
    assert_sdk_v2_cause(&cause, "Sqs", 400);
}

#[test]
fn events_put_events_with_a_failed_entry_fails_the_task() {
    let Some(emulators) = emulators() else {
        return;
    };
    let integrations = integrations(&emulators);
    // A string Detail goes to EventBridge as it is, and text that is not a JSON object is
    // refused per entry (HTTP 200, FailedEntryCount 1), not as an error answer.
    let definition = json!({"StartAt": "Events", "States": {
        "Events": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {"Entries": [
                {"Source": "cairn.test", "DetailType": "t", "Detail": "not json"}]},
            "End": true}
    }});
    let result = run(definition, json!({}), &integrations);
    assert_eq!(
        result.status,
        Status::Failed,
        "{:?}",
        result.output.as_ref()
    );
    assert_eq!(result.error.as_deref(), Some("EventBridge.FailedEntry"));
    let answer: Value = serde_json::from_str(result.cause.as_deref().unwrap()).unwrap();
    assert_eq!(answer["FailedEntryCount"], 1, "{answer}");
    assert_eq!(
        answer["Entries"][0]["ErrorCode"], "MalformedDetail",
        "{answer}"
    );
}

#[test]
fn a_map_of_40_calls_runs_them_all() {
    let Some(emulators) = emulators() else {
        return;
    };
    let integrations = integrations(&emulators);
    let sdk = Sdk::new(&emulators);
    let name = unique("map");
    let definition = json!({"StartAt": "CreateTable", "States": {
        "CreateTable": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:createTable",
            "Parameters": {"TableName.$": "$.name", "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]},
            "ResultPath": null, "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.ids",
            "ItemSelector": {"table.$": "$.name", "id.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Put",
                "States": {"Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                    "Parameters": {"TableName.$": "$.table", "Item": {"id": {"S.$": "$.id"}}},
                    "ResultSelector": {"Status.$": "$.SdkHttpMetadata.HttpStatusCode"},
                    "End": true}}},
            "ResultPath": "$.puts", "Next": "Count"},
        "Count": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:scan",
            "Parameters": {"TableName.$": "$.name", "Select": "COUNT"},
            "ResultSelector": {"Count.$": "$.Count"}, "ResultPath": "$.scan", "End": true}
    }});
    let ids: Vec<String> = (0..40).map(|i| format!("item-{i}")).collect();
    let result = run(definition, json!({"name": name, "ids": ids}), &integrations);
    let output = succeeded(&result);
    assert_eq!(
        output["puts"],
        Value::Array(vec![json!({"Status": 200}); 40]),
        "{output}"
    );
    assert_eq!(output["scan"]["Count"], 40, "{output}");

    let scanned = sdk
        .runtime
        .block_on(
            sdk.dynamodb
                .scan()
                .table_name(&name)
                .consistent_read(true)
                .send(),
        )
        .unwrap();
    let mut found: Vec<String> = scanned
        .items()
        .iter()
        .filter_map(|item| item.get("id").and_then(|id| id.as_s().ok()).cloned())
        .collect();
    found.sort();
    let mut expected = ids;
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn a_distributed_map_reads_its_items_from_s3() {
    let Some(emulators) = emulators() else {
        return;
    };
    let integrations = integrations(&emulators);
    let bucket = unique("items").to_lowercase();
    let task = |resource: &str, parameters: Value, next: &str| {
        json!({"Type": "Task", "Resource": format!("arn:aws:states:::aws-sdk:s3:{resource}"),
            "Parameters": parameters, "ResultPath": null, "Next": next})
    };
    let processor = json!({"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": true}}});
    let definition = json!({"StartAt": "Bucket", "States": {
        "Bucket": task("createBucket", json!({"Bucket": bucket}), "Rows"),
        "Rows": task("putObject", json!({"Bucket": bucket, "Key": "in/rows.csv",
            "Body": "sku,qty\nA,1\nB,2\n"}), "Other"),
        "Other": task("putObject", json!({"Bucket": bucket, "Key": "in/more.json", "Body": [1, 2]}), "Csv"),
        "Csv": {"Type": "Map", "ItemProcessor": processor,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                "Parameters": {"Bucket": bucket, "Key": "in/rows.csv"}},
            "ResultPath": "$.csv", "Next": "Listing"},
        "Listing": {"Type": "Map", "ItemProcessor": processor,
            "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                "Parameters": {"Bucket": bucket, "Prefix": "in/"}},
            "ItemSelector": {"key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size"},
            "ResultPath": "$.listing", "End": true}}});
    let result = run(definition, json!({}), &integrations);
    let output = succeeded(&result);
    assert_eq!(
        output["csv"],
        json!([{"sku": "A", "qty": "1"}, {"sku": "B", "qty": "2"}])
    );
    // S3 lists keys in order; sizes are the objects' bytes.
    assert_eq!(
        output["listing"],
        json!([{"key": "in/more.json", "size": 5}, {"key": "in/rows.csv", "size": 16}])
    );
}

#[test]
fn aws_sdk_tasks_reach_ssm_sts_secrets_manager_and_lambda_through_their_models() {
    let Some(emulators) = emulators() else {
        return;
    };
    let integrations = integrations(&emulators);
    let name = format!("/{}", unique("param"));
    let task = |resource: &str, parameters: Value, path: &str, next: Value| {
        let mut state = json!({"Type": "Task",
            "Resource": format!("arn:aws:states:::aws-sdk:{resource}"),
            "Parameters": parameters, "ResultPath": path});
        match next {
            Value::String(next) => state["Next"] = Value::String(next),
            _ => state["End"] = Value::Bool(true),
        }
        state
    };
    let definition = json!({"StartAt": "Put", "States": {
        // json 1.1 (SSM)
        "Put": task("ssm:putParameter", json!({"Name": name, "Value": "v-1", "Type": "String"}),
            "$.put", json!("Get")),
        "Get": task("ssm:getParameter", json!({"Name": name}), "$.got", json!("Who")),
        // query (STS)
        "Who": task("sts:getCallerIdentity", json!({}), "$.who", json!("Secret")),
        // json 1.1 (Secrets Manager)
        "Secret": task("secretsmanager:createSecret",
            json!({"Name": name.trim_start_matches('/'), "SecretString": "s3cr3t"}), "$.secret",
            json!("Read")),
        "Read": task("secretsmanager:getSecretValue",
            json!({"SecretId": name.trim_start_matches('/')}), "$.read", json!("Functions")),
        // rest-json (Lambda)
        "Functions": task("lambda:listFunctions", json!({}), "$.functions", Value::Null)}});
    let result = run(definition, json!({}), &integrations);
    let output = succeeded(&result);
    assert_eq!(output["put"]["Version"], 1, "{output}");
    assert_eq!(output["got"]["Parameter"]["Value"], "v-1", "{output}");
    assert_eq!(
        output["got"]["Parameter"]["Name"],
        name.as_str(),
        "{output}"
    );
    assert_eq!(output["who"]["Account"], "123456789012", "{output}");
    assert!(output["who"]["Arn"].is_string(), "{output}");
    assert_eq!(output["read"]["SecretString"], "s3cr3t", "{output}");
    assert!(output["functions"]["Functions"].is_array(), "{output}");
}
