//! Syntactic checks of the strings a definition carries: JSONPath paths, intrinsic function
//! calls, RFC 3339 timestamps, variable names and JSONata expressions.
//!
//! Paths and intrinsic calls are parsed by the same crates that evaluate them
//! (`cairn-jsonpath`, `cairn-intrinsics`), so a definition validates exactly when its strings
//! can run.

/// Where a path starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Root {
    /// `$`: the state's input (or whatever the field reads).
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a variable.
    Variable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PathShape {
    pub(crate) root: Root,
    /// True when the path can select at most one node (a Reference Path).
    pub(crate) definite: bool,
}

/// Reads a JSONPath as Step Functions accepts it (Jayway syntax, `$$` and `$variable` roots).
pub(crate) fn path_shape(text: &str) -> Option<PathShape> {
    if let Some(shape) = plain_path_shape(text) {
        return Some(shape);
    }
    let path = cairn_jsonpath::Path::parse(text).ok()?;
    let root = match path.root() {
        cairn_jsonpath::Root::Input => Root::Input,
        cairn_jsonpath::Root::Context => Root::Context,
        cairn_jsonpath::Root::Variable(_) => Root::Variable,
    };
    Some(PathShape {
        root,
        definite: path.is_definite(),
    })
}

/// The shape of the commonest paths, `$`, `$.a.b`, `$$.a.b` and `$var.a.b` with ASCII word names, read
/// without building the parsed path (most fields of most definitions are such paths); `None`
/// for anything else, which the parser then reads. The JSONPath parser accepts every path this
/// accepts, with the same root, as a path of single names (so definite).
fn plain_path_shape(text: &str) -> Option<PathShape> {
    let word = |bytes: &[u8]| {
        bytes
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count()
    };
    let (root, mut rest) = match text.strip_prefix("$$") {
        Some(rest) => (Root::Context, rest.as_bytes()),
        None => {
            let rest = text.strip_prefix('$')?.as_bytes();
            match rest.first() {
                // The parser reads a variable's name as far as it is alphanumeric or `_`.
                Some(first) if first.is_ascii_alphabetic() || *first == b'_' => {
                    let name = word(rest);
                    match rest.get(name) {
                        None | Some(b'.') => (Root::Variable, &rest[name..]),
                        Some(_) => return None,
                    }
                }
                _ => (Root::Input, rest),
            }
        }
    };
    while let Some(after) = rest.strip_prefix(b".") {
        let name = word(after);
        if name == 0 {
            return None;
        }
        rest = &after[name..];
    }
    rest.is_empty().then_some(PathShape {
        root,
        definite: true,
    })
}

/// True when `text` is a well-formed call of a known intrinsic function.
pub(crate) fn is_intrinsic_call(text: &str) -> bool {
    cairn_intrinsics::parse(text).is_ok()
}

pub(crate) fn looks_like_intrinsic(text: &str) -> bool {
    cairn_intrinsics::is_intrinsic(text.trim_start())
}

/// RFC 3339 as Step Functions reads it: uppercase `T`, `Z` or a numeric offset.
pub(crate) fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    let number = |range: std::ops::Range<usize>| -> u32 {
        text.get(range)
            .and_then(|s| s.parse().ok())
            .unwrap_or(u32::MAX)
    };
    if bytes.len() < 20
        || !digits(0..4)
        || bytes.get(4) != Some(&b'-')
        || !digits(5..7)
        || bytes.get(7) != Some(&b'-')
        || !digits(8..10)
        || bytes.get(10) != Some(&b'T')
        || !digits(11..13)
        || bytes.get(13) != Some(&b':')
        || !digits(14..16)
        || bytes.get(16) != Some(&b':')
        || !digits(17..19)
    {
        return false;
    }
    if !(1..=12).contains(&number(5..7))
        || !(1..=31).contains(&number(8..10))
        || number(11..13) > 23
        || number(14..16) > 59
        || number(17..19) > 60
    {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return false;
        }
        rest = &fraction[end..];
    }
    if rest == "Z" {
        return true;
    }
    let offset = rest.as_bytes();
    offset.len() == 6
        && matches!(offset.first(), Some(b'+' | b'-'))
        && offset.get(3) == Some(&b':')
        && rest
            .get(1..3)
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_digit()))
        && rest
            .get(4..6)
            .is_some_and(|m| m.bytes().all(|b| b.is_ascii_digit()))
}

pub(crate) fn is_name_start(c: char) -> bool {
    unicode_ident::is_xid_start(c) || c == '_'
}

pub(crate) fn is_name_continue(c: char) -> bool {
    unicode_ident::is_xid_continue(c)
}

/// A JSONata expression is a whole string `{% ... %}`.
pub(crate) fn jsonata_body(text: &str) -> Option<&str> {
    text.strip_prefix("{%")?.strip_suffix("%}")
}

/// What a JSONata expression reads that AWS refuses at creation time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum JsonataReference {
    DoubleDollar,
    StatesResult,
    StatesErrorOutput,
    /// A call of `$eval`, which Step Functions does not offer (`$parse` replaces it).
    Eval,
    /// A field of the (absent) input document, e.g. `phone` in `{% phone.number %}`.
    TopLevel(String),
}

/// Finds the references AWS checks, outside string literals and comments.
pub(crate) fn jsonata_references(body: &str) -> Vec<JsonataReference> {
    let code = strip_literals(body);
    let mut found = Vec::new();
    if let Some(name) = bare_path_head(body) {
        found.push(JsonataReference::TopLevel(name.to_owned()));
    }
    let chars: Vec<char> = code.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        if chars.get(index) != Some(&'$') {
            index += 1;
            continue;
        }
        if chars.get(index + 1) == Some(&'$') {
            found.push(JsonataReference::DoubleDollar);
            index += 2;
            continue;
        }
        let name_end = (index + 1..chars.len())
            .find(|&i| !chars.get(i).is_some_and(|c| is_name_continue(*c)))
            .unwrap_or(chars.len());
        let name: String = chars
            .get(index + 1..name_end)
            .unwrap_or(&[])
            .iter()
            .collect();
        index = name_end;
        if name == "eval" {
            let mut cursor = name_end;
            while chars.get(cursor).is_some_and(|c| c.is_whitespace()) {
                cursor += 1;
            }
            if chars.get(cursor) == Some(&'(') {
                found.push(JsonataReference::Eval);
            }
            continue;
        }
        if name != "states" {
            continue;
        }
        let mut cursor = name_end;
        while chars.get(cursor).is_some_and(|c| c.is_whitespace()) {
            cursor += 1;
        }
        if chars.get(cursor) != Some(&'.') {
            continue;
        }
        cursor += 1;
        while chars.get(cursor).is_some_and(|c| c.is_whitespace()) {
            cursor += 1;
        }
        let field_end = (cursor..chars.len())
            .find(|&i| !chars.get(i).is_some_and(|c| is_name_continue(*c)))
            .unwrap_or(chars.len());
        let field: String = chars.get(cursor..field_end).unwrap_or(&[]).iter().collect();
        match field.as_str() {
            "result" => found.push(JsonataReference::StatesResult),
            "errorOutput" => found.push(JsonataReference::StatesErrorOutput),
            _ => {}
        }
        index = field_end;
    }
    found
}

/// Blanks out string literals and `/* */` comments so their contents are not read as code.
fn strip_literals(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                let mut escaped = false;
                for inner in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if inner == '\\' {
                        escaped = true;
                    } else if inner == c {
                        break;
                    }
                }
                out.push(' ');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                for inner in chars.by_ref() {
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The first name of an expression that is nothing but a plain path (`phone`, `a.b.c`): JSONata
/// states have no input document, so such a path can only be a mistake. Only this unambiguous
/// shape is recognised; a name nested inside a larger expression may be bound by its context.
fn bare_path_head(body: &str) -> Option<&str> {
    let body = body.trim();
    let mut steps = body.split('.');
    let head = steps.next()?;
    let is_name = |step: &str| {
        let mut chars = step.chars();
        chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && chars.all(|c| c.is_alphanumeric() || c == '_')
    };
    let keyword = matches!(
        head,
        "true" | "false" | "null" | "and" | "or" | "in" | "function"
    );
    (is_name(head) && !keyword && steps.all(is_name)).then_some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut must agree with the parser wherever it answers.
    #[test]
    fn plain_paths_read_as_the_parser_reads_them() {
        let samples = [
            "$",
            "$$",
            "$.a",
            "$.i",
            "$$.Execution.Id",
            "$.a.b_c.D9",
            "$.0",
            "$._",
            "$.a1.2b",
            "$.",
            "$..a",
            "$.a.",
            "$a",
            "$a.b",
            "$$$",
            "$$a",
            "$.a[0]",
            "$.a b",
            "$.a-b",
            "$.é",
            "$.a.*",
            "",
            "a",
            "$.length()",
            "$[0]",
            "$.a..b",
            " $.a",
            "$.a ",
            "$v",
            "$_v2.a",
            "$varname.varfield.x_1",
            "$vé",
            "$v[0]",
            "$v.",
            "$v..a",
            "$1",
            "$v-a",
            "$v.a b",
            "$v$",
        ];
        let mut answered = 0;
        for sample in samples {
            let Some(shape) = plain_path_shape(sample) else {
                continue;
            };
            answered += 1;
            let path = cairn_jsonpath::Path::parse(sample).expect("the parser accepts it");
            let root = match path.root() {
                cairn_jsonpath::Root::Input => Root::Input,
                cairn_jsonpath::Root::Context => Root::Context,
                cairn_jsonpath::Root::Variable(_) => Root::Variable,
            };
            assert_eq!(
                (shape.root, shape.definite),
                (root, path.is_definite()),
                "{sample}"
            );
        }
        assert_eq!(answered, 14);
    }
}
