#![forbid(unsafe_code)]
//! The Amazon States Language: the typed model of a definition ([`model`]) and
//! CreateStateMachine's validation with AWS's diagnostics and messages ([`validate`]).

pub mod json;
pub mod model;
pub mod validate;
