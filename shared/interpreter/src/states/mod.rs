//! One file per state type: what the state does once entered, and how it resumes.

mod choice;
mod fail;
mod fanout;
mod jsonata;
mod map;
mod parallel;
mod pass;
mod read;
mod succeed;
pub(crate) mod task;
pub(crate) mod wait;
mod write;
