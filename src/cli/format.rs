//! Output the way the docker CLI prints it: aligned tables, sizes with three
//! significant digits, JSON indented by four (ages like "2 minutes ago" are
//! `wire::display`, shared with the daemon).

/// Columns padded like Go's `tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)`:
/// each cell at least 10 wide, 3 spaces after the widest; the last column
/// is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max((cell.chars().count() + 3).max(10));
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                line.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `%.Ng` as Go prints it, for 1 <= v < 1000 (and 0).
fn significant(v: f64, digits: i32) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let magnitude = v.abs().log10().floor() as i32 + 1;
    let decimals = (digits - magnitude).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn scaled(size: f64, base: f64, units: &[&str], digits: i32) -> String {
    let mut v = size;
    let mut i = 0;
    while v >= base && i + 1 < units.len() {
        v /= base;
        i += 1;
    }
    format!("{}{}", significant(v, digits), units[i])
}

/// Docker's `units.HumanSizeWithPrecision(n, 3)`: decimal units.
pub fn human_size(bytes: i64) -> String {
    human_size_with_precision(bytes, 3)
}

/// Docker's `units.HumanSizeWithPrecision(n, digits)`; progress bars use
/// `units.HumanSize`, four digits.
pub fn human_size_with_precision(bytes: i64, digits: i32) -> String {
    scaled(
        bytes.max(0) as f64,
        1000.0,
        &["B", "kB", "MB", "GB", "TB", "PB", "EB"],
        digits,
    )
}

/// Docker's `units.BytesSize`: binary units, four digits.
pub fn binary_size(bytes: u64) -> String {
    scaled(
        bytes as f64,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"],
        4,
    )
}

/// Docker's `stringutils.Ellipsis`: at most `max` characters.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Re-indents JSON by four spaces, keeping the key order of the input
/// (what `json.Indent` does for `docker inspect`).
pub fn indent_json(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    let text = String::from_utf8_lossy(raw);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("    ");
        }
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}') | Some(']')) {
                    out.push(chars.next().expect("peeked"));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// A `--format` for a list command, as the docker CLI's formatter reads
/// it: `table` (alone: the default table), `table TEMPLATE` (a header row
/// from `headers`, cells split at tabs and aligned as `table` does), `json`
/// (`{{json .}}` per line) or a template run once per item. `\t` and `\n`
/// written as two characters are a tab and a newline, as in docker.
pub enum ListFormat {
    DefaultTable,
    Table(crate::cli::template::Template),
    Lines(crate::cli::template::Template),
    /// `--format json`: docker marshals each item itself, with Go's HTML
    /// escaping (`<none>` is `\u003cnone\u003e`), unlike `{{json .}}`.
    Json,
}

impl ListFormat {
    pub fn parse(format: Option<&str>) -> Result<ListFormat, crate::cli::Error> {
        use crate::cli::template::Template;
        let Some(f) = format else {
            return Ok(ListFormat::DefaultTable);
        };
        let f = f.replace("\\t", "\t").replace("\\n", "\n");
        let parse =
            |t: &str| Template::parse(t).map_err(|e| crate::cli::Error::Usage(format!("template parsing error: {e}")));
        Ok(match f.strip_prefix("table") {
            Some(rest) if rest.trim().is_empty() => ListFormat::DefaultTable,
            Some(rest) if rest.starts_with(char::is_whitespace) => {
                ListFormat::Table(parse(rest.trim_start())?.marshalled_root())
            }
            _ if f == "json" => ListFormat::Json,
            _ => ListFormat::Lines(parse(&f)?.marshalled_root()),
        })
    }

    /// The items through the template (`None` for the default table,
    /// which the command draws itself).
    pub fn render(
        &self,
        items: &[serde_json::Value],
        headers: &serde_json::Value,
    ) -> Result<Option<String>, crate::cli::Error> {
        let exec = |t: &crate::cli::template::Template, v: &serde_json::Value| {
            t.execute(v)
                .map_err(|e| crate::cli::Error::Usage(format!("template parsing error: {e}")))
        };
        match self {
            ListFormat::DefaultTable => Ok(None),
            ListFormat::Json => Ok(Some(
                items.iter().map(|v| crate::cli::template::go_json(v) + "\n").collect(),
            )),
            ListFormat::Lines(t) => {
                let mut out = String::new();
                for v in items {
                    out += &exec(t, v)?;
                    out.push('\n');
                }
                Ok(Some(out))
            }
            ListFormat::Table(t) => {
                let mut text = exec(t, headers)? + "\n";
                for v in items {
                    text += &exec(t, v)?;
                    text.push('\n');
                }
                let rows: Vec<Vec<String>> = text
                    .lines()
                    .map(|l| l.split('\t').map(str::to_string).collect())
                    .collect();
                Ok(Some(table(&rows)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_go_units() {
        assert_eq!(human_size(3), "3B");
        assert_eq!(human_size(4_261_032), "4.26MB");
        assert_eq!(human_size(77_830_000), "77.8MB");
        assert_eq!(human_size(123_400_000), "123MB");
        assert_eq!(human_size(1_200), "1.2kB");
        assert_eq!(human_size(0), "0B");
        assert_eq!(binary_size(25_201_000_000), "23.47GiB");
    }

    #[test]
    fn tables_pad_like_tabwriter() {
        let t = table(&[
            vec!["REPOSITORY".into(), "TAG".into(), "IMAGE ID".into()],
            vec!["busybox".into(), "latest".into(), "0123456789ab".into()],
        ]);
        assert_eq!(
            t,
            "REPOSITORY   TAG       IMAGE ID\nbusybox      latest    0123456789ab\n"
        );
    }

    #[test]
    fn json_indents_in_order() {
        let s = indent_json(br#"[{"b":1,"a":{},"c":["x, y",{"d":"\"}"}]}]"#);
        assert_eq!(
            s,
            "[\n    {\n        \"b\": 1,\n        \"a\": {},\n        \"c\": [\n            \"x, y\",\n            {\n                \"d\": \"\\\"}\"\n            }\n        ]\n    }\n]"
        );
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        assert_eq!(
            crate::cli::template::go_json(&serde_json::json!({"a": "<none>&\u{2028}"})),
            r#"{"a":"\u003cnone\u003e\u0026\u2028"}"#
        );
    }

    #[test]
    fn list_formats_as_docker_s_formatter() {
        let items = [serde_json::json!({"Names": "a", "ID": "0123", "Size": "<1kB"})];
        let headers = serde_json::json!({"Names": "NAMES", "ID": "CONTAINER ID", "Size": "SIZE"});
        let render = |f: &str| ListFormat::parse(Some(f)).unwrap().render(&items, &headers).unwrap();
        assert_eq!(
            render("table {{.ID}}\\t{{.Names}}").unwrap(),
            "CONTAINER ID   NAMES\n0123           a\n"
        );
        assert_eq!(render("{{.Names}}:{{.ID}}").unwrap(), "a:0123\n");
        assert_eq!(
            render("{{json .}}").unwrap(),
            "{\"ID\":\"0123\",\"Names\":\"a\",\"Size\":\"\\u003c1kB\"}\n"
        );
        assert_eq!(render("{{json .Size}}").unwrap(), "\"<1kB\"\n");
        assert_eq!(
            render("json").unwrap(),
            "{\"ID\":\"0123\",\"Names\":\"a\",\"Size\":\"\\u003c1kB\"}\n"
        );
        assert!(render("table").is_none());
        assert!(ListFormat::parse(Some("{{.Names")).is_err());
        let missing = ListFormat::parse(Some("{{.Nope}}")).unwrap().render(&items, &headers);
        assert!(missing.is_err());
    }
}
