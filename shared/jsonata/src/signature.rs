//! Function signatures (`<s-nn?:s>`), validated the way jsonata-js's `signature.js` does: the
//! arguments' type letters are matched against a regex built from the signature.

use crate::value::Value;
use crate::Error;

#[derive(Debug, Clone)]
struct Param {
    regex: String,
    kind: String,
    array: bool,
    context: bool,
    context_regex: Option<regex::Regex>,
    subtype: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Signature {
    params: Vec<Param>,
    regex: regex::Regex,
    /// When every parameter matches exactly one argument (no `?`, `+` or `-`): the type
    /// letters each accepts. Such signatures are checked without running `regex`.
    classes: Option<Vec<Vec<char>>>,
}

/// The letters a parameter's regex accepts when it matches exactly one argument (`[snm]`, `f`).
fn single_class(regex: &str) -> Option<Vec<char>> {
    if regex == "f" {
        return Some(vec!['f']);
    }
    let inner = regex.strip_prefix('[')?.strip_suffix(']')?;
    if inner.contains(['[', ']', '^', '-', '\\']) {
        return None;
    }
    Some(inner.chars().collect())
}

fn array_type_name(sub: &str) -> &'static str {
    match sub {
        "a" => "arrays",
        "b" => "booleans",
        "f" => "functions",
        "n" => "numbers",
        "o" => "objects",
        "s" => "strings",
        _ => "values",
    }
}

impl Signature {
    pub fn parse(sig: &str) -> Result<Signature, Error> {
        let chars: Vec<char> = sig.chars().collect();
        let mut params: Vec<Param> = Vec::new();
        let blank = || Param {
            regex: String::new(),
            kind: String::new(),
            array: false,
            context: false,
            context_regex: None,
            subtype: None,
        };
        let mut param = blank();
        let mut position = 1;
        let find_closing = |start: usize, open: char, close: char| -> usize {
            let mut depth = 1;
            let mut p = start;
            while p < chars.len() {
                p += 1;
                match chars.get(p) {
                    Some(c) if *c == close => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Some(c) if *c == open => depth += 1,
                    _ => {}
                }
            }
            p
        };
        while position < chars.len() {
            let symbol = chars[position];
            if symbol == ':' {
                break;
            }
            match symbol {
                's' | 'n' | 'b' | 'l' | 'o' => {
                    param.regex = format!("[{symbol}m]");
                    param.kind = symbol.to_string();
                    params.push(std::mem::replace(&mut param, blank()));
                }
                'a' => {
                    param.regex = "[asnblfom]".into();
                    param.kind = "a".into();
                    param.array = true;
                    params.push(std::mem::replace(&mut param, blank()));
                }
                'f' => {
                    param.regex = "f".into();
                    param.kind = "f".into();
                    params.push(std::mem::replace(&mut param, blank()));
                }
                'j' => {
                    param.regex = "[asnblom]".into();
                    param.kind = "j".into();
                    params.push(std::mem::replace(&mut param, blank()));
                }
                'x' => {
                    param.regex = "[asnblfom]".into();
                    param.kind = "x".into();
                    params.push(std::mem::replace(&mut param, blank()));
                }
                '-' => {
                    if let Some(prev) = params.last_mut() {
                        prev.context = true;
                        prev.context_regex = regex::Regex::new(&format!("^{}$", prev.regex)).ok();
                        prev.regex.push('?');
                    }
                }
                '?' | '+' => {
                    if let Some(prev) = params.last_mut() {
                        prev.regex.push(symbol);
                    }
                }
                '(' => {
                    let end = find_closing(position, '(', ')');
                    let choice: String = chars
                        .get(position + 1..end.min(chars.len()))
                        .unwrap_or(&[])
                        .iter()
                        .collect();
                    if choice.contains('<') {
                        return Err(Error::code("S0402").value(choice));
                    }
                    param.regex = format!("[{choice}m]");
                    param.kind = format!("({choice})");
                    position = end;
                    params.push(std::mem::replace(&mut param, blank()));
                }
                '<' => {
                    let Some(prev) = params.last_mut() else {
                        return Err(Error::code("S0401"));
                    };
                    if prev.kind == "a" || prev.kind == "f" {
                        let end = find_closing(position, '<', '>');
                        prev.subtype = Some(
                            chars
                                .get(position + 1..end.min(chars.len()))
                                .unwrap_or(&[])
                                .iter()
                                .collect(),
                        );
                        position = end;
                    } else {
                        return Err(Error::code("S0401").value(prev.kind.clone()));
                    }
                }
                _ => {}
            }
            position += 1;
        }
        let re: String = params.iter().map(|p| format!("({})", p.regex)).collect();
        let regex = regex::Regex::new(&format!("^{re}$"))
            .map_err(|e| Error::new("S0401", format!("Invalid signature {sig}: {e}")))?;
        let classes = params.iter().map(|p| single_class(&p.regex)).collect();
        Ok(Signature {
            params,
            regex,
            classes,
        })
    }

    pub fn validate(
        &self,
        mut args: Vec<Option<Value>>,
        context: Option<&Value>,
    ) -> Result<Vec<Option<Value>>, Error> {
        // The type letters are ASCII: a typical call spells them without allocating.
        let mut letters = [0u8; 8];
        let long;
        let supplied: &str = if args.len() <= letters.len() {
            for (slot, a) in letters.iter_mut().zip(&args) {
                *slot = Value::sig_symbol(a.as_ref()) as u8;
            }
            std::str::from_utf8(letters.get(..args.len()).unwrap_or(&[])).unwrap_or("")
        } else {
            long = args
                .iter()
                .map(|a| Value::sig_symbol(a.as_ref()))
                .collect::<String>();
            &long
        };
        if self.match_simple(supplied) {
            // One argument per parameter, in place: only arrays expected as such may change.
            for (i, (param, single)) in self.params.iter().zip(supplied.chars()).enumerate() {
                if param.kind == "a" {
                    if let Some(slot) = args.get_mut(i) {
                        let matched = supplied.get(i..i + 1).unwrap_or("");
                        *slot = array_arg(param, single, matched, slot.take(), i)?;
                    }
                }
            }
            return Ok(args);
        }
        let Some(caps) = self.regex.captures(supplied) else {
            return Err(self.validation_error(&args, supplied));
        };
        // The byte range of `supplied` each parameter's group matched.
        let spans: Vec<(usize, usize)> = (1..=self.params.len())
            .map(|i| caps.get(i).map_or((0, 0), |m| (m.start(), m.end())))
            .collect();
        let mut out = Vec::with_capacity(self.params.len());
        let mut arg_index = 0;
        for (index, param) in self.params.iter().enumerate() {
            let (start, end) = spans.get(index).copied().unwrap_or((0, 0));
            let matched = supplied.get(start..end).unwrap_or("");
            if matched.is_empty() {
                if param.context {
                    let ctype = Value::sig_symbol(context).to_string();
                    if param
                        .context_regex
                        .as_ref()
                        .is_some_and(|r| r.is_match(&ctype))
                    {
                        out.push(context.cloned());
                    } else {
                        return Err(Error::code("T0411")
                            .value(describe(context))
                            .index(arg_index + 1));
                    }
                } else {
                    out.push(args.get(arg_index).cloned().flatten());
                    arg_index += 1;
                }
                continue;
            }
            for single in matched.chars() {
                let arg = args.get(arg_index).cloned().flatten();
                if param.kind == "a" {
                    out.push(array_arg(param, single, matched, arg, arg_index)?);
                } else {
                    out.push(arg);
                }
                arg_index += 1;
            }
        }
        Ok(out)
    }

    /// Whether `regex` matches with one letter per group, for signatures whose parameters each
    /// take exactly one argument; `false` when the signature is not of that form or the
    /// arguments do not match (the regex then decides, and reports the error).
    fn match_simple(&self, supplied: &str) -> bool {
        let Some(classes) = &self.classes else {
            return false;
        };
        supplied.len() == classes.len()
            && supplied
                .chars()
                .zip(classes)
                .all(|(c, class)| class.contains(&c))
    }

    fn validation_error(&self, args: &[Option<Value>], supplied: &str) -> Error {
        let mut partial = String::from("^");
        let mut good_to = 0;
        for p in &self.params {
            partial.push_str(&p.regex);
            let m = regex::Regex::new(&partial)
                .ok()
                .and_then(|r| r.find(supplied).map(|m| m.end()));
            match m {
                None => break,
                Some(end) => good_to = end,
            }
        }
        Error::code("T0410")
            .value(describe(args.get(good_to).and_then(|a| a.as_ref())))
            .index(good_to + 1)
    }
}

/// An argument for an array parameter (`a`, `a<n>`, ...): checks the item type and wraps a
/// single value (type letter `single`, within the group's `matched` letters) in an array.
fn array_arg(
    param: &Param,
    single: char,
    matched: &str,
    arg: Option<Value>,
    arg_index: usize,
) -> Result<Option<Value>, Error> {
    if single == 'm' {
        return Ok(None);
    }
    let mut ok = true;
    if let Some(sub) = &param.subtype {
        if single != 'a' && matched != sub {
            ok = false;
        } else if single == 'a' {
            if let Some(Value::Arr(arr)) = &arg {
                if let Some(first) = arr.items.first() {
                    let it = Value::sig_symbol(Some(first));
                    if !sub.starts_with(it) {
                        ok = false;
                    } else {
                        ok = arr.items.iter().all(|v| Value::sig_symbol(Some(v)) == it);
                    }
                }
            }
        }
    }
    if !ok {
        return Err(Error::code("T0412")
            .index(arg_index + 1)
            .value2(array_type_name(param.subtype.as_deref().unwrap_or(""))));
    }
    Ok(match arg {
        Some(v) if single != 'a' => Some(Value::array(vec![v])),
        other => other,
    })
}

fn describe(v: Option<&Value>) -> String {
    match v {
        None => "undefined".into(),
        Some(v) => crate::value::stringify(v, false).unwrap_or_default(),
    }
}
