//! What the emulator tests share: whether DynamoDB Local and moto are there to test against.

/// True when `tests/emulators/start.sh` started the emulators (it exports their endpoints).
/// Without them a test skips, saying why, unless `CAIRN_REQUIRE_EMULATORS=1` (set by the
/// README's test command), where a missing emulator is a failure.
pub fn emulators() -> bool {
    cairn_test_support::emulators().is_some()
}

/// Creates SQS queue `name` (moto): its URL and ARN.
// Not every test crate that includes this module creates queues.
#[allow(dead_code)]
pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url
        .unwrap_or_default();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap_or_default();
    (url, arn)
}
