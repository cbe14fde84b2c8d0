//! One file per state type: what the state does once entered, and how it resumes.

mod choice;
mod fail;
mod fanout;
mod map;
mod parallel;
mod pass;
mod read;
mod succeed;
mod task;
mod wait;
