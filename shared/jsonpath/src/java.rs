//! The few Java behaviours Jayway's filters inherit: `BigDecimal` parsing and printing,
//! `Double.toString`, UTF-16 string order and Jayway's own string unescaping.
//!
//! They only matter where a filter crosses types (a number against a string, a regex
//! applied to a number), so none of this runs for ordinary comparisons.

use std::borrow::Cow;
use std::cmp::Ordering;

/// A decimal as `java.math.BigDecimal` holds it: an unscaled coefficient and a scale
/// (value = coefficient × 10^-scale).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decimal {
    negative: bool,
    /// Decimal digits of the coefficient without leading zeros ("0" for zero).
    coefficient: String,
    scale: i64,
}

/// Exponents past this are refused rather than risking huge strings; `BigDecimal` itself
/// stops at the `int` range, and no JSON document gets near either.
const MAX_EXPONENT: i64 = 100_000;

impl Decimal {
    /// `new BigDecimal(text)`: an optional sign, digits with at most one `.`, at least
    /// one digit, and an optional exponent. No surrounding whitespace.
    pub(crate) fn parse(text: &str) -> Option<Decimal> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut negative = false;
        match bytes.first() {
            Some(b'-') => {
                negative = true;
                i += 1;
            }
            Some(b'+') => i += 1,
            _ => {}
        }
        let mut digits = String::new();
        let mut fraction_len: i64 = 0;
        let mut seen_point = false;
        let mut any_digit = false;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'0'..=b'9' => {
                    any_digit = true;
                    if !(digits.is_empty() && b == b'0') {
                        digits.push(char::from(b));
                    }
                    if seen_point {
                        fraction_len += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => break,
            }
            i += 1;
        }
        if !any_digit {
            return None;
        }
        let mut exponent: i64 = 0;
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = match bytes.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let start = i;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                exponent = exponent
                    .saturating_mul(10)
                    .saturating_add(i64::from(bytes[i] - b'0'));
                i += 1;
            }
            if i == start || exponent > MAX_EXPONENT {
                return None;
            }
            if exp_negative {
                exponent = -exponent;
            }
        }
        if i != bytes.len() {
            return None;
        }
        if digits.is_empty() {
            digits.push('0');
        }
        Some(Decimal {
            negative: negative && digits != "0",
            coefficient: digits,
            scale: fraction_len - exponent,
        })
    }

    /// The decimal `Double.toString(value)` prints, read back as a `BigDecimal`:
    /// how Jayway turns a JSON floating-point number into a filter number.
    pub(crate) fn from_f64(value: f64) -> Decimal {
        if value == 0.0 || !value.is_finite() {
            return Decimal {
                negative: false,
                coefficient: "0".to_owned(),
                scale: 1,
            };
        }
        // Rust and Java (since 19) both print the shortest digits that read back exactly.
        let sci = format!("{:e}", value.abs());
        let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
        let exp: i64 = exp.parse().unwrap_or(0);
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let len = i64::try_from(digits.len()).unwrap_or(1);
        let magnitude = value.abs();
        let (coefficient, scale) = if (1e-3..1e7).contains(&magnitude) {
            // Plain notation with at least one fractional digit ("100.0", "0.001").
            let e = exp - (len - 1);
            if e >= 0 {
                let zeros = usize::try_from(e + 1).unwrap_or(0);
                (format!("{digits}{}", "0".repeat(zeros)), 1)
            } else {
                (digits, -e)
            }
        } else {
            // Computerized scientific notation ("1.0E10", "1.234E-5").
            let coefficient = if digits.len() == 1 {
                format!("{digits}0")
            } else {
                digits
            };
            let fraction = i64::try_from(coefficient.len()).unwrap_or(1) - 1;
            (coefficient, fraction - exp)
        };
        let coefficient = coefficient.trim_start_matches('0');
        Decimal {
            negative: value < 0.0,
            coefficient: if coefficient.is_empty() {
                "0".to_owned()
            } else {
                coefficient.to_owned()
            },
            scale,
        }
    }

    /// The value as a double (for comparisons).
    pub(crate) fn to_f64(&self) -> f64 {
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{}e{}", self.coefficient, -self.scale)
            .parse()
            .unwrap_or(f64::NAN)
    }

    /// The value as an integer when it is one and fits.
    pub(crate) fn to_int(&self) -> Option<i128> {
        let mut digits = self.coefficient.as_str();
        let mut scale = self.scale;
        while scale > 0 && digits.len() > 1 && digits.ends_with('0') {
            digits = &digits[..digits.len() - 1];
            scale -= 1;
        }
        if scale > 0 && digits != "0" {
            return None;
        }
        let zeros = usize::try_from(-scale.min(0)).ok()?;
        if digits.len() + zeros > 38 {
            return None;
        }
        let magnitude: i128 = format!("{digits}{}", "0".repeat(zeros)).parse().ok()?;
        Some(if self.negative { -magnitude } else { magnitude })
    }

    /// `BigDecimal.toString()`: plain notation unless the exponent is large or the scale
    /// negative, then `d.dddE+n`.
    pub(crate) fn to_java_string(&self) -> String {
        let coefficient = self.coefficient.as_str();
        let len = i64::try_from(coefficient.len()).unwrap_or(1);
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        if self.scale == 0 {
            out.push_str(coefficient);
            return out;
        }
        let adjusted = -self.scale + (len - 1);
        if self.scale > 0 && adjusted >= -6 {
            let point = len - self.scale;
            if point > 0 {
                let (int, frac) = coefficient.split_at(usize::try_from(point).unwrap_or(0));
                out.push_str(int);
                out.push('.');
                out.push_str(frac);
            } else {
                out.push_str("0.");
                out.push_str(&"0".repeat(usize::try_from(-point).unwrap_or(0)));
                out.push_str(coefficient);
            }
            return out;
        }
        let (first, rest) = coefficient.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        if adjusted != 0 {
            out.push('E');
            if adjusted > 0 {
                out.push('+');
            }
            out.push_str(&adjusted.to_string());
        }
        out
    }
}

/// `String.compareTo`: Java strings order by UTF-16 code units, which differs from
/// code-point order for characters beyond the Basic Multilingual Plane.
pub(crate) fn compare_strings(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `String.length()`, in UTF-16 code units.
pub(crate) fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Java's `String.trim()`: strips every character up to U+0020 at both ends.
pub(crate) fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Jayway's `Utils.unescape`, applied to quoted string literals in filters: `\n`, `\t`,
/// `\r`, `\f`, `\b`, `\uXXXX`, and a backslash before any other character keeps that
/// character. `None` when a `\u` escape is not hexadecimal (Jayway fails the path).
pub(crate) fn unescape(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('\\') {
        return Some(Cow::Borrowed(s));
    }
    let mut units: Vec<u16> = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    let mut buf = [0u16; 2];
    let push = |units: &mut Vec<u16>, c: char, buf: &mut [u16; 2]| {
        units.extend_from_slice(c.encode_utf16(buf));
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            push(&mut units, c, &mut buf);
            continue;
        }
        match chars.next() {
            None => push(&mut units, '\\', &mut buf),
            Some('n') => units.push(u16::from(b'\n')),
            Some('t') => units.push(u16::from(b'\t')),
            Some('r') => units.push(u16::from(b'\r')),
            Some('f') => units.push(0x0c),
            Some('b') => units.push(0x08),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if hex.chars().count() < 4 {
                    // Jayway drops a `\u` cut short by the end of the string.
                    continue;
                }
                units.push(u16::from_str_radix(&hex, 16).ok()?);
            }
            Some(other) => push(&mut units, other, &mut buf),
        }
    }
    // `\u` escapes may form surrogate pairs, as in Java; a lone surrogate cannot be
    // held by a Rust string and becomes U+FFFD.
    Some(Cow::Owned(String::from_utf16_lossy(&units)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn java(text: &str) -> String {
        Decimal::parse(text)
            .map(|d| d.to_java_string())
            .unwrap_or_default()
    }

    #[test]
    fn big_decimal_round_trips_like_java() {
        assert_eq!(java("1"), "1");
        assert_eq!(java("001"), "1");
        assert_eq!(java("1.0"), "1.0");
        assert_eq!(java("-0"), "0");
        assert_eq!(java("1e2"), "1E+2");
        assert_eq!(java("1.0E10"), "1.0E+10");
        assert_eq!(java("1.0E-5"), "0.000010");
        assert_eq!(java("1.0E-7"), "1.0E-7");
        assert_eq!(java(".5"), "0.5");
        assert_eq!(java("5."), "5");
        assert_eq!(java("+7"), "7");
        for bad in [
            "", "-", ".", "1e", "1.2.3", " 1", "1 ", "0x10", "Infinity", "1e+",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn doubles_print_like_java() {
        let s = |v: f64| Decimal::from_f64(v).to_java_string();
        assert_eq!(s(1.0), "1.0");
        assert_eq!(s(0.1), "0.1");
        assert_eq!(s(100.0), "100.0");
        assert_eq!(s(1234567.0), "1234567.0");
        assert_eq!(s(1e7), "1.0E+7");
        assert_eq!(s(1e10), "1.0E+10");
        assert_eq!(s(0.001), "0.001");
        assert_eq!(s(1e-4), "0.00010");
        assert_eq!(s(-2.5), "-2.5");
        assert_eq!(s(1.5e-9), "1.5E-9");
    }

    #[test]
    fn integers_and_values() {
        assert_eq!(Decimal::parse("1.50").unwrap().to_int(), None);
        assert_eq!(Decimal::parse("3.00").unwrap().to_int(), Some(3));
        assert_eq!(Decimal::parse("-1e3").unwrap().to_int(), Some(-1000));
        assert_eq!(Decimal::parse("2.5").unwrap().to_f64(), 2.5);
        assert_eq!(Decimal::parse("-42").unwrap().to_java_string(), "-42");
    }

    #[test]
    fn strings_follow_java() {
        assert_eq!(compare_strings("a", "b"), Ordering::Less);
        // U+FFFD sorts after a surrogate pair in UTF-16, before it in code points.
        assert_eq!(compare_strings("\u{FFFD}", "\u{1F600}"), Ordering::Greater);
        assert_eq!(utf16_len("a\u{1F600}"), 3);
        assert_eq!(unescape(r"a\'b").as_deref(), Some("a'b"));
        assert_eq!(unescape(r"\u0041\n\\").as_deref(), Some("A\n\\"));
        assert_eq!(unescape(r"\ud83d\ude00").as_deref(), Some("\u{1F600}"));
        assert_eq!(unescape(r"x\").as_deref(), Some("x\\"));
        assert!(unescape(r"\uZZZZ").is_none());
    }
}
