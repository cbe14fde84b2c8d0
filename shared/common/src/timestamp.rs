//! Timestamps as the Amazon States Language reads them (a Wait state's `Timestamp`, the Choice
//! rules' `Timestamp…` comparisons): RFC 3339 with an uppercase `T` separator and an uppercase
//! `Z` or a numeric offset.

use crate::civil::{days_from_civil, days_in_month};

/// Parses an ASL timestamp into nanoseconds since the Unix epoch (UTC).
///
/// Accepts `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`. Rejects a missing zone, a space or
/// lowercase separator, a lowercase `z`, an empty fraction and out-of-range fields
/// (`2016-12-05T25:29:29Z`, `2015-02-29T00:00:00Z`, a leap second, an offset past `±23:59`),
/// as AWS does. Fraction digits beyond nanoseconds are read and dropped.
pub fn parse_nanos(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Only ASCII digits: the text is UTF-8 and parses.
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let year = digits(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let month = u32::try_from(digits(5, 2)?).ok()?;
    let day = u32::try_from(digits(8, 2)?).ok()?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let hour = digits(11, 2)?;
    let minute = digits(14, 2)?;
    let second = digits(17, 2)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut pos = 19;
    let mut nanos: i128 = 0;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let fraction = b.get(start..pos)?;
        if fraction.is_empty() {
            return None;
        }
        for (i, d) in fraction.iter().take(9).enumerate() {
            let exp = u32::try_from(8 - i).ok()?;
            nanos += i128::from(d - b'0') * 10i128.pow(exp);
        }
    }
    let offset_minutes: i64 = match b.get(pos) {
        Some(b'Z') if pos + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if pos + 6 == b.len() && b.get(pos + 3) == Some(&b':') => {
            let hours = digits(pos + 1, 2)?;
            let minutes = digits(pos + 4, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 60 + minutes;
            if *sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// [`parse_nanos`] in milliseconds since the Unix epoch, the precision of a Wait state's timer:
/// the same texts are accepted, and the instant is rounded down to its millisecond.
pub fn parse_millis(text: &str) -> Option<i64> {
    parse_nanos(text).and_then(|nanos| i64::try_from(nanos.div_euclid(1_000_000)).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_offsets() {
        assert_eq!(parse_nanos("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_nanos("2016-03-14T01:59:00Z"),
            Some(1_457_920_740 * 1_000_000_000)
        );
        assert_eq!(
            parse_nanos("2016-03-14T03:59:00+02:00"),
            parse_nanos("2016-03-14T01:59:00Z")
        );
        assert_eq!(
            parse_nanos("2016-03-13T23:59:00-02:00"),
            parse_nanos("2016-03-14T01:59:00Z")
        );
        assert_eq!(parse_nanos("1970-01-01T00:00:00.5Z"), Some(500_000_000));
        assert_eq!(
            parse_nanos("1970-01-01T00:00:00.123456789123Z"),
            Some(123_456_789)
        );
        assert_eq!(
            parse_nanos("9999-12-31T23:59:59-23:59").map(|n| n > 0),
            Some(true)
        );
        assert_eq!(
            parse_nanos("0000-01-01T00:00:00Z"),
            Some(-62_167_219_200 * 1_000_000_000)
        );
    }

    #[test]
    fn milliseconds() {
        let ms = parse_millis("2016-12-05T21:29:29Z").unwrap();
        assert_eq!(ms, 1_480_973_369_000);
        assert_eq!(
            parse_millis("2016-12-05T22:29:29.5+01:00"),
            Some(1_480_973_369_500)
        );
        assert_eq!(
            parse_millis("2016-12-05T21:29:29.1239Z"),
            Some(1_480_973_369_123)
        );
        // Before the epoch too, the fraction is truncated, not rounded towards zero.
        assert_eq!(parse_millis("1969-12-31T23:59:59.5Z"), Some(-500));
        assert_eq!(parse_millis("1969-12-31T23:59:59.0005Z"), Some(-1000));
        assert_eq!(parse_millis("2016-12-05T21:29:29"), None);
    }

    #[test]
    fn leap_days() {
        assert!(parse_nanos("2016-02-29T00:00:00Z").is_some());
        assert!(parse_nanos("2000-02-29T00:00:00Z").is_some());
        assert_eq!(parse_nanos("1900-02-29T00:00:00Z"), None);
        assert_eq!(parse_nanos("2015-02-29T00:00:00Z"), None);
        assert_eq!(parse_nanos("2016-04-31T00:00:00Z"), None);
    }

    #[test]
    fn rejects_what_aws_rejects() {
        // The Wait state corpus cases AWS refused, and the other malformed shapes.
        for bad in [
            "2016-12-05T25:29:29Z",
            "2016-12-05T21:29:29",
            "2016-12-05 21:29:29Z",
            "05-12-2016T21:29:29Z",
            "2016-13-05T21:29:29Z",
            "2016-00-05T21:29:29Z",
            "2016-12-00T21:29:29Z",
            "2015-02-29T00:00:00Z",
            "2016-03-14t01:59:00z",
            "2016-03-14T01:59:00z",
            "2016-03-14T01:60:00Z",
            "2016-03-14T01:59:60Z",
            "2016-03-14T01:59:00.Z",
            "2016-03-14T01:59:00+0200",
            "2016-03-14T01:59:00+24:00",
            "2016-03-14T01:59:00+02:60",
            "2016-03-14T01:59:00+02:00Z",
            "2016-03-14T01:59:00Z ",
            "+016-03-14T01:59:00Z",
            "2016-3-14T01:59:00Z",
            "",
        ] {
            assert_eq!(parse_nanos(bad), None, "{bad}");
            assert_eq!(parse_millis(bad), None, "{bad}");
        }
    }
}
