//! Hand-written SVG: a histogram of some latencies, and a timeline with one
//! row per probe. Plain elements and attributes only (no script, no external
//! reference), well-formed XML so any parser reads it.

use std::fmt::Write;

use crate::bench::push::ProbeRecord;

/// Bins of a histogram.
const BINS: usize = 20;
const HIST_W: f64 = 420.0;
const HIST_H: f64 = 140.0;
/// Height of one timeline row.
const ROW_H: f64 = 6.0;
const TIMELINE_W: f64 = 900.0;
/// Left margin of the timeline (row labels).
const LABEL_W: f64 = 140.0;

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// A histogram of `ms` titled `title`.
pub fn histogram(title: &str, ms: &[f64]) -> String {
    let mut svg = format!(
        "<svg class=\"histogram\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\"><title>{t}</title>\
         <text x=\"4\" y=\"14\" class=\"title\">{t}</text>",
        w = HIST_W,
        h = HIST_H + 40.0,
        t = escape(title)
    );
    let max = ms.iter().copied().fold(0.0_f64, f64::max);
    if ms.is_empty() {
        svg += "<text x=\"4\" y=\"40\">no samples</text></svg>";
        return svg;
    }
    let width = if max > 0.0 { max / BINS as f64 } else { 1.0 };
    let mut bins = [0usize; BINS];
    for &v in ms {
        let i = ((v / width) as usize).min(BINS - 1);
        bins[i] += 1;
    }
    let top = bins.iter().copied().max().unwrap_or(1).max(1);
    let bar_w = (HIST_W - 20.0) / BINS as f64;
    for (i, &n) in bins.iter().enumerate() {
        let h = HIST_H * n as f64 / top as f64;
        let _ = write!(
            svg,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\">\
             <title>{:.1}–{:.1} ms: {n}</title></rect>",
            10.0 + i as f64 * bar_w,
            20.0 + HIST_H - h,
            bar_w - 1.0,
            h,
            i as f64 * width,
            (i + 1) as f64 * width
        );
    }
    let _ = write!(
        svg,
        "<text x=\"10\" y=\"{y:.0}\">0</text><text x=\"{x:.0}\" y=\"{y:.0}\" \
         text-anchor=\"end\">{max:.1} ms</text><text x=\"{mid:.0}\" y=\"{y:.0}\" \
         text-anchor=\"middle\">n={n}, tallest bar {top}</text></svg>",
        y = HIST_H + 36.0,
        x = HIST_W - 10.0,
        mid = HIST_W / 2.0,
        n = ms.len()
    );
    svg
}

/// The timeline: one row per probe (a `g` of class `probe`) from its write to
/// its first 200 (or the end), with its publish, ACKs, programmed and first
/// 200 marked, and every bad answer in red.
pub fn timeline(probes: &[ProbeRecord], end_ms: f64) -> String {
    let end = end_ms.max(1.0);
    let x = |ms: f64| LABEL_W + (ms / end).clamp(0.0, 1.0) * (TIMELINE_W - LABEL_W - 10.0);
    let height = 30.0 + ROW_H * probes.len() as f64;
    let mut svg = format!(
        "<svg class=\"timeline\" width=\"{TIMELINE_W}\" \
         height=\"{height}\" viewBox=\"0 0 {TIMELINE_W} {height}\">\
         <title>timeline</title>\
         <text x=\"{LABEL_W}\" y=\"12\">0 ms</text>\
         <text x=\"{:.0}\" y=\"12\" text-anchor=\"end\">{end:.0} ms</text>",
        TIMELINE_W - 10.0
    );
    for (row, probe) in probes.iter().enumerate() {
        let y = 20.0 + ROW_H * row as f64 + ROW_H / 2.0;
        let _ = write!(
            svg,
            "<g class=\"probe\" data-ingress=\"{name}\"><title>{name}</title>",
            name = escape(&probe.ingress)
        );
        if row % 10 == 0 || probes.len() <= 40 {
            let _ = write!(
                svg,
                "<text x=\"{:.0}\" y=\"{:.1}\" class=\"label\" text-anchor=\"end\">{}</text>",
                LABEL_W - 4.0,
                y + 2.5,
                escape(probe.ingress.rsplit('/').next().unwrap_or_default())
            );
        }
        if let Some(w) = probe.written_ms {
            let until = probe.first_200_ms.or(probe.deleted_ms).unwrap_or(end);
            let _ = write!(
                svg,
                "<line class=\"span\" x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>",
                x(w),
                x(until)
            );
        }
        let mut mark = |class: &str, at: Option<f64>, label: &str| {
            if let Some(at) = at {
                let _ = write!(
                    svg,
                    "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{y:.1}\" r=\"2\">\
                     <title>{} {at:.1} ms</title></circle>",
                    x(at),
                    escape(label)
                );
            }
        };
        mark("published", probe.published_ms, "published");
        for (node, at) in &probe.acked_ms {
            mark("ack", Some(*at), &format!("ACK by {node}"));
        }
        mark("programmed", probe.programmed_ms, "programmed");
        mark("first200", probe.first_200_ms, "first 200");
        for bad in &probe.bad {
            let _ = write!(
                svg,
                "<rect class=\"bad\" x=\"{:.1}\" y=\"{:.1}\" width=\"2\" height=\"{ROW_H}\">\
                 <title>{} at {:.1} ms</title></rect>",
                x(bad.at_ms) - 1.0,
                y - ROW_H / 2.0,
                escape(&bad.detail),
                bad.at_ms
            );
        }
        svg += "</g>";
    }
    svg + "</svg>"
}
