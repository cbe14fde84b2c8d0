//! `$formatNumber` (XPath F&O 3.1 §4.7 pictures, as jsonata-js implements them), `$formatBase`
//! and the Step Functions `$hash`.

use crate::eval::{Evaluator, Frame};
use crate::functions::round_half_even;
use crate::value::Value;
use crate::Error;

type R = Result<Option<Value>, Error>;
type Args<'a> = &'a [Option<Value>];

struct Props {
    decimal: char,
    grouping: char,
    exponent: char,
    minus: String,
    nan: String,
    percent: char,
    per_mille: char,
    zero: char,
    digit: char,
    pattern: char,
}

struct Parts {
    prefix: String,
    suffix: String,
    active: Vec<char>,
    mantissa: Vec<char>,
    exponent: Option<Vec<char>>,
    integer: Vec<char>,
    fractional: Vec<char>,
    sub: Vec<char>,
}

#[derive(Clone)]
struct Pic {
    int_grouping: Vec<usize>,
    regular: usize,
    min_int: usize,
    scaling: i32,
    prefix: String,
    frac_grouping: Vec<usize>,
    min_frac: usize,
    max_frac: usize,
    min_exp: usize,
    suffix: String,
    picture: Vec<char>,
}

fn first_char(v: Option<&Value>, default: char) -> char {
    v.and_then(Value::as_str)
        .and_then(|s| s.chars().next())
        .unwrap_or(default)
}

fn index_of(hay: &[char], c: char) -> Option<usize> {
    hay.iter().position(|x| *x == c)
}

fn last_index_of(hay: &[char], c: char) -> Option<usize> {
    hay.iter().rposition(|x| *x == c)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

pub(crate) fn f_format_number(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(value) = a.first().and_then(|x| x.as_ref()).and_then(|v| match v {
        Value::Num(n) => Some(*n),
        _ => None,
    }) else {
        return Ok(None);
    };
    let picture = a
        .get(1)
        .and_then(|x| x.as_ref())
        .and_then(Value::as_str)
        .unwrap_or("");
    let opts = match a.get(2).and_then(|x| x.as_ref()) {
        Some(Value::Obj(o)) => Some(o.clone()),
        _ => None,
    };
    let get = |k: &str| opts.as_ref().and_then(|o| o.get(k));
    let p = Props {
        decimal: first_char(get("decimal-separator"), '.'),
        grouping: first_char(get("grouping-separator"), ','),
        exponent: first_char(get("exponent-separator"), 'e'),
        minus: get("minus-sign")
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string(),
        nan: get("NaN")
            .and_then(Value::as_str)
            .unwrap_or("NaN")
            .to_string(),
        percent: first_char(get("percent"), '%'),
        per_mille: first_char(get("per-mille"), '\u{2030}'),
        zero: first_char(get("zero-digit"), '0'),
        digit: first_char(get("digit"), '#'),
        pattern: first_char(get("pattern-separator"), ';'),
    };
    let family: Vec<char> = (0..10)
        .filter_map(|i| char::from_u32(p.zero as u32 + i))
        .collect();
    let is_digit = |c: char| family.contains(&c);
    let mut active: Vec<char> = family.clone();
    active.extend([p.decimal, p.exponent, p.grouping, p.digit, p.pattern]);
    let is_active = |c: char| active.contains(&c);

    let pic_chars: Vec<char> = picture.chars().collect();
    let subs: Vec<Vec<char>> = pic_chars
        .split(|c| *c == p.pattern)
        .map(<[char]>::to_vec)
        .collect();
    if subs.len() > 2 {
        return Err(Error::code("D3080"));
    }
    let split_parts = |sub: &Vec<char>| -> Parts {
        // With no active character at all the whole sub-picture is the active part (it then
        // fails validation with D3086, as jsonata-js reports).
        let pstart = sub
            .iter()
            .position(|c| is_active(*c) && *c != p.exponent)
            .unwrap_or(0);
        let prefix: String = sub[..pstart].iter().collect();
        let send = sub
            .iter()
            .rposition(|c| is_active(*c) && *c != p.exponent)
            .map_or(sub.len(), |i| i + 1);
        let send = send.max(pstart);
        let suffix: String = sub[send..].iter().collect();
        let active_part: Vec<char> = sub[pstart..send].to_vec();
        let exp_pos = sub
            .iter()
            .enumerate()
            .skip(pstart)
            .find(|(_, c)| **c == p.exponent)
            .map(|(i, _)| i);
        let (mantissa, exponent) = match exp_pos {
            Some(e) if e <= send => {
                let rel = e - pstart;
                (
                    active_part[..rel.min(active_part.len())].to_vec(),
                    Some(active_part.get(rel + 1..).unwrap_or(&[]).to_vec()),
                )
            }
            _ => (active_part.clone(), None),
        };
        let (integer, fractional) = match index_of(&mantissa, p.decimal) {
            None => (mantissa.clone(), suffix.chars().collect()),
            Some(d) => (mantissa[..d].to_vec(), mantissa[d + 1..].to_vec()),
        };
        Parts {
            prefix,
            suffix,
            active: active_part,
            mantissa,
            exponent,
            integer,
            fractional,
            sub: sub.clone(),
        }
    };
    let parts: Vec<Parts> = subs.iter().map(split_parts).collect();
    for part in &parts {
        let sub = &part.sub;
        let mut error = None;
        let dpos = index_of(sub, p.decimal);
        if dpos != last_index_of(sub, p.decimal) {
            error = Some("D3081");
        }
        if index_of(sub, p.percent) != last_index_of(sub, p.percent) {
            error = Some("D3082");
        }
        if index_of(sub, p.per_mille) != last_index_of(sub, p.per_mille) {
            error = Some("D3083");
        }
        if index_of(sub, p.percent).is_some() && index_of(sub, p.per_mille).is_some() {
            error = Some("D3084");
        }
        if !part.mantissa.iter().any(|c| is_digit(*c) || *c == p.digit) {
            error = Some("D3085");
        }
        if part.active.iter().any(|c| !is_active(*c)) {
            error = Some("D3086");
        }
        match dpos {
            Some(d) => {
                let before = d.checked_sub(1).and_then(|i| sub.get(i)).copied();
                if before == Some(p.grouping) || sub.get(d + 1).copied() == Some(p.grouping) {
                    error = Some("D3087");
                }
            }
            None => {
                if part.integer.last().copied() == Some(p.grouping) {
                    error = Some("D3088");
                }
            }
        }
        if sub
            .windows(2)
            .any(|w| w[0] == p.grouping && w[1] == p.grouping)
        {
            error = Some("D3089");
        }
        if let Some(od) = index_of(&part.integer, p.digit) {
            if part.integer[..od].iter().any(|c| is_digit(*c)) {
                error = Some("D3090");
            }
        }
        if let Some(od) = last_index_of(&part.fractional, p.digit) {
            if part.fractional[od..].iter().any(|c| is_digit(*c)) {
                error = Some("D3091");
            }
        }
        if let Some(e) = &part.exponent {
            if !e.is_empty()
                && (index_of(sub, p.percent).is_some() || index_of(sub, p.per_mille).is_some())
            {
                error = Some("D3092");
            }
            if e.is_empty() || e.iter().any(|c| !is_digit(*c)) {
                error = Some("D3093");
            }
        }
        if let Some(code) = error {
            return Err(Error::code(code));
        }
    }
    let analyse = |part: &Parts| -> Pic {
        let grouping_positions = |chars: &[char], to_left: bool| -> Vec<usize> {
            let mut positions = Vec::new();
            let mut gp = index_of(chars, p.grouping);
            while let Some(g) = gp {
                let slice = if to_left { &chars[..g] } else { &chars[g..] };
                positions.push(
                    slice
                        .iter()
                        .filter(|c| is_digit(**c) || **c == p.digit)
                        .count(),
                );
                // jsonata-js searches the integer part here even for the fractional part.
                gp = part
                    .integer
                    .iter()
                    .enumerate()
                    .skip(g + 1)
                    .find(|(_, c)| **c == p.grouping)
                    .map(|(i, _)| i);
            }
            positions
        };
        let int_grouping = grouping_positions(&part.integer, false);
        let regular = if int_grouping.is_empty() {
            0
        } else {
            let factor = int_grouping.iter().copied().reduce(gcd).unwrap_or(0);
            if factor > 0 && (1..=int_grouping.len()).all(|i| int_grouping.contains(&(i * factor)))
            {
                factor
            } else {
                0
            }
        };
        let frac_grouping = grouping_positions(&part.fractional, true);
        let mut min_int = part.integer.iter().filter(|c| is_digit(**c)).count();
        let scaling = min_int as i32;
        let mut min_frac = part.fractional.iter().filter(|c| is_digit(**c)).count();
        let mut max_frac = part
            .fractional
            .iter()
            .filter(|c| is_digit(**c) || **c == p.digit)
            .count();
        let exp_present = part.exponent.is_some();
        if min_int == 0 && max_frac == 0 {
            if exp_present {
                min_frac = 1;
                max_frac = 1;
            } else {
                min_int = 1;
            }
        }
        if exp_present && min_int == 0 && index_of(&part.integer, p.digit).is_some() {
            min_int = 1;
        }
        if min_int == 0 && min_frac == 0 {
            min_frac = 1;
        }
        let min_exp = part
            .exponent
            .as_ref()
            .map_or(0, |e| e.iter().filter(|c| is_digit(**c)).count());
        Pic {
            int_grouping,
            regular,
            min_int,
            scaling,
            prefix: part.prefix.clone(),
            frac_grouping,
            min_frac,
            max_frac,
            min_exp,
            suffix: part.suffix.clone(),
            picture: part.sub.clone(),
        }
    };
    let mut pics: Vec<Pic> = parts.iter().map(analyse).collect();
    if pics.len() == 1 {
        let mut neg = pics[0].clone();
        neg.prefix = format!("{}{}", p.minus, neg.prefix);
        pics.push(neg);
    }
    if value.is_nan() {
        return Ok(Some(Value::string(p.nan)));
    }
    let pic = if value >= 0.0 { &pics[0] } else { &pics[1] };
    let adjusted = if pic.picture.contains(&p.percent) {
        value * 100.0
    } else if pic.picture.contains(&p.per_mille) {
        value * 1000.0
    } else {
        value
    };
    let (mantissa, exponent) = if pic.min_exp == 0 {
        (adjusted, None)
    } else {
        let max_m = 10f64.powi(pic.scaling);
        let min_m = 10f64.powi(pic.scaling - 1);
        // Normalise the magnitude only; zero has no exponent to find.
        let mut m = adjusted.abs();
        let mut e = 0i32;
        if m != 0.0 && m.is_finite() {
            while m < min_m {
                m *= 10.0;
                e -= 1;
            }
            while m > max_m {
                m /= 10.0;
                e += 1;
            }
        }
        (m.copysign(adjusted), Some(e))
    };
    let rounded = round_half_even(mantissa, pic.max_frac as i64);
    let make_string = |v: f64, dp: usize| -> String {
        let s = format!("{:.*}", dp, v.abs());
        if p.zero != '0' {
            s.chars()
                .map(|c| {
                    if c.is_ascii_digit() {
                        family.get((c as u32 - 48) as usize).copied().unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect()
        } else {
            s
        }
    };
    let s = make_string(rounded, pic.max_frac);
    let mut sv: Vec<char> = match s.find('.') {
        None => format!("{s}{}", p.decimal).chars().collect(),
        Some(_) => s.replacen('.', &p.decimal.to_string(), 1).chars().collect(),
    };
    while sv.first() == Some(&p.zero) {
        sv.remove(0);
    }
    while sv.last() == Some(&p.zero) {
        sv.pop();
    }
    let dpos = index_of(&sv, p.decimal).unwrap_or(sv.len());
    let pad_left = pic.min_int as i64 - dpos as i64;
    let pad_right = pic.min_frac as i64 - (sv.len() as i64 - dpos as i64 - 1);
    if pad_left > 0 {
        let mut v = vec![p.zero; pad_left as usize];
        v.extend(sv);
        sv = v;
    }
    if pad_right > 0 {
        sv.extend(std::iter::repeat_n(p.zero, pad_right as usize));
    }
    let mut dpos = index_of(&sv, p.decimal).unwrap_or(sv.len());
    if let Some(group_count) = ((dpos as i64 - 1).max(0) as usize).checked_div(pic.regular) {
        for g in 1..=group_count {
            let at = dpos - g * pic.regular;
            sv.insert(at, p.grouping);
        }
    } else {
        for pos in &pic.int_grouping {
            if let Some(at) = dpos.checked_sub(*pos) {
                sv.insert(at, p.grouping);
                dpos += 1;
            }
        }
    }
    let dpos = index_of(&sv, p.decimal).unwrap_or(sv.len());
    for pos in &pic.frac_grouping {
        let at = (pos + dpos + 1).min(sv.len());
        sv.insert(at, p.grouping);
    }
    let dpos = index_of(&sv, p.decimal);
    if pic.min_frac == 0 && dpos == Some(sv.len().saturating_sub(1)) {
        sv.pop();
    }
    let mut out: String = sv.iter().collect();
    if let Some(e) = exponent {
        let mut es = make_string(f64::from(e), 0);
        let pad = pic.min_exp as i64 - es.chars().count() as i64;
        if pad > 0 {
            es = p.zero.to_string().repeat(pad as usize) + &es;
        }
        out.push(p.exponent);
        if e < 0 {
            out.push_str(&p.minus);
        }
        out.push_str(&es);
    }
    Ok(Some(Value::string(format!(
        "{}{}{}",
        pic.prefix, out, pic.suffix
    ))))
}

pub(crate) fn f_format_base(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(v) = a
        .first()
        .and_then(|x| x.as_ref())
        .and_then(Value::as_number)
    else {
        return Ok(None);
    };
    let v = round_half_even(v, 0);
    let radix = match a.get(1).and_then(|x| x.as_ref()).and_then(Value::as_number) {
        None => 10.0,
        Some(r) => round_half_even(r, 0),
    };
    if !(2.0..=36.0).contains(&radix) {
        return Err(Error::code("D3100").value(crate::value::format_number_js(radix)));
    }
    let radix = radix as u64;
    let neg = v < 0.0;
    let mut n = v.abs() as u64;
    let mut digits = Vec::new();
    loop {
        let d = (n % radix) as u32;
        digits.push(char::from_digit(d, radix as u32).unwrap_or('?'));
        n /= radix;
        if n == 0 {
            break;
        }
    }
    if neg {
        digits.push('-');
    }
    Ok(Some(Value::string(digits.iter().rev().collect())))
}

pub(crate) fn f_hash(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    use sha2::Digest;
    let Some(s) = a.first().and_then(|x| x.as_ref()).and_then(Value::as_str) else {
        return Ok(None);
    };
    let alg = a
        .get(1)
        .and_then(|x| x.as_ref())
        .and_then(Value::as_str)
        .unwrap_or("SHA-256");
    let bytes = s.as_bytes();
    let digest: Vec<u8> = match alg {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        other => {
            return Err(Error::new(
                "D3154",
                format!(
                    "The hash algorithm '{other}' is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
                ),
            ))
        }
    };
    Ok(Some(Value::string(cairn_common::hex::encode(&digest))))
}
