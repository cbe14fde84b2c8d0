#![forbid(unsafe_code)]
//! Ports and the in-memory run loop for one process (`cairn run`, Express).
