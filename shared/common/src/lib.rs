#![forbid(unsafe_code)]
//! The small utilities several Cairn crates need, written once: calendar arithmetic and
//! timestamp text ([`civil`], [`timestamp`]), [`base64`], [`hex`] and the seeded generator
//! behind ids, jitter and `States.UUID` ([`entropy`]).
//!
//! Everything here is pure and has no dependencies, so any crate of the workspace, down to the
//! language crates, can use it without pulling anything else in.
//!
//! ```
//! use cairn_common::{base64, civil, entropy, timestamp};
//!
//! let ms = timestamp::parse_millis("2016-12-05T22:29:29.5+01:00").unwrap();
//! assert_eq!(civil::rfc3339_millis(ms), "2016-12-05T21:29:29.500Z");
//! assert_eq!(civil::http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
//! assert_eq!(base64::encode(b"foo"), "Zm9v");
//! assert_eq!(entropy::uuid_from_bits(0, 0), "00000000-0000-4000-8000-000000000000");
//! ```

pub mod base64;
pub mod civil;
pub mod entropy;
pub mod hex;
pub mod timestamp;
