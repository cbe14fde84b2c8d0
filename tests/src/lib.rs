#![forbid(unsafe_code)]
//! Shared pieces of the conformance harness: finding and reading the AWS-recorded corpus,
//! comparing results with recordings, and the known-failures lists with the honest tally
//! of a replay.

pub mod compare;
pub mod corpus;
pub mod known;
pub mod replay;
