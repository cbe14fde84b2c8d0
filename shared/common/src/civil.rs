//! Proleptic Gregorian calendar arithmetic in UTC, without a clock or a time-zone database,
//! and the two ways Cairn writes an instant as text: RFC 3339 with milliseconds (AWS's context
//! object and API times) and the HTTP date (Lambda's `Date` header).
//!
//! Days count from 1970-01-01 (day 0) and may be negative; years may be zero or negative
//! (astronomical numbering: year 0 is 1 BC), as Howard Hinnant's algorithms allow.

/// Whether `year` has a 29 February.
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days of `month` (1 to 12) in `year`. Any other month counts as February, so
/// callers check the month's range first.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap_year(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a date (month 1 to 12; `day` may run past the month's end, which
/// counts on into the next one), by Howard Hinnant's `days_from_civil`.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let month = i64::from(month);
    // The computation runs on years that start in March, so that the leap day is the last day.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date (year, month 1 to 12, day 1 to 31) of a count of days since 1970-01-01, by Howard
/// Hinnant's `civil_from_days`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    // Both are in range by construction (1..=31 and 1..=12), so the narrowing is exact.
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The day of the week of a count of days since 1970-01-01: 0 is Sunday, as JavaScript's
/// `getUTCDay()` (1970-01-01 was a Thursday, 4).
pub fn weekday(days: i64) -> u32 {
    // rem_euclid(7) is in 0..7, so the narrowing is exact.
    (days + 4).rem_euclid(7) as u32
}

/// An instant in UTC broken into its calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millisecond: u32,
    /// 0 (Sunday) to 6 (Saturday).
    pub weekday: u32,
}

impl UtcDateTime {
    /// The fields of an instant given in milliseconds since the Unix epoch (negative before it).
    pub fn from_epoch_ms(ms: i64) -> UtcDateTime {
        let secs = ms.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        // Each remainder is non-negative and below 86,400 or 1,000: the narrowing is exact.
        let second_of_day = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        UtcDateTime {
            year,
            month,
            day,
            hour: second_of_day / 3600,
            minute: second_of_day / 60 % 60,
            second: second_of_day % 60,
            millisecond: ms.rem_euclid(1000) as u32,
            weekday: weekday(days),
        }
    }
}

/// `2024-02-07T13:50:28.123Z`: how AWS writes times in the context object (`$$`).
pub fn rfc3339_millis(epoch_ms: i64) -> String {
    let t = UtcDateTime::from_epoch_ms(epoch_ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.millisecond
    )
}

/// RFC 7231's IMF-fixdate (`Wed, 25 Nov 2026 09:30:00 GMT`), as Lambda's `Date` header.
pub fn http_date(epoch_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = UtcDateTime::from_epoch_ms(epoch_ms);
    let weekday = DAYS.get(t.weekday as usize).copied().unwrap_or("Thu");
    let month = MONTHS
        .get((t.month as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{weekday}, {:02} {month} {} {:02}:{:02}:{:02} GMT",
        t.day, t.year, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_years_follow_the_gregorian_rules() {
        assert!(is_leap_year(2024));
        assert!(!is_leap_year(2023));
        assert!(!is_leap_year(1900));
        assert!(is_leap_year(2000));
        assert!(is_leap_year(0));
        assert!(is_leap_year(-4));
        assert!(!is_leap_year(-100));
        assert!(is_leap_year(-400));
    }

    #[test]
    fn month_lengths() {
        let lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        for (month, length) in (1..=12).zip(lengths) {
            assert_eq!(days_in_month(2023, month), length, "month {month}");
        }
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
    }

    #[test]
    fn days_from_civil_exact_values() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2018, 2, 1), 17_563);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(2024, 3, 1), 19_783);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
        assert_eq!(days_from_civil(0, 3, 1), -719_468);
        assert_eq!(days_from_civil(0, 2, 29), -719_469);
        assert_eq!(days_from_civil(-1, 12, 31), -719_529);
        // A day past the month's end counts on: 31 February 2023 is 3 March.
        assert_eq!(days_from_civil(2023, 2, 31), days_from_civil(2023, 3, 3));
    }

    #[test]
    fn civil_from_days_exact_values() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(17_563), (2018, 2, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
        assert_eq!(civil_from_days(-719_469), (0, 2, 29));
        assert_eq!(civil_from_days(-719_529), (-1, 12, 31));
    }

    #[test]
    fn dates_round_trip() {
        for days in (-800_000..800_000).step_by(7) {
            let (year, month, day) = civil_from_days(days);
            assert!((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month));
            assert_eq!(
                days_from_civil(year, month, day),
                days,
                "{year}-{month}-{day}"
            );
        }
    }

    #[test]
    fn weekdays() {
        assert_eq!(weekday(0), 4, "1970-01-01 was a Thursday");
        assert_eq!(weekday(-1), 3);
        assert_eq!(weekday(3), 0);
        assert_eq!(weekday(days_from_civil(2024, 2, 29)), 4);
        assert_eq!(weekday(days_from_civil(2000, 1, 1)), 6);
    }

    #[test]
    fn instants_split_into_fields() {
        assert_eq!(
            UtcDateTime::from_epoch_ms(1_709_251_199_999),
            UtcDateTime {
                year: 2024,
                month: 2,
                day: 29,
                hour: 23,
                minute: 59,
                second: 59,
                millisecond: 999,
                weekday: 4,
            }
        );
        // Before the epoch the fields still count forwards from midnight.
        let t = UtcDateTime::from_epoch_ms(-1);
        assert_eq!((t.year, t.month, t.day), (1969, 12, 31));
        assert_eq!(
            (t.hour, t.minute, t.second, t.millisecond),
            (23, 59, 59, 999)
        );
    }

    #[test]
    fn rfc3339_text() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_480_973_369_000),
            "2016-12-05T21:29:29.000Z"
        );
        assert_eq!(
            rfc3339_millis(1_707_313_828_123),
            "2024-02-07T13:50:28.123Z"
        );
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            rfc3339_millis(-62_167_219_200_000),
            "0000-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn http_date_text() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(1_764_063_000_000),
            "Tue, 25 Nov 2025 09:30:00 GMT"
        );
        assert_eq!(
            http_date(1_709_251_199_999),
            "Thu, 29 Feb 2024 23:59:59 GMT"
        );
        assert_eq!(http_date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
    }
}
