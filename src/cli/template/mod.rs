//! Docker's `--format`: the subset of Go's `text/template` that docker
//! users write, over a `serde_json::Value` (what the daemon sent, or the
//! docker CLI's formatter fields for list commands).
//!
//! Our own small interpreter rather than the `gtmpl` crate: gtmpl (MIT,
//! 0.7.1, last released August 2021, "passively maintained", edition 2018
//! with no stated MSRV) brings lazy_static, percent-encoding, anyhow,
//! thiserror 1 and its own `gtmpl_value::Value`, into which every JSON
//! document would have to be converted; it has none of docker's functions
//! (`json`, `join`, `title`, `split`, `pad`, `truncate`) and its own error
//! texts, while scripts compare docker's (`map has no entry for key`). What
//! docker's formats use is small: fields, pipelines, `range`/`if`/`with`,
//! variables and a dozen functions, about 600 lines here.
//!
//! Values are printed as Go's `fmt` prints the `interface{}` that
//! `json.Decoder.UseNumber` gives (what `docker inspect -f` runs on): a
//! string as is, a number as its JSON text, `[a b]` for a list,
//! `map[k:v]` for a map (keys sorted), `<no value>` for a null at the top
//! and `<nil>` inside. A missing map key is an error, as docker's
//! `missingkey=error`.

use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    /// Go's `template: :LINE:COL: MESSAGE`.
    #[error("template: :{line}:{col}: {message}")]
    Parse { line: usize, col: usize, message: String },
    #[error("template: :{line}:{col}: executing \"\" at <{at}>: {message}")]
    Exec {
        line: usize,
        col: usize,
        at: String,
        message: String,
    },
}

#[derive(Debug, Clone)]
enum Arg {
    /// `.A.B` on dot (no names: `.` itself).
    Dot(Vec<String>),
    /// `$name.A.B` (`$` is the root).
    Var(String, Vec<String>),
    /// `(pipeline).A.B`.
    Sub(Box<Pipeline>, Vec<String>),
    Lit(Value),
    Func(String),
}

#[derive(Debug, Clone)]
struct Operand {
    arg: Arg,
    pos: usize,
    text: String,
}

#[derive(Debug, Clone, Default)]
struct Pipeline {
    /// `$k, $v :=` (or `$x :=`).
    decl: Vec<String>,
    cmds: Vec<Vec<Operand>>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
}

/// A parsed template; `execute` can run it on many values.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
    /// `json` of the whole item is `json.Marshal`'s, HTML-escaped: docker's
    /// list contexts marshal themselves (`{{json .}}` of a `ps` row), where
    /// `{{json .Field}}` goes through docker's non-escaping encoder.
    marshalled_root: bool,
    /// A missing map key is Go's zero value (`<no value>`), as in a
    /// template with no `missingkey=error` (`docker events --format`).
    missing_is_null: bool,
}

fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = &src[..pos.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |n| before.len() - n - 1);
    (line, col)
}

// ---------------------------------------------------------------- lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Lit(Value),
    Pipe,
    Open,
    Close,
    /// `.A.B` right after a `)`.
    Chain(Vec<String>),
    Declare,
    Comma,
}

fn split_fields(s: &str) -> Vec<String> {
    s.split('.').filter(|p| !p.is_empty()).map(str::to_string).collect()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The string literal that starts at `start` (`"…"` with Go's escapes,
/// or a raw `` `…` ``): the offset after it, and its value.
fn quoted(text: &str, start: usize) -> Result<(usize, String), String> {
    let b = text.as_bytes();
    let quote = b[start];
    let mut j = start + 1;
    while j < b.len() && b[j] != quote {
        j += if quote == b'"' && b[j] == b'\\' { 2 } else { 1 };
    }
    if j >= b.len() {
        return Err("unterminated quoted string".into());
    }
    let raw = &text[start..=j];
    let value = if quote == b'`' {
        raw[1..raw.len() - 1].to_string()
    } else {
        serde_json::from_str::<String>(raw).map_err(|_| format!("bad string syntax: {raw}"))?
    };
    Ok((j + 1, value))
}

/// The tokens of one action's text; `base` is its offset in the template.
fn lex(text: &str, base: usize, src: &str) -> Result<Vec<Token>, Error> {
    let err = |pos: usize, message: String| {
        let (line, col) = line_col(src, pos);
        Error::Parse { line, col, message }
    };
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        let start = i;
        let word_end = |mut j: usize| {
            while j < b.len() && (is_word(b[j] as char) || b[j] == b'.') {
                j += 1;
            }
            j
        };
        let tok = match c {
            ' ' | '\t' | '\n' | '\r' => {
                i += 1;
                continue;
            }
            '|' => {
                i += 1;
                Tok::Pipe
            }
            '(' => {
                i += 1;
                Tok::Open
            }
            ')' => {
                i += 1;
                Tok::Close
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            ':' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Declare
            }
            '.' => {
                i = word_end(i + 1);
                let fields = split_fields(&text[start..i]);
                match out.last() {
                    Some((Tok::Close, _, _)) if !fields.is_empty() => Tok::Chain(fields),
                    _ => Tok::Field(fields),
                }
            }
            '$' => {
                let mut j = i + 1;
                while j < b.len() && is_word(b[j] as char) {
                    j += 1;
                }
                let name = text[start..j].to_string();
                i = word_end(j);
                Tok::Var(name, split_fields(&text[j..i]))
            }
            '"' | '`' => {
                let (end, lit) = quoted(text, start).map_err(|m| err(base + start, m))?;
                i = end;
                Tok::Lit(Value::String(lit))
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.') {
                    j += 1;
                }
                i = j;
                let n: serde_json::Number = text[start..i]
                    .parse()
                    .map_err(|_| err(base + start, format!("bad number syntax: {:?}", &text[start..i])))?;
                Tok::Lit(Value::Number(n))
            }
            c if is_word(c) => {
                let mut j = i;
                while j < b.len() && is_word(b[j] as char) {
                    j += 1;
                }
                i = j;
                match &text[start..i] {
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    "nil" => Tok::Lit(Value::Null),
                    w => Tok::Ident(w.to_string()),
                }
            }
            other => return Err(err(base + start, format!("unexpected {other:?} in command"))),
        };
        // Go's node for `.A.B` (or `$x.A`) is at its last field: errors
        // name that column.
        let at = match &tok {
            Tok::Field(f) | Tok::Var(_, f) | Tok::Chain(f) if !f.is_empty() => {
                start + text[start..i].rfind('.').unwrap_or(0)
            }
            _ => start,
        };
        out.push((tok, base + at, text[start..i].to_string()));
    }
    Ok(out)
}

// --------------------------------------------------------------- parsing

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    at: usize,
}

impl Parser<'_> {
    fn err(&self, pos: usize, message: impl Into<String>) -> Error {
        let (line, col) = line_col(self.src, pos);
        Error::Parse {
            line,
            col,
            message: message.into(),
        }
    }

    fn pipeline(&mut self, pos: usize, in_parens: bool) -> Result<Pipeline, Error> {
        let mut p = Pipeline::default();
        // `$a, $b :=` or `$a :=`.
        let mut j = self.at;
        let mut names = Vec::new();
        while let Some((Tok::Var(name, f), _, _)) = self.toks.get(j) {
            if !f.is_empty() {
                break;
            }
            names.push(name.clone());
            match self.toks.get(j + 1) {
                Some((Tok::Comma, _, _)) => j += 2,
                Some((Tok::Declare, _, _)) => {
                    p.decl = names;
                    self.at = j + 2;
                    break;
                }
                _ => break,
            }
        }
        let mut cmd = Vec::new();
        loop {
            let Some((tok, tpos, text)) = self.toks.get(self.at).cloned() else {
                if in_parens {
                    return Err(self.err(pos, "unclosed left paren"));
                }
                break;
            };
            self.at += 1;
            let arg = match tok {
                Tok::Pipe => {
                    if cmd.is_empty() {
                        return Err(self.err(tpos, "missing command"));
                    }
                    p.cmds.push(std::mem::take(&mut cmd));
                    continue;
                }
                Tok::Close if in_parens => break,
                Tok::Open => {
                    let inner = self.pipeline(tpos, true)?;
                    let chain = match self.toks.get(self.at) {
                        Some((Tok::Chain(f), _, _)) => {
                            self.at += 1;
                            f.clone()
                        }
                        _ => Vec::new(),
                    };
                    Arg::Sub(Box::new(inner), chain)
                }
                Tok::Field(f) => Arg::Dot(f),
                Tok::Var(n, f) => Arg::Var(n, f),
                Tok::Lit(v) => Arg::Lit(v),
                Tok::Ident(name) => {
                    if func_known(&name) {
                        Arg::Func(name)
                    } else {
                        return Err(self.err(tpos, format!("function \"{name}\" not defined")));
                    }
                }
                _ => return Err(self.err(tpos, format!("unexpected \"{text}\" in operand"))),
            };
            cmd.push(Operand { arg, pos: tpos, text });
        }
        if cmd.is_empty() {
            return Err(self.err(pos, "missing value for command"));
        }
        p.cmds.push(cmd);
        Ok(p)
    }
}

/// One `{{…}}`: its text (trim markers removed) and offset.
enum Piece {
    Text(String),
    Action(String, usize),
}

fn pieces(src: &str) -> Result<Vec<Piece>, Error> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(open) = src[rest..].find("{{").map(|o| o + rest) {
        let mut text = src[rest..open].to_string();
        let mut inner = open + 2;
        if src[inner..].starts_with("- ") || src[inner..].starts_with("-\t") || src[inner..].starts_with("-\n") {
            text = text.trim_end().to_string();
            inner += 1;
        }
        out.push(Piece::Text(text));
        let Some(close) = src[inner..].find("}}").map(|c| c + inner) else {
            let (line, col) = line_col(src, open);
            return Err(Error::Parse {
                line,
                col,
                message: "unclosed action".into(),
            });
        };
        let body = &src[inner..close];
        let trim_right = body.ends_with(" -") || body.ends_with("\t-") || body.ends_with("\n-");
        let body = if trim_right { &body[..body.len() - 1] } else { body };
        out.push(Piece::Action(body.to_string(), inner));
        rest = close + 2;
        if trim_right {
            rest += src[rest..].len() - src[rest..].trim_start().len();
        }
    }
    out.push(Piece::Text(src[rest..].to_string()));
    Ok(out)
}

/// A token with its offset in the template and its text.
type Token = (Tok, usize, String);

/// What ended a list of nodes.
enum Stop {
    Eof,
    End,
    /// `{{else}}`, or `{{else if …}}` with the tokens after `else`.
    Else(Option<(Vec<Token>, usize)>),
}

fn parse_list(src: &str, it: &mut std::vec::IntoIter<Piece>) -> Result<(Vec<Node>, Stop), Error> {
    let mut nodes = Vec::new();
    while let Some(piece) = it.next() {
        let (body, pos) = match piece {
            Piece::Text(t) if t.is_empty() => continue,
            Piece::Text(t) => {
                nodes.push(Node::Text(t));
                continue;
            }
            Piece::Action(b, p) => (b, p),
        };
        if body.trim_start().starts_with("/*") {
            continue;
        }
        let toks = lex(&body, pos, src)?;
        let keyword = match toks.first() {
            Some((Tok::Ident(w), _, _)) => w.clone(),
            None => {
                let (line, col) = line_col(src, pos);
                return Err(Error::Parse {
                    line,
                    col,
                    message: "missing value for command".into(),
                });
            }
            _ => String::new(),
        };
        match keyword.as_str() {
            "end" => return Ok((nodes, Stop::End)),
            "else" => {
                let rest: Vec<_> = toks[1..].to_vec();
                return Ok((nodes, Stop::Else((!rest.is_empty()).then_some((rest, pos)))));
            }
            "if" | "range" | "with" => {
                let mut p = Parser { src, toks, at: 1 };
                let pipe = p.pipeline(pos, false)?;
                nodes.push(block(src, it, &keyword, pipe, pos)?);
            }
            _ => {
                let mut p = Parser { src, toks, at: 0 };
                nodes.push(Node::Action(p.pipeline(pos, false)?));
            }
        }
    }
    Ok((nodes, Stop::Eof))
}

fn block(src: &str, it: &mut std::vec::IntoIter<Piece>, kind: &str, pipe: Pipeline, pos: usize) -> Result<Node, Error> {
    let unexpected = |message: String| {
        let (line, col) = line_col(src, pos);
        Error::Parse { line, col, message }
    };
    let (body, end) = parse_list(src, it)?;
    let otherwise = match end {
        Stop::Eof => return Err(unexpected(format!("unexpected EOF in {kind}"))),
        Stop::End => Vec::new(),
        Stop::Else(None) => match parse_list(src, it)? {
            (nodes, Stop::End) => nodes,
            _ => return Err(unexpected(format!("expected end in {kind}"))),
        },
        // `{{else if …}}`: an `if` inside the else branch, sharing its `end`.
        Stop::Else(Some((toks, epos))) => {
            let word = match toks.first() {
                Some((Tok::Ident(w), _, _)) if w == "if" || w == "with" => w.clone(),
                _ => return Err(unexpected("unexpected tokens after else".into())),
            };
            let mut p = Parser { src, toks, at: 1 };
            let inner = p.pipeline(epos, false)?;
            vec![block(src, it, &word, inner, epos)?]
        }
    };
    Ok(match kind {
        "if" => Node::If(pipe, body, otherwise),
        "range" => Node::Range(pipe, body, otherwise),
        _ => Node::With(pipe, body, otherwise),
    })
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, Error> {
        let mut it = pieces(source)?.into_iter();
        let (nodes, end) = parse_list(source, &mut it)?;
        if !matches!(end, Stop::Eof) {
            return Err(Error::Parse {
                line: 1,
                col: 0,
                message: "unexpected {{end}} or {{else}}".into(),
            });
        }
        Ok(Template {
            source: source.to_string(),
            nodes,
            marshalled_root: false,
            missing_is_null: false,
        })
    }

    /// See [`Template::marshalled_root`]'s field.
    pub fn marshalled_root(mut self) -> Template {
        self.marshalled_root = true;
        self
    }

    /// See [`Template::missing_is_null`]'s field.
    pub fn missing_is_null(mut self) -> Template {
        self.missing_is_null = true;
        self
    }

    /// The template run on `data`.
    pub fn execute(&self, data: &Value) -> Result<String, Error> {
        let mut ex = Exec {
            src: &self.source,
            marshalled_root: self.marshalled_root,
            missing_is_null: self.missing_is_null,
            vars: vec![("$".to_string(), data.clone())],
            out: String::new(),
        };
        ex.list(&self.nodes, data)?;
        Ok(ex.out)
    }
}

// ------------------------------------------------------------- executing

struct Exec<'a> {
    src: &'a str,
    marshalled_root: bool,
    missing_is_null: bool,
    vars: Vec<(String, Value)>,
    out: String,
}

pub(super) fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Go's `fmt.Sprint` of a decoded JSON value; `top` prints null as
/// text/template does (`<no value>`), inside a list or map as `<nil>`.
pub fn go_print(v: &Value, top: bool) -> String {
    match v {
        Value::Null if top => "<no value>".into(),
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(|x| go_print(x, false)).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(o) => {
            let sorted: BTreeMap<_, _> = o.iter().collect();
            let items: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_print(v, false)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// Docker's fields that are Go slices and maps: the docker CLI runs
/// `inspect -f` on its typed structs, where a null one prints `[]` or
/// `map[]`, not `<no value>` (`{{json …}}` still gives `null`).
const SLICE_FIELDS: &[&str] = &[
    "Cmd",
    "Entrypoint",
    "Env",
    "OnBuild",
    "Shell",
    "RepoTags",
    "RepoDigests",
    "Args",
    "ExecIDs",
    "Binds",
    "Links",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "CapAdd",
    "CapDrop",
    "SecurityOpt",
    "Mounts",
    "Aliases",
];
const MAP_FIELDS: &[&str] = &[
    "Labels",
    "Volumes",
    "ExposedPorts",
    "Ports",
    "PortBindings",
    "Networks",
    "Options",
];

/// What a typed docker struct prints for this null, when the action is
/// a plain field (`{{.Config.Cmd}}`) whose Go type docker knows.
fn typed_nil(p: &Pipeline, v: &Value) -> Option<&'static str> {
    let [cmd] = p.cmds.as_slice() else { return None };
    let [
        Operand {
            arg: Arg::Dot(f) | Arg::Var(_, f),
            ..
        },
    ] = cmd.as_slice()
    else {
        return None;
    };
    let last = f.last()?.as_str();
    match v.is_null() {
        true if SLICE_FIELDS.contains(&last) => Some("[]"),
        true if MAP_FIELDS.contains(&last) => Some("map[]"),
        _ => None,
    }
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "interface {}",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

impl Exec<'_> {
    fn fail(&self, op: &Operand, message: impl Into<String>) -> Error {
        let (line, col) = line_col(self.src, op.pos);
        Error::Exec {
            line,
            col,
            at: op.text.clone(),
            message: message.into(),
        }
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<(), Error> {
        for n in nodes {
            let depth = self.vars.len();
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    if p.decl.is_empty() {
                        let text = match typed_nil(p, &v) {
                            Some(empty) => empty.to_string(),
                            None => go_print(&v, true),
                        };
                        self.out.push_str(&text);
                    }
                    // A declaration's variable lives to the end of the
                    // enclosing list.
                    continue;
                }
                Node::If(p, yes, no) => {
                    let v = self.pipeline(p, dot)?;
                    self.list(if truth(&v) { yes } else { no }, dot)?;
                }
                Node::With(p, yes, no) => {
                    let v = self.pipeline(p, dot)?;
                    if truth(&v) {
                        self.list(yes, &v)?;
                    } else {
                        self.list(no, dot)?;
                    }
                }
                Node::Range(p, body, otherwise) => self.range(p, body, otherwise, dot)?,
            }
            self.vars.truncate(depth);
        }
        Ok(())
    }

    fn range(&mut self, p: &Pipeline, body: &[Node], otherwise: &[Node], dot: &Value) -> Result<(), Error> {
        let mut bare = p.clone();
        bare.decl.clear();
        let v = self.pipeline(&bare, dot)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::Array(a) => a.iter().enumerate().map(|(i, x)| (Value::from(i), x.clone())).collect(),
            Value::Object(o) => {
                let sorted: BTreeMap<_, _> = o.iter().collect();
                sorted
                    .into_iter()
                    .map(|(k, x)| (Value::String(k.clone()), x.clone()))
                    .collect()
            }
            Value::Null => Vec::new(),
            other => {
                let op = &p.cmds[0][0];
                return Err(self.fail(op, format!("range can't iterate over {}", go_print(other, true))));
            }
        };
        if items.is_empty() {
            return self.list(otherwise, dot);
        }
        for (key, item) in items {
            let depth = self.vars.len();
            match p.decl.as_slice() {
                [one] => self.vars.push((one.clone(), item.clone())),
                [k, v, ..] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), item.clone()));
                }
                [] => {}
            }
            self.list(body, &item)?;
            self.vars.truncate(depth);
        }
        Ok(())
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, Error> {
        let mut last: Option<Value> = None;
        for cmd in &p.cmds {
            last = Some(self.command(cmd, dot, last)?);
        }
        let v = last.unwrap_or(Value::Null);
        if let Some(name) = p.decl.first() {
            self.vars.push((name.clone(), v.clone()));
        }
        Ok(v)
    }

    fn fields(&self, op: &Operand, mut v: Value, names: &[String]) -> Result<Value, Error> {
        for name in names {
            v = match v {
                Value::Object(mut o) => match o.remove(name) {
                    Some(x) => x,
                    None if self.missing_is_null => Value::Null,
                    None => return Err(self.fail(op, format!("map has no entry for key \"{name}\""))),
                },
                Value::Null => return Err(self.fail(op, format!("nil pointer evaluating interface {{}}.{name}"))),
                other => {
                    let t = type_name(&other);
                    return Err(self.fail(op, format!("can't evaluate field {name} in type {t}")));
                }
            };
        }
        Ok(v)
    }

    fn operand(&mut self, op: &Operand, dot: &Value) -> Result<Value, Error> {
        match &op.arg {
            Arg::Dot(f) => self.fields(op, dot.clone(), f),
            Arg::Var(name, f) => {
                let v = match self.vars.iter().rev().find(|(n, _)| n == name) {
                    Some((_, v)) => v.clone(),
                    None => return Err(self.fail(op, format!("undefined variable: {name}"))),
                };
                self.fields(op, v, f)
            }
            Arg::Sub(p, f) => {
                let v = self.pipeline(p, dot)?;
                self.fields(op, v, f)
            }
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Func(name) => self.call(op, name, Vec::new()),
        }
    }

    fn command(&mut self, cmd: &[Operand], dot: &Value, piped: Option<Value>) -> Result<Value, Error> {
        let head = &cmd[0];
        let Arg::Func(name) = &head.arg else {
            if cmd.len() > 1 || piped.is_some() {
                return Err(self.fail(head, format!("can't give argument to non-function {}", head.text)));
            }
            return self.operand(head, dot);
        };
        let mut args = Vec::new();
        for op in &cmd[1..] {
            args.push(self.operand(op, dot)?);
        }
        args.extend(piped);
        self.call(head, name, args)
    }

    fn call(&self, op: &Operand, name: &str, args: Vec<Value>) -> Result<Value, Error> {
        if name == "json" && self.marshalled_root && args.len() == 1 && args[0] == self.vars[0].1 {
            return Ok(Value::String(go_json(&args[0])));
        }
        call(name, args).map_err(|message| self.fail(op, format!("error calling {name}: {message}")))
    }
}

mod funcs;
pub use funcs::go_json;
use funcs::{call, func_known};

#[cfg(test)]
mod tests;
