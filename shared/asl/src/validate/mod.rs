//! Validation of a raw definition (serde_json::Value) with AWS's codes, locations and messages.
