//! Date/time and integer pictures (XPath F&O 3.1 §9.8 as jsonata-js implements them):
//! `$fromMillis`, `$toMillis`, `$now`, `$formatInteger`, `$parseInteger`.

use cairn_common::civil;

use crate::eval::{Evaluator, Frame};
use crate::value::Value;
use crate::Error;

type R = Result<Option<Value>, Error>;
type Args<'a> = &'a [Option<Value>];

const FEW: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const ORDINALS: [&str; 20] = [
    "Zeroth",
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Sixth",
    "Seventh",
    "Eighth",
    "Ninth",
    "Tenth",
    "Eleventh",
    "Twelfth",
    "Thirteenth",
    "Fourteenth",
    "Fifteenth",
    "Sixteenth",
    "Seventeenth",
    "Eighteenth",
    "Nineteenth",
];
const DECADES: [&str; 9] = [
    "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety", "Hundred",
];
const MAGNITUDES: [&str; 4] = ["Thousand", "Million", "Billion", "Trillion"];
const DAYS: [&str; 8] = [
    "",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DECIMAL_GROUPS: [u32; 37] = [
    0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
    0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80,
    0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0xFF10,
];
const MILLIS_IN_DAY: f64 = 86_400_000.0;

fn number_to_words(value: f64, ordinal: bool) -> String {
    fn lookup(num: f64, prev: bool, ord: bool) -> String {
        let idx = |n: f64| n as usize;
        if num <= 19.0 {
            let w = if ord {
                ORDINALS[idx(num).min(19)]
            } else {
                FEW[idx(num).min(19)]
            };
            format!("{}{}", if prev { " and " } else { "" }, w)
        } else if num < 100.0 {
            let tens = (num / 10.0).floor();
            let rem = num % 10.0;
            let mut words = format!(
                "{}{}",
                if prev { " and " } else { "" },
                DECADES[(idx(tens) - 2).min(8)]
            );
            if rem > 0.0 {
                words.push('-');
                words.push_str(&lookup(rem, false, ord));
            } else if ord {
                words.pop();
                words.push_str("ieth");
            }
            words
        } else if num < 1000.0 {
            let hundreds = (num / 100.0).floor();
            let rem = num % 100.0;
            let mut words = format!(
                "{}{} Hundred",
                if prev { ", " } else { "" },
                FEW[idx(hundreds).min(19)]
            );
            if rem > 0.0 {
                words.push_str(&lookup(rem, true, ord));
            } else if ord {
                words.push_str("th");
            }
            words
        } else {
            let mut mag = (num.log10() / 3.0).floor() as usize;
            if mag > MAGNITUDES.len() {
                mag = MAGNITUDES.len();
            }
            let factor = 10f64.powi(mag as i32 * 3);
            let mant = (num / factor).floor();
            let rem = num - mant * factor;
            let mut words = format!(
                "{}{} {}",
                if prev { ", " } else { "" },
                lookup(mant, false, false),
                MAGNITUDES[mag.saturating_sub(1)]
            );
            if rem > 0.0 {
                words.push_str(&lookup(rem, true, ord));
            } else if ord {
                words.push_str("th");
            }
            words
        }
    }
    lookup(value, false, ordinal)
}

/// `wordValues` in insertion order (the parse regex alternates in this order).
fn word_values() -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = Vec::new();
    let mut put = |k: String, n: f64| {
        if let Some(e) = v.iter_mut().find(|(x, _)| *x == k) {
            e.1 = n;
        } else {
            v.push((k, n));
        }
    };
    for (i, w) in FEW.iter().enumerate() {
        put(w.to_lowercase(), i as f64);
    }
    for (i, w) in ORDINALS.iter().enumerate() {
        put(w.to_lowercase(), i as f64);
    }
    for (i, w) in DECADES.iter().enumerate() {
        let lw = w.to_lowercase();
        let val = ((i + 2) * 10) as f64;
        put(lw.clone(), val);
        put(format!("{}ieth", &lw[..lw.len() - 1]), val);
    }
    put("hundredth".into(), 100.0);
    for (i, w) in MAGNITUDES.iter().enumerate() {
        let lw = w.to_lowercase();
        let val = 10f64.powi((i as i32 + 1) * 3);
        put(lw.clone(), val);
        put(format!("{lw}th"), val);
    }
    v
}

fn words_to_number(text: &str) -> f64 {
    let values = word_values();
    let splitter = regex::Regex::new(r",\s|\sand\s|[\s\\-]").ok();
    let parts: Vec<&str> = match &splitter {
        Some(re) => re.split(text).collect(),
        None => vec![text],
    };
    let mut segs: Vec<f64> = vec![0.0];
    for part in parts {
        let value = values.iter().find(|(k, _)| k == part).map(|(_, v)| *v);
        match value {
            Some(value) if value < 100.0 => {
                let mut top = segs.pop().unwrap_or(0.0);
                if top >= 1000.0 {
                    segs.push(top);
                    top = 0.0;
                }
                segs.push(top + value);
            }
            Some(value) => {
                let top = segs.pop().unwrap_or(0.0);
                segs.push(top * value);
            }
            None => {
                // JS: comparisons with undefined are false, `x * undefined` is NaN.
                let top = segs.pop().unwrap_or(0.0);
                segs.push(top * f64::NAN);
            }
        }
    }
    segs.iter().sum()
}

const ROMAN: [(u64, &str); 13] = [
    (1000, "m"),
    (900, "cm"),
    (500, "d"),
    (400, "cd"),
    (100, "c"),
    (90, "xc"),
    (50, "l"),
    (40, "xl"),
    (10, "x"),
    (9, "ix"),
    (5, "v"),
    (4, "iv"),
    (1, "i"),
];

fn decimal_to_roman(mut value: u64) -> String {
    // Thousands are written as repeated `m`; keep absurd values from producing huge strings.
    value = value.min(1_000_000);
    let mut out = String::new();
    'outer: while value > 0 {
        for (n, s) in ROMAN {
            if value >= n {
                out.push_str(s);
                value -= n;
                continue 'outer;
            }
        }
        break;
    }
    out
}

fn roman_to_decimal(roman: &str) -> f64 {
    let mut decimal = 0.0;
    let mut max = 1.0;
    for c in roman.chars().rev() {
        let v = match c {
            'M' => 1000.0,
            'D' => 500.0,
            'C' => 100.0,
            'L' => 50.0,
            'X' => 10.0,
            'V' => 5.0,
            'I' => 1.0,
            _ => f64::NAN,
        };
        if v < max {
            decimal -= v;
        } else {
            max = v;
            decimal += v;
        }
    }
    decimal
}

fn decimal_to_letters(mut value: u64, a: char) -> String {
    let mut letters = Vec::new();
    while value > 0 {
        letters.push(char::from_u32((value - 1) as u32 % 26 + a as u32).unwrap_or('?'));
        value = (value - 1) / 26;
    }
    letters.iter().rev().collect()
}

fn letters_to_decimal(letters: &str, a: char) -> f64 {
    let chars: Vec<char> = letters.chars().collect();
    let mut decimal = 0.0;
    for (i, c) in chars.iter().rev().enumerate() {
        decimal += (*c as i64 - a as i64 + 1) as f64 * 26f64.powi(i as i32);
    }
    decimal
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Primary {
    Decimal,
    Letters,
    Roman,
    Words,
    Sequence,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Upper,
    Lower,
    Title,
}

#[derive(Debug, Clone)]
struct Sep {
    position: usize,
    character: char,
}

#[derive(Debug, Clone)]
struct IntFormat {
    primary: Primary,
    case: Case,
    ordinal: bool,
    zero_code: u32,
    mandatory_digits: usize,
    optional_digits: usize,
    regular: bool,
    /// When `regular`, a single separator repeated every `position` digits.
    separators: Vec<Sep>,
    token: String,
    n: Option<i64>,
    /// Fixed digit count when this marker is directly followed by another (e.g. `[H01][m01]`).
    parse_width: Option<usize>,
}

fn analyse_integer_picture(picture: &str) -> Result<IntFormat, Error> {
    let mut f = IntFormat {
        primary: Primary::Decimal,
        case: Case::Lower,
        ordinal: false,
        zero_code: 0x30,
        mandatory_digits: 0,
        optional_digits: 0,
        regular: false,
        separators: vec![],
        token: String::new(),
        n: None,
        parse_width: None,
    };
    let primary = match picture.rfind(';') {
        None => picture,
        Some(i) => {
            if picture[i + 1..].starts_with('o') {
                f.ordinal = true;
            }
            &picture[..i]
        }
    };
    match primary {
        "A" => {
            f.case = Case::Upper;
            f.primary = Primary::Letters;
        }
        "a" => f.primary = Primary::Letters,
        "I" => {
            f.case = Case::Upper;
            f.primary = Primary::Roman;
        }
        "i" => f.primary = Primary::Roman,
        "W" => {
            f.case = Case::Upper;
            f.primary = Primary::Words;
        }
        "Ww" => {
            f.case = Case::Title;
            f.primary = Primary::Words;
        }
        "w" => f.primary = Primary::Words,
        _ => {
            let mut zero: Option<u32> = None;
            let mut mandatory = 0;
            let mut optional = 0;
            let mut seps: Vec<Sep> = Vec::new();
            let mut sep_pos = 0;
            for c in primary.chars().rev() {
                let cp = c as u32;
                let group = DECIMAL_GROUPS.iter().find(|g| cp >= **g && cp <= **g + 9);
                if let Some(g) = group {
                    mandatory += 1;
                    sep_pos += 1;
                    match zero {
                        None => zero = Some(*g),
                        Some(z) if z != *g => return Err(Error::code("D3131")),
                        _ => {}
                    }
                } else if c == '#' {
                    sep_pos += 1;
                    optional += 1;
                } else {
                    seps.push(Sep {
                        position: sep_pos,
                        character: c,
                    });
                }
            }
            if mandatory > 0 {
                f.primary = Primary::Decimal;
                f.zero_code = zero.unwrap_or(0x30);
                f.mandatory_digits = mandatory;
                f.optional_digits = optional;
                match regular_separator(&seps) {
                    Some(s) => {
                        f.regular = true;
                        f.separators = vec![s];
                    }
                    None => f.separators = seps,
                }
            } else {
                f.primary = Primary::Sequence;
                f.token = primary.to_string();
            }
        }
    }
    Ok(f)
}

fn regular_separator(seps: &[Sep]) -> Option<Sep> {
    let first = seps.first()?;
    if seps.iter().any(|s| s.character != first.character) {
        return None;
    }
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let positions: Vec<usize> = seps.iter().map(|s| s.position).collect();
    let factor = positions.iter().copied().reduce(gcd)?;
    for i in 1..=positions.len() {
        if !positions.contains(&(i * factor)) {
            return None;
        }
    }
    Some(Sep {
        position: factor,
        character: first.character,
    })
}

fn format_integer_with(value: f64, f: &IntFormat) -> Result<String, Error> {
    let negative = value < 0.0;
    let value = value.abs();
    let uval = if value.is_finite() { value as u64 } else { 0 };
    let mut s = match f.primary {
        Primary::Letters => decimal_to_letters(uval, if f.case == Case::Upper { 'A' } else { 'a' }),
        Primary::Roman => {
            let r = decimal_to_roman(uval);
            if f.case == Case::Upper {
                r.to_uppercase()
            } else {
                r
            }
        }
        Primary::Words => {
            let w = number_to_words(value, f.ordinal);
            match f.case {
                Case::Upper => w.to_uppercase(),
                Case::Lower => w.to_lowercase(),
                Case::Title => w,
            }
        }
        Primary::Decimal => {
            let mut s = crate::value::format_number_js(value);
            let len = s.chars().count();
            if f.mandatory_digits > len {
                s = "0".repeat(f.mandatory_digits - len) + &s;
            }
            if f.zero_code != 0x30 {
                s = s
                    .chars()
                    .map(|c| char::from_u32(c as u32 + f.zero_code - 0x30).unwrap_or(c))
                    .collect();
            }
            let mut chars: Vec<char> = s.chars().collect();
            if f.regular {
                if let Some(sep) = f.separators.first() {
                    if let Some(n) = (chars.len().saturating_sub(1)).checked_div(sep.position) {
                        for ii in (1..=n).rev() {
                            let pos = chars.len() - ii * sep.position;
                            chars.insert(pos, sep.character);
                        }
                    }
                }
            } else {
                for sep in f.separators.iter().rev() {
                    let pos = chars.len().saturating_sub(sep.position);
                    chars.insert(pos, sep.character);
                }
            }
            let mut s: String = chars.iter().collect();
            if f.ordinal {
                let last = chars.last().copied();
                let prev = if chars.len() > 1 {
                    chars.get(chars.len() - 2).copied()
                } else {
                    None
                };
                let suffix = match last {
                    Some('1') => "st",
                    Some('2') => "nd",
                    Some('3') => "rd",
                    _ => "th",
                };
                let suffix = if prev == Some('1') { "th" } else { suffix };
                s.push_str(suffix);
            }
            s
        }
        Primary::Sequence => return Err(Error::code("D3130").value(f.token.clone())),
    };
    if negative {
        s.insert(0, '-');
    }
    Ok(s)
}

pub(crate) fn f_format_integer(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(v) = a
        .first()
        .and_then(|x| x.as_ref())
        .and_then(Value::as_number)
    else {
        return Ok(None);
    };
    let picture = a
        .get(1)
        .and_then(|x| x.as_ref())
        .and_then(Value::as_str)
        .unwrap_or("");
    let f = analyse_integer_picture(picture)?;
    Ok(Some(Value::string(format_integer_with(v.floor(), &f)?)))
}

pub(crate) fn f_parse_integer(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = a.first().and_then(|x| x.as_ref()).and_then(Value::as_str) else {
        return Ok(None);
    };
    let picture = a
        .get(1)
        .and_then(|x| x.as_ref())
        .and_then(Value::as_str)
        .unwrap_or("");
    let f = analyse_integer_picture(picture)?;
    let m = int_matcher(&f)?;
    Ok(Some(Value::Num((m.parse)(s, &f))))
}

// ---------------------------------------------------------------- date/time pictures

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Marker(Marker),
}

#[derive(Debug, Clone)]
struct Marker {
    component: char,
    width: Option<(Option<usize>, Option<usize>)>,
    presentation2: Option<char>,
    names: Option<Case>,
    integer_format: Option<IntFormat>,
    n: i64,
}

fn default_presentation(c: char) -> Option<&'static str> {
    Some(match c {
        'Y' | 'M' | 'D' | 'd' | 'W' | 'w' | 'X' | 'x' | 'H' | 'h' | 'f' => "1",
        'F' | 'P' | 'C' | 'E' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        _ => return None,
    })
}

fn analyse_datetime_picture(picture: &str) -> Result<Vec<Part>, Error> {
    let chars: Vec<char> = picture.chars().collect();
    let mut spec: Vec<Part> = Vec::new();
    let add_literal = |spec: &mut Vec<Part>, start: usize, end: usize| {
        if end > start {
            let lit: String = chars[start..end].iter().collect();
            spec.push(Part::Literal(lit.replace("]]", "]")));
        }
    };
    let mut start = 0;
    let mut pos = 0;
    while pos < chars.len() {
        if chars[pos] == '[' {
            if chars.get(pos + 1) == Some(&'[') {
                add_literal(&mut spec, start, pos);
                spec.push(Part::Literal("[".into()));
                pos += 2;
                start = pos;
                continue;
            }
            add_literal(&mut spec, start, pos);
            start = pos;
            let Some(close) = chars[start..].iter().position(|c| *c == ']') else {
                return Err(Error::code("D3135"));
            };
            pos = start + close;
            let marker: String = chars[start + 1..pos]
                .iter()
                .filter(|c| !c.is_whitespace())
                .collect();
            let mchars: Vec<char> = marker.chars().collect();
            let component = mchars.first().copied().unwrap_or(' ');
            let comma = mchars.iter().rposition(|c| *c == ',');
            let mut width = None;
            let pres_mod: String = match comma {
                Some(ci) => {
                    let wm: String = mchars[ci + 1..].iter().collect();
                    let (min, max) = match wm.find('-') {
                        None => (wm.clone(), None),
                        Some(d) => (wm[..d].to_string(), Some(wm[d + 1..].to_string())),
                    };
                    let pw = |s: Option<&str>| -> Option<usize> {
                        match s {
                            None | Some("*") => None,
                            Some(x) => parse_int_prefix(x).map(|n| n.clamp(0, 1000) as usize),
                        }
                    };
                    width = Some((pw(Some(&min)), pw(max.as_deref())));
                    mchars.get(1..ci).unwrap_or(&[]).iter().collect()
                }
                None => mchars.get(1..).unwrap_or(&[]).iter().collect(),
            };
            let pm: Vec<char> = pres_mod.chars().collect();
            let mut presentation2 = None;
            let presentation1: String = if pm.len() == 1 {
                pres_mod.clone()
            } else if pm.len() > 1 {
                let last = pm[pm.len() - 1];
                if "atco".contains(last) {
                    presentation2 = Some(last);
                    pm[..pm.len() - 1].iter().collect()
                } else {
                    pres_mod.clone()
                }
            } else {
                match default_presentation(component) {
                    Some(p) => p.to_string(),
                    None => return Err(Error::code("D3132").value(component.to_string())),
                }
            };
            let mut m = Marker {
                component,
                width,
                presentation2,
                names: None,
                integer_format: None,
                n: -1,
            };
            let p1: Vec<char> = presentation1.chars().collect();
            if p1.first() == Some(&'n') {
                m.names = Some(Case::Lower);
            } else if p1.first() == Some(&'N') {
                m.names = Some(if p1.get(1) == Some(&'n') {
                    Case::Title
                } else {
                    Case::Upper
                });
            } else if "YMDdFWwXxHhmsf".contains(component) {
                let mut pattern = presentation1.clone();
                if let Some(p2) = presentation2 {
                    pattern.push(';');
                    pattern.push(p2);
                }
                let mut f = analyse_integer_picture(&pattern)?;
                if let Some((Some(min), _)) = m.width {
                    if f.mandatory_digits < min {
                        f.mandatory_digits = min;
                    }
                }
                if "YMD".contains(component) {
                    m.n = -1;
                    if let Some((_, Some(max))) = m.width {
                        m.n = max as i64;
                        f.mandatory_digits = max;
                    } else {
                        let w = f.mandatory_digits + f.optional_digits;
                        if w >= 2 {
                            m.n = w as i64;
                        }
                    }
                    f.n = Some(m.n);
                }
                m.integer_format = Some(f);
                if let Some(Part::Marker(prev)) = spec.last_mut() {
                    if let Some(pf) = prev.integer_format.as_mut() {
                        pf.parse_width = Some(pf.mandatory_digits);
                    }
                }
            }
            if component == 'Z' || component == 'z' {
                m.integer_format = Some(analyse_integer_picture(&presentation1)?);
            }
            spec.push(Part::Marker(m));
            start = pos + 1;
        }
        pos += 1;
    }
    add_literal(&mut spec, start, chars.len());
    Ok(spec)
}

fn parse_int_prefix(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let mut end = 0;
    for (i, c) in t.char_indices() {
        if c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+')) {
            end = i + c.len_utf8();
        } else {
            break;
        }
    }
    t[..end].parse().ok()
}

/// `Date.UTC(year, month0, day, h, m, s, ms)` with JavaScript's overflow normalisation.
fn date_utc(year: f64, month0: f64, day: f64, h: f64, mi: f64, s: f64, ms: f64) -> f64 {
    let ym = year + (month0 / 12.0).floor();
    // Far outside JavaScript's date range (±275,760 years): an invalid date, not an overflow.
    if !ym.is_finite() || ym.abs() > 1_000_000.0 || !month0.is_finite() {
        return f64::NAN;
    }
    let mn = month0.rem_euclid(12.0);
    // JavaScript's Date is the proleptic Gregorian calendar in UTC, which is civil's.
    let days = civil::days_from_civil(ym as i64, mn as u32 + 1, 1) as f64 + day - 1.0;
    days * MILLIS_IN_DAY + h * 3_600_000.0 + mi * 60_000.0 + s * 1000.0 + ms
}

#[derive(Debug, Clone, Copy)]
struct DateParts {
    millis: f64,
    year: i64,
    month0: i64,
    day: i64,
    hours: i64,
    minutes: i64,
    seconds: i64,
    ms: i64,
    /// 0 = Sunday, as `getUTCDay()`.
    weekday: i64,
}

/// JavaScript's `Date` range: ±8.64e15 ms around the epoch.
const MAX_DATE_MILLIS: f64 = 8.64e15;

fn date_parts(millis: f64) -> DateParts {
    let t = if millis.is_finite() {
        millis.trunc().clamp(-MAX_DATE_MILLIS, MAX_DATE_MILLIS)
    } else {
        0.0
    };
    let days = (t / MILLIS_IN_DAY).floor();
    let rem = t - days * MILLIS_IN_DAY;
    let (y, m, d) = civil::civil_from_days(days as i64);
    let rem = rem as i64;
    DateParts {
        millis: t,
        year: y,
        month0: i64::from(m) - 1,
        day: i64::from(d),
        hours: rem / 3_600_000,
        minutes: (rem / 60_000) % 60,
        seconds: (rem / 1000) % 60,
        ms: rem % 1000,
        weekday: i64::from(civil::weekday(days as i64)),
    }
}

fn start_of_first_week(year: i64, month0: i64) -> f64 {
    let jan1 = date_utc(year as f64, month0 as f64, 1.0, 0.0, 0.0, 0.0, 0.0);
    let mut day = date_parts(jan1).weekday;
    if day == 0 {
        day = 7;
    }
    if day > 4 {
        jan1 + (8 - day) as f64 * MILLIS_IN_DAY
    } else {
        jan1 - (day - 1) as f64 * MILLIS_IN_DAY
    }
}

fn next_month(y: i64, m: i64) -> (i64, i64) {
    if m == 11 {
        (y + 1, 0)
    } else {
        (y, m + 1)
    }
}

fn prev_month(y: i64, m: i64) -> (i64, i64) {
    if m == 0 {
        (y - 1, 11)
    } else {
        (y, m - 1)
    }
}

fn delta_weeks(start: f64, end: f64) -> f64 {
    (end - start) / (MILLIS_IN_DAY * 7.0) + 1.0
}

enum Fragment {
    Num(f64),
    Text(&'static str),
    None,
}

fn fragment(d: &DateParts, component: char) -> Fragment {
    let n = |x: i64| Fragment::Num(x as f64);
    match component {
        'Y' => n(d.year),
        'M' => n(d.month0 + 1),
        'D' => n(d.day),
        'd' => {
            let today = date_utc(
                d.year as f64,
                d.month0 as f64,
                d.day as f64,
                0.0,
                0.0,
                0.0,
                0.0,
            );
            let first = date_utc(d.year as f64, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0);
            Fragment::Num((today - first) / MILLIS_IN_DAY + 1.0)
        }
        'F' => n(if d.weekday == 0 { 7 } else { d.weekday }),
        'W' => {
            let start = start_of_first_week(d.year, 0);
            let today = date_utc(
                d.year as f64,
                d.month0 as f64,
                d.day as f64,
                0.0,
                0.0,
                0.0,
                0.0,
            );
            let mut week = delta_weeks(start, today);
            if week > 52.0 {
                if today >= start_of_first_week(d.year + 1, 0) {
                    week = 1.0;
                }
            } else if week < 1.0 {
                week = delta_weeks(start_of_first_week(d.year - 1, 0), today);
            }
            Fragment::Num(week.floor())
        }
        'w' => {
            let start = start_of_first_week(d.year, d.month0);
            let today = date_utc(
                d.year as f64,
                d.month0 as f64,
                d.day as f64,
                0.0,
                0.0,
                0.0,
                0.0,
            );
            let mut week = delta_weeks(start, today);
            if week > 4.0 {
                let (ny, nm) = next_month(d.year, d.month0);
                if today >= start_of_first_week(ny, nm) {
                    week = 1.0;
                }
            } else if week < 1.0 {
                let (py, pm) = prev_month(d.year, d.month0);
                week = delta_weeks(start_of_first_week(py, pm), today);
            }
            Fragment::Num(week.floor())
        }
        'X' => {
            let start = start_of_first_week(d.year, 0);
            let end = start_of_first_week(d.year + 1, 0);
            n(if d.millis < start {
                d.year - 1
            } else if d.millis >= end {
                d.year + 1
            } else {
                d.year
            })
        }
        'x' => {
            let start = start_of_first_week(d.year, d.month0);
            let (ny, nm) = next_month(d.year, d.month0);
            let end = start_of_first_week(ny, nm);
            n(if d.millis < start {
                prev_month(d.year, d.month0).1 + 1
            } else if d.millis >= end {
                nm + 1
            } else {
                d.month0 + 1
            })
        }
        'H' => n(d.hours),
        'h' => {
            let h = d.hours % 12;
            n(if h == 0 { 12 } else { h })
        }
        'P' => Fragment::Text(if d.hours >= 12 { "pm" } else { "am" }),
        'm' => n(d.minutes),
        's' => n(d.seconds),
        'f' => n(d.ms),
        'C' | 'E' => Fragment::Text("ISO"),
        _ => Fragment::None,
    }
}

fn format_datetime(
    millis: f64,
    picture: Option<&str>,
    timezone: Option<&str>,
) -> Result<String, Error> {
    let (mut off_h, mut off_m) = (0i64, 0i64);
    if let Some(tz) = timezone {
        let offset = parse_int_prefix(tz)
            .unwrap_or(0)
            .clamp(-1_000_000, 1_000_000);
        off_h = (offset as f64 / 100.0).floor() as i64;
        off_m = offset % 100;
    }
    let spec = analyse_datetime_picture(
        picture.unwrap_or("[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]"),
    )?;
    let offset_millis = ((60 * off_h + off_m) * 60_000) as f64;
    let d = date_parts(millis + offset_millis);
    let mut out = String::new();
    for part in &spec {
        match part {
            Part::Literal(s) => out.push_str(s),
            Part::Marker(m) => out.push_str(&format_component(&d, m, off_h, off_m)?),
        }
    }
    Ok(out)
}

fn format_component(d: &DateParts, m: &Marker, off_h: i64, off_m: i64) -> Result<String, Error> {
    let c = m.component;
    let frag = fragment(d, c);
    if "YMDdFWwXxHhms".contains(c) {
        let mut val = match frag {
            Fragment::Num(n) => n,
            _ => 0.0,
        };
        if c == 'Y' && m.n != -1 {
            val %= 10f64.powi(m.n as i32);
        }
        if let Some(names) = m.names {
            let name = if c == 'M' || c == 'x' {
                MONTHS
                    .get((val as usize).wrapping_sub(1))
                    .copied()
                    .unwrap_or("")
            } else if c == 'F' {
                DAYS.get(val as usize).copied().unwrap_or("")
            } else {
                return Err(Error::code("D3133").value(c.to_string()));
            };
            let mut s = match names {
                Case::Upper => name.to_uppercase(),
                Case::Lower => name.to_lowercase(),
                Case::Title => name.to_string(),
            };
            if let Some((_, Some(max))) = m.width {
                if s.chars().count() > max {
                    s = s.chars().take(max).collect();
                }
            }
            return Ok(s);
        }
        return match &m.integer_format {
            Some(f) => format_integer_with(val, f),
            None => Ok(crate::value::format_number_js(val)),
        };
    }
    match c {
        'f' => {
            let val = match frag {
                Fragment::Num(n) => n,
                _ => 0.0,
            };
            match &m.integer_format {
                Some(f) => format_integer_with(val, f),
                None => Ok(crate::value::format_number_js(val)),
            }
        }
        'Z' | 'z' => {
            let offset = off_h * 100 + off_m;
            let f = m
                .integer_format
                .as_ref()
                .ok_or_else(|| Error::code("D3134"))?;
            let mut s = if f.regular {
                format_integer_with(offset as f64, f)?
            } else {
                let nd = f.mandatory_digits;
                if nd == 1 || nd == 2 {
                    let mut s = format_integer_with(off_h as f64, f)?;
                    if off_m != 0 {
                        s.push(':');
                        s.push_str(&format!("{:02}", off_m));
                    }
                    s
                } else if nd == 3 || nd == 4 {
                    format_integer_with(offset as f64, f)?
                } else {
                    return Err(Error::code("D3134").value(nd.to_string()));
                }
            };
            if offset >= 0 {
                s.insert(0, '+');
            }
            if c == 'z' {
                s.insert_str(0, "GMT");
            }
            if offset == 0 && m.presentation2 == Some('t') {
                s = "Z".into();
            }
            Ok(s)
        }
        'P' => {
            let s = match frag {
                Fragment::Text(t) => t.to_string(),
                _ => String::new(),
            };
            Ok(if m.names == Some(Case::Upper) {
                s.to_uppercase()
            } else {
                s
            })
        }
        _ => Ok(match frag {
            Fragment::Text(t) => t.to_string(),
            Fragment::Num(n) => crate::value::format_number_js(n),
            Fragment::None => String::new(),
        }),
    }
}

// ---------------------------------------------------------------- parsing

struct IntMatcher {
    regex: String,
    parse: fn(&str, &IntFormat) -> f64,
}

fn int_matcher(f: &IntFormat) -> Result<IntMatcher, Error> {
    let upper = f.case == Case::Upper;
    let occurrences = match f.n {
        Some(n) if n > 0 => {
            if f.optional_digits == 0 {
                format!("{{{n}}}")
            } else {
                format!("{{{},{}}}", n - f.optional_digits as i64, n)
            }
        }
        _ => match f.parse_width {
            Some(w) if w > 0 => format!("{{{w}}}"),
            _ => "+".into(),
        },
    };
    Ok(match f.primary {
        Primary::Letters => IntMatcher {
            regex: if upper {
                "[A-Z]+".into()
            } else {
                "[a-z]+".into()
            },
            parse: |v, f| letters_to_decimal(v, if f.case == Case::Upper { 'A' } else { 'a' }),
        },
        Primary::Roman => IntMatcher {
            regex: if upper {
                "[MDCLXVI]+".into()
            } else {
                "[mdclxvi]+".into()
            },
            parse: |v, _| roman_to_decimal(&v.to_uppercase()),
        },
        Primary::Words => {
            let mut alts: Vec<String> = word_values().into_iter().map(|(k, _)| k).collect();
            alts.push("and".into());
            alts.push("[\\-, ]".into());
            IntMatcher {
                regex: format!("(?:{})+", alts.join("|")),
                parse: |v, _| words_to_number(&v.to_lowercase()),
            }
        }
        Primary::Decimal => {
            let mut regex = format!("[0-9]{occurrences}");
            if f.ordinal {
                regex.push_str("(?:th|st|nd|rd)");
            }
            IntMatcher {
                regex,
                parse: |v, f| {
                    let mut digits: String = v.to_string();
                    if f.ordinal {
                        let n = digits.chars().count().saturating_sub(2);
                        digits = digits.chars().take(n).collect();
                    }
                    if f.regular {
                        digits = digits.replace(',', "");
                    } else {
                        for s in &f.separators {
                            digits = digits.replace(s.character, "");
                        }
                    }
                    if f.zero_code != 0x30 {
                        digits = digits
                            .chars()
                            .map(|c| {
                                char::from_u32(
                                    (c as u32).wrapping_sub(f.zero_code).wrapping_add(0x30),
                                )
                                .unwrap_or(c)
                            })
                            .collect();
                    }
                    parse_int_prefix(&digits).map_or(f64::NAN, |n| n as f64)
                },
            }
        }
        Primary::Sequence => return Err(Error::code("D3130").value(f.token.clone())),
    })
}

enum PartMatcher {
    Literal,
    Int(IntMatcher, IntFormat, char),
    Names(Vec<(String, f64)>, char),
    Zone(Option<char>, char),
}

fn escape_literal(s: &str) -> String {
    regex::escape(s)
}

fn parse_datetime(
    ev: &mut Evaluator,
    timestamp: &str,
    picture: &str,
) -> Result<Option<f64>, Error> {
    let spec = analyse_datetime_picture(picture)?;
    let mut parts: Vec<PartMatcher> = Vec::new();
    let mut regex = String::from("(?i)^");
    for p in &spec {
        let (re, pm) = match p {
            Part::Literal(s) => (escape_literal(s), PartMatcher::Literal),
            Part::Marker(m) if m.component == 'Z' || m.component == 'z' => {
                let sep = m
                    .integer_format
                    .as_ref()
                    .filter(|f| f.regular)
                    .and_then(|f| f.separators.first())
                    .map(|s| s.character);
                let mut re = String::new();
                if m.component == 'z' {
                    re.push_str("GMT");
                }
                re.push_str("[-+][0-9]+");
                if let Some(c) = sep {
                    re.push_str(&regex::escape(&c.to_string()));
                    re.push_str("[0-9]+");
                }
                (re, PartMatcher::Zone(sep, m.component))
            }
            Part::Marker(m) => match &m.integer_format {
                Some(f) => {
                    let im = int_matcher(f)?;
                    (
                        im.regex.clone(),
                        PartMatcher::Int(im, f.clone(), m.component),
                    )
                }
                None => {
                    let max = m.width.and_then(|w| w.1).filter(|x| *x > 0);
                    let cut = |name: &str| -> String {
                        match max {
                            Some(mx) => name.chars().take(mx).collect(),
                            None => name.to_string(),
                        }
                    };
                    let lookup: Vec<(String, f64)> = match m.component {
                        'M' | 'x' => MONTHS
                            .iter()
                            .enumerate()
                            .map(|(i, n)| (cut(n), (i + 1) as f64))
                            .collect(),
                        'F' => DAYS[1..]
                            .iter()
                            .enumerate()
                            .map(|(i, n)| (cut(n), (i + 1) as f64))
                            .collect(),
                        'P' => vec![
                            ("am".into(), 0.0),
                            ("AM".into(), 0.0),
                            ("pm".into(), 1.0),
                            ("PM".into(), 1.0),
                        ],
                        c => return Err(Error::code("D3133").value(c.to_string())),
                    };
                    ("[a-zA-Z]+".into(), PartMatcher::Names(lookup, m.component))
                }
            },
        };
        regex.push('(');
        regex.push_str(&re);
        regex.push(')');
        parts.push(pm);
    }
    regex.push('$');
    let re = regex::Regex::new(&regex).map_err(|e| Error::new("D3136", e.to_string()))?;
    let Some(caps) = re.captures(timestamp) else {
        return Ok(None);
    };
    let mut comps: std::collections::HashMap<char, f64> = std::collections::HashMap::new();
    for (i, pm) in parts.iter().enumerate() {
        let text = caps.get(i + 1).map(|m| m.as_str()).unwrap_or("");
        match pm {
            PartMatcher::Literal => {}
            PartMatcher::Int(_, f, 'f') if f.primary == Primary::Decimal => {
                // Fractional seconds: the digits are a decimal fraction of a second.
                let digits: String = text
                    .chars()
                    .filter(char::is_ascii_digit)
                    .chain("000".chars())
                    .take(3)
                    .collect();
                comps.insert('f', digits.parse().unwrap_or(0.0));
            }
            PartMatcher::Int(im, f, c) => {
                comps.insert(*c, (im.parse)(text, f));
            }
            PartMatcher::Names(lookup, c) => {
                // JS object lookup is case-sensitive even though the regex is not.
                if let Some((_, v)) = lookup.iter().find(|(k, _)| k == text) {
                    comps.insert(*c, *v);
                }
            }
            PartMatcher::Zone(sep, c) => {
                let v = if *c == 'z' {
                    text.get(3..).unwrap_or("")
                } else {
                    text
                };
                let (h, m) = match sep {
                    Some(s) => {
                        let idx = v.find(*s).unwrap_or(v.len());
                        (
                            parse_int_prefix(&v[..idx]).unwrap_or(0),
                            parse_int_prefix(v.get(idx + s.len_utf8()..).unwrap_or(""))
                                .unwrap_or(0),
                        )
                    }
                    None => {
                        if v.len().saturating_sub(1) <= 2 {
                            (parse_int_prefix(v).unwrap_or(0), 0)
                        } else {
                            (
                                parse_int_prefix(&v[..3]).unwrap_or(0),
                                parse_int_prefix(&v[3..]).unwrap_or(0),
                            )
                        }
                    }
                };
                comps.insert(*c, (h as f64) * 60.0 + m as f64);
            }
        }
    }
    if comps.is_empty() {
        return Ok(None);
    }
    let mask_of = |order: &str, comps: &std::collections::HashMap<char, f64>| -> u32 {
        let mut mask = 0u32;
        for c in order.chars() {
            mask <<= 1;
            // JS truthiness of the parsed value: 0 and NaN count as absent.
            if comps.get(&c).is_some_and(|v| *v != 0.0 && !v.is_nan()) {
                mask += 1;
            }
        }
        mask
    };
    let is_type = |t: u32, mask: u32| (!t & mask) == 0 && (t & mask) != 0;
    let mask = mask_of("YXMxWwdD", &comps);
    let date_a = is_type(161, mask);
    let date_b = !date_a && is_type(130, mask);
    let date_c = is_type(84, mask);
    let date_d = !date_c && is_type(72, mask);
    let tmask = mask_of("PHhmsf", &comps);
    let time_a = is_type(23, tmask);
    let time_b = !time_a && is_type(47, tmask);
    let date_comps = if date_b {
        "YD"
    } else if date_c {
        "XxwF"
    } else if date_d {
        "XWF"
    } else {
        "YMD"
    };
    let time_comps = if time_b { "Phmsf" } else { "Hmsf" };
    let now = date_parts(ev.now_ms() as f64);
    let mut start_specified = false;
    let mut end_specified = false;
    for part in date_comps.chars().chain(time_comps.chars()) {
        #[allow(clippy::map_entry)]
        if !comps.contains_key(&part) {
            if start_specified {
                comps.insert(part, if "MDd".contains(part) { 1.0 } else { 0.0 });
                end_specified = true;
            } else {
                let v = match fragment(&now, part) {
                    Fragment::Num(n) => n,
                    Fragment::Text(t) => {
                        if t == "pm" {
                            1.0
                        } else {
                            0.0
                        }
                    }
                    Fragment::None => 0.0,
                };
                comps.insert(part, v);
            }
        } else {
            start_specified = true;
            if end_specified {
                return Err(Error::code("D3136"));
            }
        }
    }
    let g = |c: char| comps.get(&c).copied().unwrap_or(0.0);
    let mut month0 = if g('M') > 0.0 { g('M') - 1.0 } else { 0.0 };
    let mut day = g('D');
    if date_b {
        let first = date_utc(g('Y'), 0.0, 1.0, 0.0, 0.0, 0.0, 0.0);
        let derived = date_parts(first + (g('d') - 1.0) * MILLIS_IN_DAY);
        month0 = derived.month0 as f64;
        day = derived.day as f64;
    }
    if date_c || date_d {
        return Err(Error::code("D3136"));
    }
    let mut hours = g('H');
    if time_b {
        hours = if g('h') == 12.0 { 0.0 } else { g('h') };
        if g('P') == 1.0 {
            hours += 12.0;
        }
    }
    let mut millis = date_utc(g('Y'), month0, day, hours, g('m'), g('s'), g('f'));
    let tz = comps
        .get(&'Z')
        .or_else(|| comps.get(&'z'))
        .copied()
        .unwrap_or(0.0);
    if tz != 0.0 {
        millis -= tz * 60_000.0;
    }
    Ok(Some(millis))
}

fn iso_to_millis(s: &str) -> Option<f64> {
    let re = regex::Regex::new(
        r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|[+-]\d{2}:?\d{2})?$",
    )
    .ok()?;
    let c = re.captures(s)?;
    let num = |i: usize, d: f64| -> f64 {
        c.get(i)
            .and_then(|m| m.as_str().parse::<f64>().ok())
            .unwrap_or(d)
    };
    let frac = c
        .get(7)
        .map(|m| {
            let digits: String = m.as_str().chars().chain("000".chars()).take(3).collect();
            digits.parse::<f64>().unwrap_or(0.0)
        })
        .unwrap_or(0.0);
    let mut t = date_utc(
        num(1, 0.0),
        num(2, 1.0) - 1.0,
        num(3, 1.0),
        num(4, 0.0),
        num(5, 0.0),
        num(6, 0.0),
        frac,
    );
    if let Some(z) = c.get(8) {
        let z = z.as_str();
        if z != "Z" {
            let sign = if z.starts_with('-') { -1.0 } else { 1.0 };
            let digits: String = z.chars().filter(|c| c.is_ascii_digit()).collect();
            let h: f64 = digits.get(..2).and_then(|x| x.parse().ok()).unwrap_or(0.0);
            let m: f64 = digits.get(2..).and_then(|x| x.parse().ok()).unwrap_or(0.0);
            t -= sign * (h * 60.0 + m) * 60_000.0;
        }
    }
    Some(t)
}

pub(crate) fn f_to_millis(ev: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(ts) = a.first().and_then(|x| x.as_ref()).and_then(Value::as_str) else {
        return Ok(None);
    };
    match a.get(1).and_then(|x| x.as_ref()).and_then(Value::as_str) {
        None => {
            let valid = regex::Regex::new(
                r"^\d{4}(-[01]\d)*(-[0-3]\d)*(T[0-2]\d:[0-5]\d:[0-5]\d)*(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?$",
            )
            .map(|r| r.is_match(ts))
            .unwrap_or(false);
            if !valid {
                return Err(Error::code("D3110").value(ts.to_string()));
            }
            Ok(iso_to_millis(ts).map(Value::Num))
        }
        Some(p) => Ok(parse_datetime(ev, ts, p)?.map(Value::Num)),
    }
}

pub(crate) fn f_from_millis(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(ms) = a
        .first()
        .and_then(|x| x.as_ref())
        .and_then(Value::as_number)
    else {
        return Ok(None);
    };
    if ms.abs() > MAX_DATE_MILLIS {
        return Err(Error::new(
            "D3110",
            format!(
                "The argument of $fromMillis is outside the supported date range: {}",
                crate::value::format_number_js(ms)
            ),
        ));
    }
    let picture = a.get(1).and_then(|x| x.as_ref()).and_then(Value::as_str);
    let tz = a.get(2).and_then(|x| x.as_ref()).and_then(Value::as_str);
    Ok(Some(Value::string(format_datetime(ms, picture, tz)?)))
}

pub(crate) fn f_now(ev: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let ms = ev.now_ms() as f64;
    let picture = a.first().and_then(|x| x.as_ref()).and_then(Value::as_str);
    let tz = a.get(1).and_then(|x| x.as_ref()).and_then(Value::as_str);
    Ok(Some(Value::string(format_datetime(ms, picture, tz)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_past_december_count_into_the_next_year() {
        assert_eq!(
            date_utc(2018.0, 12.0, 1.0, 0.0, 0.0, 0.0, 0.0),
            date_utc(2019.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn words() {
        assert_eq!(
            number_to_words(1984.0, false),
            "One Thousand, Nine Hundred and Eighty-Four"
        );
        assert_eq!(words_to_number("nineteen hundred and eighty-four"), 1984.0);
        assert_eq!(decimal_to_roman(1984), "mcmlxxxiv");
    }
}
