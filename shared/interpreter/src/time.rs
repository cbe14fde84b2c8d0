//! RFC 3339 timestamps without a clock: parsing Wait `Timestamp`s (to the millisecond of the
//! timer; the Choice rules read the same texts to the nanosecond) and formatting `$$` times.

/// Epoch milliseconds of an ASL timestamp (`2016-12-05T21:29:29Z`, `...T21:29:29.5+01:00`);
/// `None` when the text is not one (AWS requires the offset).
pub(crate) use cairn_common::timestamp::parse_millis as parse_timestamp;

/// `2024-02-07T13:50:28.123Z`: how AWS writes times in the context object.
pub(crate) use cairn_common::civil::rfc3339_millis as format_timestamp;
