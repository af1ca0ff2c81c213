//! The batch report's charts as inline SVG, drawn on the server (issue 17: no script, no
//! library, no CDN; the page prints and opens offline). Every chart is an `img` with a
//! `<title>` and a description for screen readers, and every mark (bar, point, interval)
//! carries its figures twice: in `data-*` attributes a test compares with the database, and in
//! a `<title>` a pointer or a screen reader shows. The page puts a table of the same figures
//! beside each chart. Colour only for what is abnormal (ISA-101): units grey, rejects and
//! stops red.

use std::fmt::Write;

/// The drawing's coordinate system (the page scales it to its width).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
/// Room for the axes' labels.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 48.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;

const NORMAL: &str = "#6b7280";
const ABNORMAL: &str = "#b91c1c";
const GRID: &str = "#d1d5db";

/// Escapes text for SVG (XML) content and attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One bar: its label on the axis, its value, and an optional part of it drawn as abnormal.
#[derive(Debug, Clone)]
pub struct Bar {
    /// The label under the bar (may be left out on a crowded axis; the title keeps it).
    pub label: String,
    /// The bar's height.
    pub value: f64,
    /// The part of it that is abnormal (rejects), drawn over its foot.
    pub abnormal: f64,
    /// What a reader hears and a pointer shows.
    pub title: String,
    /// `data-*` attributes (name, value).
    pub data: Vec<(&'static str, String)>,
}

/// A point of a line (the Pareto's cumulative share, the reject rate).
#[derive(Debug, Clone)]
pub struct Point {
    /// Its value, on the right axis (0–100 %).
    pub percent: f64,
    /// What a reader hears.
    pub title: String,
    /// `data-*` attributes.
    pub data: Vec<(&'static str, String)>,
}

/// The opening of a chart: the `svg` element, its title and description.
fn open(out: &mut String, id: &str, title: &str, desc: &str) {
    let _ = write!(
        out,
        "<svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-labelledby=\"{id}-title {id}-desc\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        esc(title),
        esc(desc)
    );
}

/// A round maximum for an axis holding `max`.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 4.0, 8.0, 10.0] {
        if max <= step * magnitude {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// A figure on an axis: whole numbers without decimals.
fn figure(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn data_attributes(data: &[(&'static str, String)]) -> String {
    data.iter()
        .map(|(name, value)| format!(" data-{name}=\"{}\"", esc(value)))
        .collect()
}

/// The left axis (0 to `max`, four steps with grid lines) and, when `percent`, the right axis
/// of 0–100 %.
fn axes(out: &mut String, max: f64, percent: bool) {
    let plot_h = HEIGHT - TOP - BOTTOM;
    for step in 0..=4 {
        let y = TOP + plot_h - plot_h * f64::from(step) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{GRID}\" \
             stroke-width=\"0.5\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" \
             text-anchor=\"end\" fill=\"#374151\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 4.0,
            y + 3.0,
            figure(max * f64::from(step) / 4.0)
        );
        if percent {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{ABNORMAL}\">{}%</text>",
                WIDTH - RIGHT + 4.0,
                y + 3.0,
                25 * step
            );
        }
    }
}

/// A bar chart, with a line of percentages over it when `line` is given (a Pareto chart's
/// cumulative share); `empty` is said when there are no bars.
pub fn bars(
    id: &str,
    title: &str,
    desc: &str,
    bars: &[Bar],
    line: Option<&[Point]>,
    empty: &str,
) -> String {
    let mut out = String::new();
    open(&mut out, id, title, desc);
    if bars.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\" \
             fill=\"#374151\">{}</text></svg>",
            WIDTH / 2.0,
            HEIGHT / 2.0,
            esc(empty)
        );
        return out;
    }
    let max = nice_max(bars.iter().map(|b| b.value).fold(0.0, f64::max));
    axes(&mut out, max, line.is_some());
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / bars.len() as f64;
    let width = (slot * 0.8).max(1.0);
    // At most about twelve labels under the axis; every bar keeps its title.
    let every = bars.len().div_ceil(12).max(1);
    let base = TOP + plot_h;
    for (i, bar) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - width) / 2.0;
        let h = plot_h * bar.value / max;
        let _ = write!(
            out,
            "<g class=\"bar\"{}><title>{}</title>\
             <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{h:.1}\" fill=\"{NORMAL}\"/>",
            data_attributes(&bar.data),
            esc(&bar.title),
            base - h
        );
        if bar.abnormal > 0.0 {
            let a = (plot_h * bar.abnormal / max).max(1.0);
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{a:.1}\" \
                 fill=\"{ABNORMAL}\"/>",
                base - a
            );
        }
        out.push_str("</g>");
        if i % every == 0 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" \
                 fill=\"#374151\">{}</text>",
                x + width / 2.0,
                base + 14.0,
                esc(&bar.label)
            );
        }
    }
    if let Some(points) = line {
        polyline(&mut out, points, slot);
    }
    out.push_str("</svg>");
    out
}

/// A line of percentages on the right axis, one point per slot.
fn polyline(out: &mut String, points: &[Point], slot: f64) {
    let plot_h = HEIGHT - TOP - BOTTOM;
    let at = |i: usize, p: &Point| {
        (
            LEFT + slot * i as f64 + slot / 2.0,
            TOP + plot_h - plot_h * p.percent.clamp(0.0, 100.0) / 100.0,
        )
    };
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (x, y) = at(i, p);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = write!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{ABNORMAL}\" stroke-width=\"1.5\"/>",
        path.join(" ")
    );
    for (i, p) in points.iter().enumerate() {
        let (x, y) = at(i, p);
        let _ = write!(
            out,
            "<circle class=\"point\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"{ABNORMAL}\"{}>\
             <title>{}</title></circle>",
            data_attributes(&p.data),
            esc(&p.title)
        );
    }
}

/// A line chart of percentages (the reject rate over time), labelled like a bar chart.
pub fn rate_line(
    id: &str,
    title: &str,
    desc: &str,
    labels: &[String],
    points: &[Point],
    empty: &str,
) -> String {
    let mut out = String::new();
    open(&mut out, id, title, desc);
    if points.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\" \
             fill=\"#374151\">{}</text></svg>",
            WIDTH / 2.0,
            HEIGHT / 2.0,
            esc(empty)
        );
        return out;
    }
    // The rate's own scale: a few percent of rejects would be a flat line on 0–100 %.
    let max = nice_max(points.iter().map(|p| p.percent).fold(0.0, f64::max));
    axes(&mut out, max, false);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / points.len() as f64;
    let scaled: Vec<Point> = points
        .iter()
        .map(|p| Point {
            percent: p.percent * 100.0 / max,
            ..p.clone()
        })
        .collect();
    polyline(&mut out, &scaled, slot);
    let every = labels.len().div_ceil(12).max(1);
    for (i, label) in labels.iter().enumerate().step_by(every) {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" \
             fill=\"#374151\">{}</text>",
            LEFT + slot * i as f64 + slot / 2.0,
            TOP + plot_h + 14.0,
            esc(label)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#374151\">%</text></svg>",
        LEFT - 40.0,
        TOP + 3.0
    );
    out
}

/// An interval on the timeline (a pause).
#[derive(Debug, Clone)]
pub struct Span {
    /// Start, unix seconds.
    pub from: i64,
    /// End, unix seconds.
    pub to: i64,
    /// What a reader hears.
    pub title: String,
}

/// An instant on the timeline (an audit event).
#[derive(Debug, Clone)]
pub struct Tick {
    /// When, unix seconds.
    pub at: i64,
    /// Its short label.
    pub label: String,
    /// What a reader hears.
    pub title: String,
    /// Drawn as abnormal (a stop, an alarm).
    pub abnormal: bool,
    /// `data-*` attributes.
    pub data: Vec<(&'static str, String)>,
}

/// The timeline from `from` to `to` (unix seconds): pauses as bands, events as ticks with
/// their labels staggered on three rows, the axis' ends labelled with `ends`.
pub fn timeline(
    id: &str,
    title: &str,
    desc: &str,
    (from, to): (i64, i64),
    ends: (&str, &str),
    spans: &[Span],
    ticks: &[Tick],
) -> String {
    let mut out = String::new();
    open(&mut out, id, title, desc);
    let plot_w = WIDTH - LEFT - RIGHT;
    let length = (to - from).max(1) as f64;
    let x = |t: i64| LEFT + plot_w * ((t - from) as f64 / length).clamp(0.0, 1.0);
    let axis_y = HEIGHT - BOTTOM;
    for span in spans {
        let (a, b) = (x(span.from), x(span.to));
        let _ = write!(
            out,
            "<rect class=\"pause\" x=\"{a:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\" \
             fill=\"{ABNORMAL}\" fill-opacity=\"0.15\" data-from=\"{}\" data-to=\"{}\">\
             <title>{}</title></rect>",
            (b - a).max(1.0),
            axis_y - TOP,
            span.from,
            span.to,
            esc(&span.title)
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{axis_y}\" x2=\"{:.1}\" y2=\"{axis_y}\" stroke=\"#374151\"/>\
         <text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"10\" fill=\"#374151\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#374151\">{}</text>",
        WIDTH - RIGHT,
        axis_y + 14.0,
        esc(ends.0),
        WIDTH - RIGHT,
        axis_y + 14.0,
        esc(ends.1)
    );
    for (i, tick) in ticks.iter().enumerate() {
        let tx = x(tick.at);
        let colour = if tick.abnormal { ABNORMAL } else { NORMAL };
        let row = (i % 3) as f64;
        let label_y = TOP + 14.0 + row * 44.0;
        let anchor = if tx > WIDTH - RIGHT - 80.0 {
            "end"
        } else {
            "start"
        };
        let _ = write!(
            out,
            "<g class=\"mark\"{}><title>{}</title>\
             <line x1=\"{tx:.1}\" y1=\"{label_y:.1}\" x2=\"{tx:.1}\" y2=\"{axis_y}\" stroke=\"{colour}\" \
             stroke-width=\"1.5\"/><circle cx=\"{tx:.1}\" cy=\"{axis_y}\" r=\"3\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{label_y:.1}\" font-size=\"10\" text-anchor=\"{anchor}\" \
             fill=\"{colour}\">{}</text></g>",
            data_attributes(&tick.data),
            esc(&tick.title),
            if anchor == "end" { tx - 3.0 } else { tx + 3.0 },
            esc(&tick.label)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_axes_are_round() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 8.0);
        assert_eq!(nice_max(180.0), 200.0);
        assert_eq!(nice_max(2_400.0), 4_000.0);
        assert_eq!(nice_max(35.0), 40.0);
    }

    #[test]
    fn every_bar_carries_its_figures_and_an_empty_chart_says_so() {
        let bar = |value: f64| Bar {
            label: format!("b{value}"),
            value,
            abnormal: 1.0,
            title: format!("bar <{value}>"),
            data: vec![("units", value.to_string())],
        };
        let svg = bars("c", "T", "D", &[bar(3.0), bar(5.0)], None, "none");
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert!(svg.contains("data-units=\"5\""), "{svg}");
        assert!(svg.contains("<title>bar &lt;3&gt;</title>"), "{svg}");
        assert!(svg.starts_with("<svg id=\"c\"") && svg.ends_with("</svg>"));
        let empty = bars("e", "T", "D", &[], None, "no units");
        assert!(empty.contains(">no units</text>"), "{empty}");
    }
}
