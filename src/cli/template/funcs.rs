//! The functions of docker's templates: Go's builtins that formats use
//! and docker's own (`json`, `join`, `split`, `title`, `pad`, `truncate`…).

use super::{go_print, truth, type_name};
use serde_json::Value;

/// `json.Marshal`'s output: `<`, `>`, `&`, U+2028 and U+2029 escaped.
pub fn go_json(v: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in v.to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

const FUNCS: &[&str] = &[
    "json", "join", "split", "upper", "lower", "title", "pad", "truncate", "len", "index", "print", "println",
    "printf", "eq", "ne", "not", "and", "or", "lt", "le", "gt", "ge",
];

pub(super) fn func_known(name: &str) -> bool {
    FUNCS.contains(&name)
}

fn text(v: &Value) -> String {
    go_print(v, false)
}

fn want(args: &[Value], n: usize) -> Result<(), String> {
    match args.len() == n {
        true => Ok(()),
        false => Err(format!("wrong number of args: want {n} got {}", args.len())),
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).ok_or_else(|| "incomparable".to_string())
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err("incompatible types for comparison".into()),
    }
}

/// Go's `title`: the first letter of each word upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

/// docker's own functions, on text: `None` when `name` is not one.
fn text_func(name: &str, args: &[Value]) -> Result<Option<Value>, String> {
    let s = |v: &Value| text(v);
    Ok(Some(match name {
        // docker's: json.Encoder without HTML escaping, newline trimmed.
        "json" => {
            want(args, 1)?;
            Value::String(serde_json::to_string(&args[0]).map_err(|e| e.to_string())?)
        }
        "join" => {
            want(args, 2)?;
            let items = match &args[0] {
                Value::Array(a) => a.iter().map(s).collect::<Vec<_>>(),
                Value::Null => Vec::new(),
                other => {
                    return Err(format!(
                        "wrong type for value; expected []string; got {}",
                        type_name(other)
                    ));
                }
            };
            Value::String(items.join(&s(&args[1])))
        }
        "split" => {
            want(args, 2)?;
            let (a, sep) = (s(&args[0]), s(&args[1]));
            Value::Array(a.split(sep.as_str()).map(|p| Value::String(p.into())).collect())
        }
        "upper" | "lower" | "title" => {
            want(args, 1)?;
            let a = s(&args[0]);
            Value::String(match name {
                "upper" => a.to_uppercase(),
                "lower" => a.to_lowercase(),
                _ => title(&a),
            })
        }
        // docker's padWithSpace(source, prefix, suffix int).
        "pad" => {
            want(args, 3)?;
            let n = |v: &Value| v.as_u64().unwrap_or(0) as usize;
            let a = s(&args[0]);
            if a.is_empty() {
                Value::String(a)
            } else {
                Value::String(format!("{}{a}{}", " ".repeat(n(&args[1])), " ".repeat(n(&args[2]))))
            }
        }
        "truncate" => {
            want(args, 2)?;
            let n = args[1].as_u64().unwrap_or(0) as usize;
            Value::String(s(&args[0]).chars().take(n).collect())
        }
        _ => return Ok(None),
    }))
}

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    if let Some(v) = text_func(name, &args)? {
        return Ok(v);
    }
    let s = |v: &Value| text(v);
    Ok(match name {
        "len" => {
            want(&args, 1)?;
            Value::from(match &args[0] {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::String(t) => t.len(),
                Value::Null => 0,
                other => return Err(format!("len of type {}", type_name(other))),
            })
        }
        "index" => {
            let mut it = args.into_iter();
            let mut v = it
                .next()
                .ok_or("wrong number of args for index: want at least 1 got 0")?;
            for key in it {
                v = match (v, &key) {
                    (Value::Array(a), Value::Number(n)) => {
                        let i = n.as_u64().unwrap_or(u64::MAX) as usize;
                        let len = a.len();
                        a.into_iter()
                            .nth(i)
                            .ok_or(format!("index out of range: {i} (len {len})"))?
                    }
                    (Value::Object(mut o), Value::String(k)) => o.remove(k).unwrap_or(Value::Null),
                    (Value::Null, _) => return Err("index of untyped nil".into()),
                    (other, _) => return Err(format!("can't index item of type {}", type_name(&other))),
                };
            }
            v
        }
        // Go's Sprint puts spaces between operands when neither is a string.
        "print" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 && !a.is_string() && !args[i - 1].is_string() {
                    out.push(' ');
                }
                out += &s(a);
            }
            Value::String(out)
        }
        "println" => Value::String(args.iter().map(s).collect::<Vec<_>>().join(" ") + "\n"),
        "printf" => Value::String(printf(&args)?),
        "eq" | "ne" => {
            if args.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            let eq = args[1..].iter().any(|b| b == &args[0]);
            Value::Bool(if name == "eq" { eq } else { !eq })
        }
        "lt" | "le" | "gt" | "ge" => {
            want(&args, 2)?;
            let o = compare(&args[0], &args[1])?;
            Value::Bool(match name {
                "lt" => o.is_lt(),
                "le" => o.is_le(),
                "gt" => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        "not" => {
            want(&args, 1)?;
            Value::Bool(!truth(&args[0]))
        }
        // Go's and/or return the deciding operand.
        "and" => args
            .iter()
            .find(|a| !truth(a))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null),
        "or" => args
            .iter()
            .find(|a| truth(a))
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Null),
        _ => return Err(format!("function {name:?} not defined")),
    })
}

/// `%s`, `%v`, `%d`, `%q` and `%%`: what docker formats use.
fn printf(args: &[Value]) -> Result<String, String> {
    let fmt = args.first().map(text).ok_or("wrong number of args for printf")?;
    let mut rest = args[1..].iter();
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb @ ('s' | 'v' | 'd' | 'q')) => match rest.next() {
                Some(a) if verb == 'q' => out += &serde_json::to_string(&text(a)).unwrap_or_default(),
                Some(a) => out += &text(a),
                None => out += &format!("%!{verb}(MISSING)"),
            },
            Some(other) => out += &format!("%!{other}(unsupported)"),
            None => out += "%!(NOVERB)",
        }
    }
    Ok(out)
}
