#![forbid(unsafe_code)]
//! ASL data flow for JSONPath states. See the contract in the crate's README section of ARCHITECTURE.md.
