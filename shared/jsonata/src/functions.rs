//! The standard library (jsonata-js `functions.js`) plus the Step Functions additions.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;
use std::sync::OnceLock;

use cairn_common::{base64, entropy};

use crate::eval::{
    append, append_checked, check_string, deep_clone, merge_sort, too_large, Evaluator, Frame,
    Function, MAX_STRING_BYTES,
};
use crate::signature::Signature;
use crate::value::{self, deep_equal, Object, Value};
use crate::Error;

type R = Result<Option<Value>, Error>;
type Args<'a> = &'a [Option<Value>];
pub(crate) type NativeImpl = fn(&mut Evaluator, Args, Option<&Value>, &Frame) -> R;

pub(crate) struct NativeFn {
    pub name: &'static str,
    pub sig: &'static str,
    /// The JavaScript implementation's declared parameter count (drives `hofFuncArgs`).
    pub arity: usize,
    pub imp: NativeImpl,
}

impl std::fmt::Debug for NativeFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "${}", self.name)
    }
}

macro_rules! natives {
    ($( $name:literal, $sig:literal, $arity:literal, $imp:expr; )*) => {
        static NATIVES: &[NativeFn] = &[
            $( NativeFn { name: $name, sig: $sig, arity: $arity, imp: $imp }, )*
        ];
    };
}

natives! {
    "sum", "<a<n>:n>", 1, f_sum;
    "count", "<a:n>", 1, f_count;
    "max", "<a<n>:n>", 1, f_max;
    "min", "<a<n>:n>", 1, f_min;
    "average", "<a<n>:n>", 1, f_average;
    "string", "<x-b?:s>", 1, f_string;
    "substring", "<s-nn?:s>", 3, f_substring;
    "substringBefore", "<s-s:s>", 2, f_substring_before;
    "substringAfter", "<s-s:s>", 2, f_substring_after;
    "lowercase", "<s-:s>", 1, f_lowercase;
    "uppercase", "<s-:s>", 1, f_uppercase;
    "length", "<s-:n>", 1, f_length;
    "trim", "<s-:s>", 1, f_trim;
    "pad", "<s-ns?:s>", 3, f_pad;
    "match", "<s-f<s:o>n?:a<o>>", 3, f_match;
    "contains", "<s-(sf):b>", 2, f_contains;
    "replace", "<s-(sf)(sf)n?:s>", 4, f_replace;
    "split", "<s-(sf)n?:a<s>>", 3, f_split;
    "join", "<a<s>s?:s>", 2, f_join;
    "formatNumber", "<n-so?:s>", 3, crate::numfmt::f_format_number;
    "formatBase", "<n-n?:s>", 2, crate::numfmt::f_format_base;
    "formatInteger", "<n-s:s>", 2, crate::datetime::f_format_integer;
    "parseInteger", "<s-s:n>", 2, crate::datetime::f_parse_integer;
    "number", "<(nsb)-:n>", 1, f_number;
    "floor", "<n-:n>", 1, f_floor;
    "ceil", "<n-:n>", 1, f_ceil;
    "round", "<n-n?:n>", 2, f_round;
    "abs", "<n-:n>", 1, f_abs;
    "sqrt", "<n-:n>", 1, f_sqrt;
    "power", "<n-n:n>", 2, f_power;
    "random", "<n?:n>", 0, f_random;
    "boolean", "<x-:b>", 1, f_boolean;
    "not", "<x-:b>", 1, f_not;
    "map", "<af>", 2, f_map;
    "zip", "<a+>", 0, f_zip;
    "filter", "<af>", 2, f_filter;
    "single", "<af?>", 2, f_single;
    "reduce", "<afj?:j>", 3, f_reduce;
    "sift", "<o-f?:o>", 2, f_sift;
    "keys", "<x-:a<s>>", 1, f_keys;
    "lookup", "<x-s:x>", 2, f_lookup;
    "append", "<xx:a>", 2, f_append;
    "exists", "<x:b>", 1, f_exists;
    "spread", "<x-:a<o>>", 1, f_spread;
    "merge", "<a<o>:o>", 1, f_merge;
    "reverse", "<a:a>", 1, f_reverse;
    "each", "<o-f:a>", 2, f_each;
    "error", "<s?:x>", 1, f_error;
    "assert", "<bs?:x>", 2, f_assert;
    "type", "<x:s>", 1, f_type;
    "sort", "<af?:a>", 2, f_sort;
    "shuffle", "<a:a>", 1, f_shuffle;
    "distinct", "<x:x>", 1, f_distinct;
    "base64encode", "<s-:s>", 1, f_base64encode;
    "base64decode", "<s-:s>", 1, f_base64decode;
    "encodeUrlComponent", "<s-:s>", 1, f_encode_url_component;
    "encodeUrl", "<s-:s>", 1, f_encode_url;
    "decodeUrlComponent", "<s-:s>", 1, f_decode_url_component;
    "decodeUrl", "<s-:s>", 1, f_decode_url;
    "eval", "<sx?:x>", 2, f_eval;
    "toMillis", "<s-s?:n>", 2, crate::datetime::f_to_millis;
    "fromMillis", "<n-s?s?:s>", 3, crate::datetime::f_from_millis;
    "clone", "<(oa)-:o>", 1, f_clone;
    "now", "<s?s?:s>", 2, crate::datetime::f_now;
    "millis", "<:n>", 0, f_millis;
    "partition", "<an:a>", 2, f_partition;
    "range", "<nnn?:a>", 3, f_range;
    "hash", "<s-s?:s>", 2, crate::numfmt::f_hash;
    "uuid", "<:s>", 0, f_uuid;
    "parse", "<s-:x>", 1, f_parse;
}

/// `n`'s position in [`NATIVES`], found from its address.
fn native_index(n: &NativeFn) -> Option<usize> {
    let offset = (n as *const NativeFn as usize).checked_sub(NATIVES.as_ptr() as usize)?;
    let i = offset / std::mem::size_of::<NativeFn>().max(1);
    NATIVES.get(i).filter(|x| std::ptr::eq(*x, n)).map(|_| i)
}

fn index_of(name: &str) -> Option<usize> {
    static INDEX: OnceLock<HashMap<&'static str, usize, BuildHasherDefault<Fnv>>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        NATIVES
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name, i))
            .collect()
    });
    index.get(name).copied()
}

/// FNV-1a: the built-in names are fixed and short, so a simple hash beats SipHash here.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The function value `$name` denotes, if `name` is a built-in. The same value is handed out
/// each time on a thread, so `$sum = $sum` holds as in JavaScript, and a call costs no
/// allocation.
pub(crate) fn lookup_value(name: &str) -> Option<Value> {
    thread_local! {
        static VALUES: RefCell<Vec<Option<Value>>> = const { RefCell::new(Vec::new()) };
    }
    let index = index_of(name)?;
    let native = NATIVES.get(index)?;
    VALUES.with(|values| {
        let mut values = values.borrow_mut();
        if values.len() < NATIVES.len() {
            values.resize(NATIVES.len(), None);
        }
        let slot = values.get_mut(index)?;
        Some(
            slot.get_or_insert_with(|| Value::Func(Rc::new(Function::Native(native))))
                .clone(),
        )
    })
}

pub(crate) fn signature(n: &NativeFn) -> Result<Rc<Signature>, Error> {
    // Per-thread cache: compiled once per thread, no lock on the call path.
    thread_local! {
        static CACHE: RefCell<Vec<Option<Rc<Signature>>>> = const { RefCell::new(Vec::new()) };
    }
    let index = native_index(n);
    let cached = CACHE.with(|c| index.and_then(|i| c.borrow().get(i).cloned().flatten()));
    if let Some(s) = cached {
        return Ok(s);
    }
    let sig = Rc::new(Signature::parse(n.sig)?);
    if let Some(i) = index {
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() < NATIVES.len() {
                c.resize(NATIVES.len(), None);
            }
            if let Some(slot) = c.get_mut(i) {
                *slot = Some(sig.clone());
            }
        });
    }
    Ok(sig)
}

// ---------------------------------------------------------------- helpers

fn arg(args: Args<'_>, i: usize) -> Option<&Value> {
    args.get(i).and_then(|a| a.as_ref())
}

fn num_arg(args: Args<'_>, i: usize) -> Option<f64> {
    arg(args, i).and_then(|v| v.as_number())
}

fn str_arg(args: Args<'_>, i: usize) -> Option<&str> {
    arg(args, i).and_then(|v| v.as_str())
}

fn describe(v: &Value) -> String {
    value::stringify(v, false).unwrap_or_default()
}

/// jsonata's `boolean()` cast; `None` for undefined.
pub(crate) fn boolean_of(v: Option<&Value>) -> Option<bool> {
    let v = v?;
    Some(match v {
        Value::Arr(a) => match a.items.len() {
            0 => false,
            1 => boolean_of(a.items.first()).unwrap_or(false),
            _ => a.items.iter().any(|x| boolean_of(Some(x)) == Some(true)),
        },
        Value::Str(s) => !s.is_empty(),
        Value::Num(n) => *n != 0.0 && !n.is_nan(),
        Value::Obj(o) => !o.is_empty(),
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Func(_) => false,
    })
}

/// jsonata's `$string()` cast.
pub(crate) fn string_of(v: &Value, pretty: bool) -> Result<String, Error> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        Value::Func(_) => Ok(String::new()),
        Value::Num(n) if !n.is_finite() => {
            Err(Error::code("D3001").value(value::format_number_js(*n)))
        }
        Value::Arr(a) if a.outer_wrapper => match a.items.first() {
            Some(x) => value::stringify(x, pretty),
            None => Ok("[]".into()),
        },
        other => value::stringify(other, pretty),
    }
}

/// JavaScript string ordering (UTF-16 code unit order).
pub(crate) fn cmp_js_str(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn chars_of(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// JS `Array.prototype.slice` index normalisation.
fn slice_index(i: f64, len: usize) -> usize {
    let len_f = len as f64;
    let i = if i.is_nan() { 0.0 } else { i.trunc() };
    if i < 0.0 {
        (len_f + i).max(0.0) as usize
    } else {
        i.min(len_f) as usize
    }
}

// ---------------------------------------------------------------- aggregation

/// The items of an array argument (a single value counts as one), borrowed.
fn items_of(v: Option<&Value>) -> &[Value] {
    match v {
        None => &[],
        Some(Value::Arr(a)) => &a.items,
        Some(other) => std::slice::from_ref(other),
    }
}

fn numbers(v: Option<&Value>) -> Vec<f64> {
    items_of(v).iter().filter_map(|x| x.as_number()).collect()
}

fn f_sum(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    if arg(a, 0).is_none() {
        return Ok(None);
    }
    let items = items_of(arg(a, 0));
    Ok(Some(Value::Num(
        items.iter().filter_map(|x| x.as_number()).sum(),
    )))
}

fn f_count(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(Some(Value::Num(items_of(arg(a, 0)).len() as f64)))
}

fn f_max(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let n = numbers(arg(a, 0));
    if n.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Num(
        n.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )))
}

fn f_min(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let n = numbers(arg(a, 0));
    if n.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Num(
        n.iter().copied().fold(f64::INFINITY, f64::min),
    )))
}

fn f_average(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let n = numbers(arg(a, 0));
    if n.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Num(n.iter().sum::<f64>() / n.len() as f64)))
}

// ---------------------------------------------------------------- strings

fn f_string(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(v) = arg(a, 0) else { return Ok(None) };
    let pretty = matches!(arg(a, 1), Some(Value::Bool(true)));
    Ok(Some(Value::string(string_of(v, pretty)?)))
}

fn f_substring(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let chars = chars_of(s);
    let len = chars.len() as f64;
    let mut start = num_arg(a, 1).unwrap_or(0.0);
    if len + start < 0.0 {
        start = 0.0;
    }
    if let Some(length) = num_arg(a, 2) {
        if length <= 0.0 {
            return Ok(Some(Value::str("")));
        }
        let end = if start >= 0.0 {
            start + length
        } else {
            len + start + length
        };
        let (s0, e0) = (
            slice_index(start, chars.len()),
            slice_index(end, chars.len()),
        );
        if s0 >= e0 {
            return Ok(Some(Value::str("")));
        }
        return Ok(Some(Value::string(chars[s0..e0].iter().collect())));
    }
    let s0 = slice_index(start, chars.len());
    Ok(Some(Value::string(chars[s0..].iter().collect())))
}

fn f_substring_before(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let Some(c) = str_arg(a, 1) else {
        return Ok(Some(Value::str(s)));
    };
    Ok(Some(Value::str(match s.find(c) {
        Some(i) => &s[..i],
        None => s,
    })))
}

fn f_substring_after(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let Some(c) = str_arg(a, 1) else {
        return Ok(Some(Value::str(s)));
    };
    Ok(Some(Value::str(match s.find(c) {
        Some(i) => &s[i + c.len()..],
        None => s,
    })))
}

fn f_lowercase(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(str_arg(a, 0).map(|s| Value::string(s.to_lowercase())))
}

fn f_uppercase(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(str_arg(a, 0).map(|s| Value::string(s.to_uppercase())))
}

fn f_length(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(str_arg(a, 0).map(|s| Value::Num(s.chars().count() as f64)))
}

fn f_trim(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let mut out = String::with_capacity(s.len());
    let mut in_ws = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            if !in_ws {
                out.push(' ');
            }
            in_ws = true;
        } else {
            out.push(c);
            in_ws = false;
        }
    }
    let out = out.strip_prefix(' ').unwrap_or(&out);
    let out = out.strip_suffix(' ').unwrap_or(out);
    Ok(Some(Value::str(out)))
}

fn f_pad(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let width = num_arg(a, 1).unwrap_or(0.0);
    let pad_char = match str_arg(a, 2) {
        Some(c) if !c.is_empty() => c,
        _ => " ",
    };
    let pad_len = width.abs().trunc() as i64 - s.chars().count() as i64;
    if pad_len <= 0 {
        return Ok(Some(Value::str(s)));
    }
    if pad_len as usize > MAX_STRING_BYTES {
        return Err(too_large("string"));
    }
    let padding: String = pad_char.chars().cycle().take(pad_len as usize).collect();
    Ok(Some(Value::string(if width > 0.0 {
        format!("{s}{padding}")
    } else {
        format!("{padding}{s}")
    })))
}

/// A match found by a regex pattern argument, with byte offsets into the subject.
struct Found {
    start: usize,
    end: usize,
    text: String,
    groups: Vec<String>,
}

/// Runs a regex matcher over `s` the way jsonata iterates `next()`: a zero-length match that would
/// repeat forever raises D1004.
fn find_all(
    ev: &mut Evaluator,
    env: &Frame,
    pattern: &Value,
    s: &str,
    limit: Option<usize>,
) -> Result<Vec<Found>, Error> {
    let re = match pattern {
        Value::Func(f) => match &**f {
            Function::Regex(re) => re.clone(),
            _ => return find_all_custom(ev, env, pattern, s, limit),
        },
        _ => return Err(Error::code("T1010")),
    };
    let mut out = Vec::new();
    let mut from = 0;
    let mut first = true;
    loop {
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        if !first && from >= s.len() {
            break;
        }
        let Some(caps) = re.regex.captures_at(s, from) else {
            break;
        };
        let Some(m) = caps.get(0) else { break };
        if !first && m.start() == m.end() {
            return Err(Error::code("D1004").value(re.source.clone()));
        }
        out.push(Found {
            start: m.start(),
            end: m.end(),
            text: m.as_str().to_string(),
            groups: caps
                .iter()
                .skip(1)
                .map(|g| g.map(|g| g.as_str().to_string()).unwrap_or_default())
                .collect(),
        });
        first = false;
        from = m.end();
    }
    Ok(out)
}

/// Byte offset of a UTF-16 code unit index (JavaScript string positions).
fn byte_offset(s: &str, utf16_index: f64) -> usize {
    let mut units = 0.0;
    for (i, c) in s.char_indices() {
        if units >= utf16_index {
            return i;
        }
        units += c.len_utf16() as f64;
    }
    s.len()
}

/// A user-supplied matcher function: called with the string, it returns
/// `{match, start, end, groups, next}` where `next()` yields the following match.
fn find_all_custom(
    ev: &mut Evaluator,
    env: &Frame,
    matcher: &Value,
    s: &str,
    limit: Option<usize>,
) -> Result<Vec<Found>, Error> {
    let mut out = Vec::new();
    let mut result = ev.apply(Some(matcher), vec![Some(Value::str(s))], None, env)?;
    while let Some(r) = result {
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        let Value::Obj(o) = &r else {
            return Err(Error::code("T1010"));
        };
        let start = o.get("start").and_then(Value::as_number);
        let end = o.get("end").and_then(Value::as_number);
        let groups = match o.get("groups") {
            Some(Value::Arr(a)) => Some(a.items.clone()),
            _ => None,
        };
        let next = o
            .get("next")
            .filter(|n| matches!(n, Value::Func(_)))
            .cloned();
        if start.is_none() && end.is_none() && groups.is_none() && next.is_none() {
            return Err(Error::code("T1010"));
        }
        let (bs, be) = (
            byte_offset(s, start.unwrap_or(0.0)),
            byte_offset(s, end.unwrap_or(0.0)),
        );
        out.push(Found {
            start: bs,
            end: be.max(bs),
            text: o
                .get("match")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            groups: groups
                .unwrap_or_default()
                .iter()
                .map(|g| g.as_str().unwrap_or("").to_string())
                .collect(),
        });
        result = match next {
            Some(n) => ev.apply(Some(&n), vec![], None, env)?,
            None => None,
        };
    }
    Ok(out)
}

fn limit_arg(a: Args, i: usize, code: &str) -> Result<Option<usize>, Error> {
    match num_arg(a, i) {
        None => Ok(None),
        Some(n) if n < 0.0 => Err(Error::code(code).value(value::format_number_js(n))),
        Some(n) => Ok(Some(n.floor() as usize)),
    }
}

fn f_match(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let limit = limit_arg(a, 2, "D3040")?;
    let Some(p) = arg(a, 1) else { return Ok(None) };
    let found = if limit == Some(0) {
        vec![]
    } else {
        find_all(ev, env, p, s, limit)?
    };
    let out = found
        .into_iter()
        .map(|f| {
            let mut o = Object::new();
            o.insert("match".into(), Value::string(f.text));
            o.insert(
                "index".into(),
                Value::Num(value::utf16_len(&s[..f.start]) as f64),
            );
            o.insert(
                "groups".into(),
                Value::array(f.groups.into_iter().map(Value::string).collect()),
            );
            Value::object(o)
        })
        .collect();
    Ok(Some(Value::sequence(out)))
}

fn f_contains(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let Some(p) = arg(a, 1) else { return Ok(None) };
    Ok(Some(Value::Bool(match p {
        Value::Str(t) => s.contains(&**t),
        other => !find_all(ev, env, other, s, Some(1))?.is_empty(),
    })))
}

fn expand_replacement(rep: &str, f: &Found) -> String {
    let r: Vec<char> = rep.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < r.len() {
        let c = r[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        let next = r.get(i + 1).copied();
        match next {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('0') => {
                out.push_str(&f.text);
                i += 2;
            }
            _ => {
                let ng = f.groups.len();
                let max_digits = if ng == 0 {
                    1
                } else {
                    (ng as f64).log10().floor() as usize + 1
                };
                let digits: String = r[i + 1..]
                    .iter()
                    .take(max_digits)
                    .take_while(|d| d.is_ascii_digit())
                    .collect();
                let mut idx: Option<usize> = digits.parse().ok();
                if max_digits > 1 && idx.is_some_and(|x| x > ng) {
                    let shorter: String = digits.chars().take(max_digits - 1).collect();
                    idx = shorter.parse().ok();
                }
                match idx {
                    Some(n) => {
                        if ng > 0 {
                            if let Some(g) = n.checked_sub(1).and_then(|k| f.groups.get(k)) {
                                out.push_str(g);
                            }
                        }
                        i += 1 + n.to_string().len();
                    }
                    None => {
                        out.push('$');
                        i += 1;
                    }
                }
            }
        }
    }
    out
}

fn f_replace(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let pattern = arg(a, 1);
    if let Some(Value::Str(p)) = pattern {
        if p.is_empty() {
            return Err(Error::code("D3010"));
        }
    }
    let limit = limit_arg(a, 3, "D3011")?;
    let Some(pattern) = pattern else {
        return Ok(None);
    };
    let replacement = arg(a, 2).cloned();
    if limit == Some(0) {
        return Ok(Some(Value::str(s)));
    }
    if let Value::Str(p) = pattern {
        let rep = match &replacement {
            Some(Value::Str(r)) => r.to_string(),
            Some(other) => string_of(other, false)?,
            None => return Ok(None),
        };
        let mut out = String::new();
        let mut rest = s;
        let mut count = 0;
        while let Some(i) = rest.find(&**p) {
            if limit.is_some_and(|l| count >= l) {
                break;
            }
            out.push_str(&rest[..i]);
            out.push_str(&rep);
            if out.len() > MAX_STRING_BYTES {
                return Err(too_large("string"));
            }
            rest = &rest[i + p.len()..];
            count += 1;
        }
        out.push_str(rest);
        return Ok(Some(Value::string(out)));
    }
    let found = find_all(ev, env, pattern, s, limit)?;
    let mut out = String::new();
    let mut pos = 0;
    for f in &found {
        // A custom matcher may report any offsets; never slice backwards.
        out.push_str(s.get(pos..f.start).unwrap_or(""));
        let rep = match &replacement {
            Some(Value::Str(r)) => expand_replacement(r, f),
            Some(func @ Value::Func(_)) => {
                let mut o = Object::new();
                o.insert("match".into(), Value::str(&f.text));
                o.insert(
                    "index".into(),
                    Value::Num(value::utf16_len(&s[..f.start]) as f64),
                );
                o.insert(
                    "groups".into(),
                    Value::array(f.groups.iter().map(|g| Value::str(g)).collect()),
                );
                match ev.apply(Some(func), vec![Some(Value::object(o))], None, env)? {
                    Some(Value::Str(r)) => r.to_string(),
                    other => {
                        return Err(Error::code("D3012")
                            .value(other.as_ref().map(describe).unwrap_or_default()))
                    }
                }
            }
            _ => return Ok(None),
        };
        out.push_str(&rep);
        if out.len() > MAX_STRING_BYTES {
            return Err(too_large("string"));
        }
        pos = pos.max(f.end);
    }
    out.push_str(s.get(pos..).unwrap_or(""));
    Ok(Some(Value::string(out)))
}

fn f_split(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let limit = limit_arg(a, 2, "D3020")?;
    let Some(sep) = arg(a, 1) else {
        return Ok(None);
    };
    let mut out: Vec<Value> = Vec::new();
    if limit == Some(0) {
        return Ok(Some(Value::array(out)));
    }
    match sep {
        Value::Str(p) => {
            if p.is_empty() {
                out = s.chars().map(|c| Value::string(c.to_string())).collect();
            } else {
                out = s.split(&**p).map(Value::str).collect();
            }
            if let Some(l) = limit {
                out.truncate(l);
            }
        }
        other => {
            let found = find_all(ev, env, other, s, limit)?;
            let mut start = 0;
            for f in &found {
                out.push(Value::str(s.get(start..f.start).unwrap_or("")));
                start = f.end;
            }
            if limit.is_none_or(|l| found.len() < l) {
                out.push(Value::str(s.get(start..).unwrap_or("")));
            }
        }
    }
    Ok(Some(Value::array(out)))
}

fn f_join(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(v) = arg(a, 0) else { return Ok(None) };
    let sep = str_arg(a, 1).unwrap_or("");
    let parts: Vec<String> = v
        .members()
        .iter()
        .map(|x| x.as_str().unwrap_or("").to_string())
        .collect();
    check_string(parts.join(sep)).map(Some)
}

// ---------------------------------------------------------------- numbers

fn f_number(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(v) = arg(a, 0) else { return Ok(None) };
    let n = match v {
        Value::Num(n) => *n,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => parse_number_string(s)
            .ok_or_else(|| Error::code("D3030").value(describe(v)).index(1))?,
        other => return Err(Error::code("D3030").value(describe(other)).index(1)),
    };
    Ok(Some(Value::Num(n)))
}

fn parse_number_string(s: &str) -> Option<f64> {
    let decimal = regex_is_decimal(s);
    if decimal {
        let n: f64 = s.parse().ok()?;
        return n.is_finite().then_some(n);
    }
    let lower = s.get(..2).map(str::to_ascii_lowercase);
    let radix = match lower.as_deref() {
        Some("0x") => 16,
        Some("0o") => 8,
        Some("0b") => 2,
        _ => return None,
    };
    let digits = s.get(2..)?;
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, radix).ok().map(|n| n as f64)
}

fn regex_is_decimal(s: &str) -> bool {
    // ^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == start {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let fs = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == fs {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let es = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == es {
            return false;
        }
    }
    i == b.len()
}

fn f_floor(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(num_arg(a, 0).map(|n| Value::Num(n.floor())))
}

fn f_ceil(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(num_arg(a, 0).map(|n| Value::Num(n.ceil())))
}

fn f_abs(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(num_arg(a, 0).map(|n| Value::Num(n.abs())))
}

fn f_sqrt(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(n) = num_arg(a, 0) else {
        return Ok(None);
    };
    if n < 0.0 {
        return Err(Error::code("D3060")
            .index(1)
            .value(value::format_number_js(n)));
    }
    Ok(Some(Value::Num(n.sqrt())))
}

fn f_power(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(b) = num_arg(a, 0) else {
        return Ok(None);
    };
    let e = num_arg(a, 1).unwrap_or(f64::NAN);
    let r = b.powf(e);
    if !r.is_finite() {
        return Err(Error::code("D3061")
            .index(1)
            .value(value::format_number_js(b)));
    }
    Ok(Some(Value::Num(r)))
}

/// JavaScript `Math.round` (halves round towards +infinity).
fn js_round(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// Parses `"<mantissa>e<exp>"` as JS's unary `+` does.
fn shift_decimal(n: f64, by: i64) -> f64 {
    let s = value::format_number_js(n);
    let (m, e) = match s.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i64>().unwrap_or(0)),
        None => (s.clone(), 0),
    };
    format!("{m}e{}", e + by).parse().unwrap_or(f64::NAN)
}

fn f_round(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(n) = num_arg(a, 0) else {
        return Ok(None);
    };
    let precision = num_arg(a, 1).unwrap_or(0.0).trunc() as i64;
    Ok(Some(Value::Num(round_half_even(n, precision))))
}

/// jsonata's `$round`: half-to-even at a decimal precision, shifting via the decimal string so
/// that binary noise does not decide ties.
pub(crate) fn round_half_even(n: f64, precision: i64) -> f64 {
    let mut n = n;
    if precision != 0 {
        n = shift_decimal(n, precision);
    }
    let mut r = js_round(n);
    let diff = r - n;
    if diff.abs() == 0.5 && (r % 2.0).abs() == 1.0 {
        r -= 1.0;
    }
    if precision != 0 {
        r = shift_decimal(r, -precision);
    }
    if r == 0.0 {
        r = 0.0;
    }
    r
}

fn f_random(ev: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    // Step Functions' `$random(seed)`: the same seed always gives the same number.
    if let Some(seed) = num_arg(a, 0) {
        let bits = entropy::splitmix64(seed.to_bits());
        return Ok(Some(Value::Num(entropy::unit_interval(bits))));
    }
    Ok(Some(Value::Num(ev.env.random())))
}

fn f_boolean(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(boolean_of(arg(a, 0)).map(Value::Bool))
}

fn f_not(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(boolean_of(arg(a, 0)).map(|b| Value::Bool(!b)))
}

// ---------------------------------------------------------------- higher order

fn hof_args(func: &Value, v: Value, i: Value, all: &Value) -> Vec<Option<Value>> {
    let arity = match func {
        Value::Func(f) => f.arity(),
        _ => 1,
    };
    let mut args = vec![Some(v)];
    if arity >= 2 {
        args.push(Some(i));
    }
    if arity >= 3 {
        args.push(Some(all.clone()));
    }
    args
}

fn f_map(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(arr) = arg(a, 0) else {
        return Ok(None);
    };
    let Some(func) = arg(a, 1) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (i, v) in arr.members().into_iter().enumerate() {
        let args = hof_args(func, v, Value::Num(i as f64), arr);
        if let Some(r) = ev.apply(Some(func), args, None, env)? {
            out.push(r);
        }
    }
    Ok(Some(Value::sequence(out)))
}

fn f_filter(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(arr) = arg(a, 0) else {
        return Ok(None);
    };
    let Some(func) = arg(a, 1) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (i, v) in arr.members().into_iter().enumerate() {
        let args = hof_args(func, v.clone(), Value::Num(i as f64), arr);
        let r = ev.apply(Some(func), args, None, env)?;
        if boolean_of(r.as_ref()) == Some(true) {
            out.push(v);
        }
    }
    Ok(Some(Value::sequence(out)))
}

fn f_single(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(arr) = arg(a, 0) else {
        return Ok(None);
    };
    let func = arg(a, 1);
    let mut found: Option<Value> = None;
    for (i, v) in arr.members().into_iter().enumerate() {
        let positive = match func {
            Some(f) => {
                let args = hof_args(f, v.clone(), Value::Num(i as f64), arr);
                boolean_of(ev.apply(Some(f), args, None, env)?.as_ref()) == Some(true)
            }
            None => true,
        };
        if positive {
            if found.is_some() {
                return Err(Error::code("D3138").index(i));
            }
            found = Some(v);
        }
    }
    match found {
        Some(v) => Ok(Some(v)),
        None => Err(Error::code("D3139")),
    }
}

fn f_reduce(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(arr) = arg(a, 0) else {
        return Ok(None);
    };
    let Some(func) = arg(a, 1) else {
        return Ok(None);
    };
    let arity = match func {
        Value::Func(f) => f.arity(),
        _ => 0,
    };
    if arity < 2 {
        return Err(Error::code("D3050").index(1));
    }
    let list = arr.members();
    let (mut result, mut index) = match arg(a, 2) {
        None if !list.is_empty() => (list.first().cloned(), 1),
        init => (init.cloned(), 0),
    };
    while index < list.len() {
        let mut args = vec![result, list.get(index).cloned()];
        if arity >= 3 {
            args.push(Some(Value::Num(index as f64)));
        }
        if arity >= 4 {
            args.push(Some(arr.clone()));
        }
        result = ev.apply(Some(func), args, None, env)?;
        index += 1;
    }
    Ok(result)
}

fn f_sift(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(Value::Obj(o)) = arg(a, 0) else {
        return Ok(None);
    };
    let Some(func) = arg(a, 1) else {
        return Ok(None);
    };
    let obj = Value::Obj(o.clone());
    let mut out = Object::new();
    for (k, v) in o.iter() {
        let args = hof_args(func, v.clone(), Value::str(k), &obj);
        if boolean_of(ev.apply(Some(func), args, None, env)?.as_ref()) == Some(true) {
            out.insert(k.clone(), v.clone());
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::object(out)))
}

fn f_each(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(Value::Obj(o)) = arg(a, 0) else {
        return Ok(None);
    };
    let Some(func) = arg(a, 1) else {
        return Ok(None);
    };
    let obj = Value::Obj(o.clone());
    let mut out = Vec::new();
    for (k, v) in o.iter() {
        let args = hof_args(func, v.clone(), Value::str(k), &obj);
        if let Some(r) = ev.apply(Some(func), args, None, env)? {
            out.push(r);
        }
    }
    Ok(Some(Value::sequence(out)))
}

fn f_zip(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let lists: Vec<Vec<Value>> = a
        .iter()
        .map(|x| match x {
            Some(Value::Arr(arr)) => arr.items.clone(),
            _ => vec![],
        })
        .collect();
    let len = lists.iter().map(Vec::len).min().unwrap_or(0);
    let out = (0..len)
        .map(|i| Value::array(lists.iter().filter_map(|l| l.get(i).cloned()).collect()))
        .collect();
    Ok(Some(Value::array(out)))
}

fn f_sort(ev: &mut Evaluator, a: Args, _: Option<&Value>, env: &Frame) -> R {
    let Some(arr) = arg(a, 0) else {
        return Ok(None);
    };
    let list = arr.members();
    if list.len() <= 1 {
        return Ok(Some(arr.clone()));
    }
    let sorted = match arg(a, 1) {
        None => {
            let all_num = list.iter().all(|v| matches!(v, Value::Num(_)));
            let all_str = list.iter().all(|v| matches!(v, Value::Str(_)));
            if !all_num && !all_str {
                return Err(Error::code("D3070").index(1));
            }
            merge_sort(list, &mut |x: &Value, y: &Value| {
                Ok(match (x, y) {
                    (Value::Num(p), Value::Num(q)) => p > q,
                    (Value::Str(p), Value::Str(q)) => {
                        cmp_js_str(p, q) == std::cmp::Ordering::Greater
                    }
                    _ => false,
                })
            })?
        }
        Some(func) => {
            let func = func.clone();
            merge_sort(list, &mut |x: &Value, y: &Value| {
                let r = ev.apply(
                    Some(&func),
                    vec![Some(x.clone()), Some(y.clone())],
                    None,
                    env,
                )?;
                Ok(boolean_of(r.as_ref()) == Some(true))
            })?
        }
    };
    Ok(Some(Value::array(sorted)))
}

fn f_shuffle(ev: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(arr) = arg(a, 0) else {
        return Ok(None);
    };
    let mut list = arr.members();
    if list.len() <= 1 {
        return Ok(Some(arr.clone()));
    }
    // Fisher-Yates with the caller's random source.
    for i in (1..list.len()).rev() {
        let j = ((ev.env.random() * (i + 1) as f64).floor() as usize).min(i);
        list.swap(i, j);
    }
    Ok(Some(Value::array(list)))
}

fn f_distinct(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(v) = arg(a, 0) else { return Ok(None) };
    let Value::Arr(arr) = v else {
        return Ok(Some(v.clone()));
    };
    if arr.items.len() <= 1 {
        return Ok(Some(v.clone()));
    }
    let mut out: Vec<Value> = Vec::new();
    for x in &arr.items {
        if !out.iter().any(|y| deep_equal(x, y)) {
            out.push(x.clone());
        }
    }
    Ok(Some(if arr.sequence {
        Value::sequence(out)
    } else {
        Value::array(out)
    }))
}

// ---------------------------------------------------------------- objects and arrays

fn keys_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Arr(a) => {
            for x in &a.items {
                keys_of(x, out);
            }
        }
        Value::Obj(o) => {
            for k in o.keys() {
                if !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
        _ => {}
    }
}

fn f_keys(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let mut out = Vec::new();
    if let Some(v) = arg(a, 0) {
        keys_of(v, &mut out);
    }
    Ok(Some(Value::sequence(
        out.into_iter().map(Value::string).collect(),
    )))
}

fn f_lookup(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(k) = str_arg(a, 1) else {
        return Ok(None);
    };
    Ok(crate::eval::lookup(arg(a, 0), k))
}

fn f_append(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    append_checked(arg(a, 0).cloned(), arg(a, 1).cloned())
}

fn f_exists(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(Some(Value::Bool(arg(a, 0).is_some())))
}

fn spread(v: &Value) -> Value {
    match v {
        Value::Arr(a) => {
            let mut out: Option<Value> = Some(Value::sequence(vec![]));
            for x in &a.items {
                out = append(out, Some(spread(x)));
            }
            out.unwrap_or_else(|| Value::sequence(vec![]))
        }
        Value::Obj(o) => Value::sequence(
            o.iter()
                .map(|(k, x)| {
                    let mut m = Object::new();
                    m.insert(k.clone(), x.clone());
                    Value::object(m)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn f_spread(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(arg(a, 0).map(spread))
}

fn f_merge(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(v) = arg(a, 0) else { return Ok(None) };
    let mut out = Object::new();
    for x in v.members() {
        if let Value::Obj(o) = x {
            for (k, y) in o.iter() {
                out.insert(k.clone(), y.clone());
            }
        }
    }
    Ok(Some(Value::object(out)))
}

fn f_reverse(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(v) = arg(a, 0) else { return Ok(None) };
    let list = v.members();
    if list.len() <= 1 {
        return Ok(Some(v.clone()));
    }
    Ok(Some(Value::array(list.into_iter().rev().collect())))
}

fn f_error(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let msg = str_arg(a, 0).unwrap_or("$error() function evaluated");
    Err(Error::new("D3137", msg))
}

fn f_assert(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    if !matches!(arg(a, 0), Some(Value::Bool(true))) {
        let msg = str_arg(a, 1).unwrap_or("$assert() statement failed");
        return Err(Error::new("D3141", msg));
    }
    Ok(None)
}

fn f_type(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(v) = arg(a, 0) else { return Ok(None) };
    let t = match v {
        Value::Null => "null",
        Value::Num(_) => "number",
        Value::Str(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Arr(_) => "array",
        Value::Func(_) => "function",
        Value::Obj(_) => "object",
    };
    Ok(Some(Value::str(t)))
}

fn f_clone(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(arg(a, 0).map(deep_clone))
}

fn f_millis(ev: &mut Evaluator, _: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(Some(Value::Num(ev.now_ms() as f64)))
}

// ---------------------------------------------------------------- encoding

/// `$base64decode` forgives what Node's `Buffer.from(s, 'base64')` does: the URL-safe
/// alphabet, and `=` or any other stray character anywhere, which it skips.
const NODE_BASE64: base64::Lenient = base64::Lenient {
    url_safe: true,
    padding_ends_data: false,
};

fn f_base64encode(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    // Node's Buffer.from(str, 'binary') keeps the low byte of each UTF-16 unit.
    let bytes: Vec<u8> = s.encode_utf16().map(|u| (u & 0xFF) as u8).collect();
    Ok(Some(Value::string(base64::encode(&bytes))))
}

fn f_base64decode(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let bytes = base64::decode_lenient(s, NODE_BASE64);
    Ok(Some(Value::string(
        bytes.iter().map(|b| char::from(*b)).collect(),
    )))
}

fn encode_uri(s: &str, keep: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c) || keep.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn decode_uri(s: &str, reserved: &str, fname: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    let malformed = || {
        let mut e = Error::code("D3140").value(s.to_string());
        e.message = format!("Malformed URL passed to ${fname}(): {s}");
        e
    };
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(malformed)?;
            let b = u8::from_str_radix(hex, 16).map_err(|_| malformed())?;
            if b < 0x80 && reserved.contains(b as char) {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(b);
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| malformed())
}

fn f_encode_url_component(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(str_arg(a, 0).map(|s| Value::string(encode_uri(s, ""))))
}

fn f_encode_url(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(str_arg(a, 0).map(|s| Value::string(encode_uri(s, ";,/?:@&=+$#"))))
}

fn f_decode_url_component(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    Ok(Some(Value::string(decode_uri(
        s,
        "",
        "decodeUrlComponent",
    )?)))
}

fn f_decode_url(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    Ok(Some(Value::string(decode_uri(
        s,
        ";,/?:@&=+$#",
        "decodeUrl",
    )?)))
}

fn f_eval(ev: &mut Evaluator, a: Args, input: Option<&Value>, env: &Frame) -> R {
    let Some(src) = str_arg(a, 0) else {
        return Ok(None);
    };
    let focus = match arg(a, 1) {
        Some(Value::Arr(arr)) if !arr.sequence => Some(Value::Arr(Rc::new(crate::value::Array {
            items: vec![Value::Arr(arr.clone())],
            sequence: true,
            outer_wrapper: true,
            ..Default::default()
        }))),
        Some(v) => Some(v.clone()),
        None => input.cloned(),
    };
    let depth = if ev.inline {
        crate::parser::INLINE_PARSE_DEPTH
    } else {
        crate::parser::MAX_PARSE_DEPTH
    };
    // A too-deep expression on the caller's stack reruns the whole evaluation on a large one.
    let is_retry = |e: &Error| e.code == crate::eval::RETRY_ON_LARGE_STACK;
    let ast = match crate::parser::parse_with_depth(src, depth) {
        Ok(ast) => ast,
        Err(e) if is_retry(&e) => return Err(e),
        Err(e) => return Err(Error::code("D3120").value(e.finish().message)),
    };
    match ev.eval(&ast, focus.as_ref(), env) {
        Err(e) if is_retry(&e) => Err(e),
        Err(e) => Err(Error::code("D3121").value(e.finish().message)),
        ok => ok,
    }
}

// ---------------------------------------------------------------- Step Functions additions

fn f_partition(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(arr) = arg(a, 0) else {
        return Ok(None);
    };
    let size = num_arg(a, 1).unwrap_or(0.0).floor();
    if size < 1.0 {
        return Err(Error::new(
            "D3150",
            "The second argument of $partition must be a positive integer",
        ));
    }
    let chunks = arr
        .members()
        .chunks(size as usize)
        .map(|c| Value::array(c.to_vec()))
        .collect();
    Ok(Some(Value::array(chunks)))
}

fn f_range(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let (Some(start), Some(end)) = (num_arg(a, 0), num_arg(a, 1)) else {
        return Ok(None);
    };
    let step = num_arg(a, 2).unwrap_or(1.0);
    let (start, end, step) = (start.floor(), end.floor(), step.floor());
    if step == 0.0 {
        return Err(Error::new("D3151", "The step of $range must not be zero"));
    }
    let count = ((end - start) / step).floor() + 1.0;
    if count > 1000.0 {
        return Err(Error::new(
            "D3152",
            "The $range function can generate at most 1000 items",
        ));
    }
    let mut out = Vec::new();
    let mut i = 0.0;
    while i < count {
        out.push(Value::Num(start + i * step));
        i += 1.0;
    }
    // AWS returns a sequence here: a single value comes back unwrapped (`$range(1, 9, 9)` is 1).
    Ok(Some(Value::sequence(out)))
}

fn f_uuid(ev: &mut Evaluator, _: Args, _: Option<&Value>, _: &Frame) -> R {
    Ok(Some(Value::string(ev.env.uuid())))
}

fn f_parse(_: &mut Evaluator, a: Args, _: Option<&Value>, _: &Frame) -> R {
    let Some(s) = str_arg(a, 0) else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| {
        Error::new(
            "D3153",
            format!("The argument of $parse is not valid JSON: {e}"),
        )
    })?;
    Ok(Some(value::from_json(&v)))
}
