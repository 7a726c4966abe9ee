//! A horizontal grouped bar chart as a standalone SVG, written by hand: a
//! group per workload, a bar per target, a legend, a dashed line at 1.

use std::fmt::Write as _;

pub struct Group {
    pub name: String,
    /// (target, value); `None`: not measured, drawn as a note, no bar.
    pub bars: Vec<(String, Option<f64>)>,
}

pub struct Chart {
    pub title: String,
    pub groups: Vec<Group>,
}

const COLOURS: &[&str] = &["#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];
const WIDTH: f64 = 960.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 90.0;
const BAR: f64 = 14.0;
const BAR_GAP: f64 = 3.0;
const GROUP_GAP: f64 = 14.0;
const TOP: f64 = 70.0;

/// Text with `&`, `<`, `>` and quotes escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Chart {
    fn series(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (name, _) in self.groups.iter().flat_map(|g| &g.bars) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    pub fn render(&self) -> String {
        let series = self.series();
        let colour = |name: &str| COLOURS[series.iter().position(|s| s == name).unwrap_or(0) % COLOURS.len()];
        let max = self
            .groups
            .iter()
            .flat_map(|g| g.bars.iter().filter_map(|b| b.1))
            .fold(1.0, f64::max);
        let scale = (WIDTH - LEFT - RIGHT) / max;
        let group_height = |g: &Group| g.bars.len() as f64 * (BAR + BAR_GAP) + GROUP_GAP;
        let height = TOP + self.groups.iter().map(group_height).sum::<f64>() + 30.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="10" y="22" font-size="15" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        let mut x = LEFT;
        for name in &series {
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="36" width="12" height="12" fill="{}"/>"#,
                colour(name)
            );
            let _ = writeln!(s, r#"<text x="{}" y="46">{}</text>"#, x + 16.0, escape(name));
            x += 30.0 + 7.0 * name.len() as f64;
        }
        let mut y = TOP;
        for g in &self.groups {
            let middle = y + g.bars.len() as f64 * (BAR + BAR_GAP) / 2.0;
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{middle:.1}" text-anchor="end" dominant-baseline="middle">{}</text>"#,
                LEFT - 8.0,
                escape(&g.name)
            );
            for (name, value) in &g.bars {
                match value {
                    Some(v) => {
                        let w = (v * scale).max(1.0);
                        let _ = writeln!(
                            s,
                            r#"<rect x="{LEFT}" y="{y:.1}" width="{w:.1}" height="{BAR}" fill="{}"><title>{}: {v:.2}</title></rect>"#,
                            colour(name),
                            escape(name)
                        );
                        let _ = writeln!(
                            s,
                            r#"<text x="{:.1}" y="{:.1}">×{v:.2}</text>"#,
                            LEFT + w + 4.0,
                            y + BAR - 3.0
                        );
                    }
                    None => {
                        let _ = writeln!(
                            s,
                            r##"<text x="{}" y="{:.1}" fill="#999">{}: not measured</text>"##,
                            LEFT + 4.0,
                            y + BAR - 3.0,
                            escape(name)
                        );
                    }
                }
                y += BAR + BAR_GAP;
            }
            y += GROUP_GAP;
        }
        let one = LEFT + scale;
        let _ = writeln!(
            s,
            r##"<line x1="{one:.1}" y1="{}" x2="{one:.1}" y2="{:.1}" stroke="#333" stroke-dasharray="4 3"/>"##,
            TOP - 6.0,
            y - GROUP_GAP + 4.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{one:.1}" y="{:.1}" text-anchor="middle">1</text>"#,
            y + 8.0
        );
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_a_bar_per_value_and_a_note_per_gap() {
        let chart = Chart {
            title: "t <&>".into(),
            groups: vec![Group {
                name: "find_warm".into(),
                bars: vec![("a".into(), Some(1.0)), ("b".into(), None)],
            }],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<title>").count(), 1, "one bar");
        assert!(svg.contains("b: not measured") && svg.contains("t &lt;&amp;&gt;"));
    }
}
