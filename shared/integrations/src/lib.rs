#![forbid(unsafe_code)]
//! Task states reach AWS services. One invoker serves `cairn run`, `cairn serve` and the
//! Lambda functions alike: the optimized integrations (Lambda, SNS, SQS, EventBridge,
//! DynamoDB) and `arn:aws:states:::aws-sdk:<service>:<action>`, which is driven by the
//! services' published API models ([`model`]) through their wire protocols ([`protocol`]).

pub mod model;
pub mod protocol;
