#![forbid(unsafe_code)]
//! The pure decider. See ARCHITECTURE.md.
