//! The HTML report: one self-contained page (inline CSS and SVG, no script,
//! no external reference) that opens offline. It is written as well-formed
//! XML (XHTML-compatible HTML5), so a strict parser can check it.

use std::fmt::Write;

use super::svg::{escape, histogram, timeline};
use super::{Latency, PushReport};

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\
th{background:#f3f3f3}td.k,th.k{text-align:left}\
.bad-count{color:#c00;font-weight:bold}\
svg text{font-size:10px}svg .title{font-size:12px;font-weight:bold}\
.bar{fill:#4a7ebb}.span{stroke:#bbb;stroke-width:1}\
.published{fill:#4a7ebb}.ack{fill:#2a9d3a}.programmed{fill:#e0a000}\
.first200{fill:#111}.bad{fill:#d00}\
.histograms{display:flex;flex-wrap:wrap;gap:12px}";

/// The report as a standalone HTML page.
pub fn render_html(report: &PushReport) -> String {
    let mut page =
        String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>");
    let title = format!(
        "interlock bench push: {} probes, run {}",
        report.probes_total,
        report.parameters.get("run").map_or("", String::as_str)
    );
    let _ = write!(
        page,
        "<title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
        escape(&title),
        escape(&title)
    );
    page += &summary_table(report);
    page += "<h2>Latency from the write</h2><div class=\"histograms\">";
    for which in Latency::ALL {
        let title = format!("write {}", which.label());
        page += &histogram(&title, &which.samples(&report.probes));
    }
    page += "</div><h2>Timeline</h2><p>One row per probe Ingress, from its write to its \
             first 200: <span style=\"color:#4a7ebb\">published</span>, \
             <span style=\"color:#2a9d3a\">ACK by each Envoy</span>, \
             <span style=\"color:#e0a000\">programmed</span>, first 200 (black), \
             <span style=\"color:#d00\">bad answers in red</span>. Hover for times.</p>";
    let end = report
        .probes
        .iter()
        .flat_map(|p| {
            [p.written_ms, p.first_200_ms, p.programmed_ms, p.deleted_ms]
                .into_iter()
                .flatten()
                .chain(p.acked_ms.values().copied())
                .chain(p.bad.iter().map(|b| b.at_ms))
        })
        .fold(1.0, f64::max);
    page += &timeline(&report.probes, end);
    page += &parameters_table(report);
    page += "</body></html>\n";
    page
}

fn summary_table(report: &PushReport) -> String {
    let mut html = String::from(
        "<h2>Summary</h2><table><tr><th class=\"k\">from the write</th><th>p50 ms</th>\
         <th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>n</th></tr>",
    );
    for which in Latency::ALL {
        let (name, s) = (which.label(), report.latency.get(which));
        let _ = write!(
            html,
            "<tr><td class=\"k\">{name}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td>\
             <td>{:.1}</td><td>{}</td></tr>",
            s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.count
        );
    }
    html += "</table><table>";
    let b = &report.bad;
    let class = if b.total > 0 {
        " class=\"bad-count\""
    } else {
        ""
    };
    let rows = [
        (
            "probes written / published / programmed / answered 200",
            format!(
                "{} / {} / {} / {} of {}",
                report.written,
                report.published,
                report.programmed,
                report.answered,
                report.probes_total
            ),
        ),
        (
            "404 (of which NR)",
            format!("{} ({})", b.not_found, b.not_found_no_route),
        ),
        ("503", b.unavailable.to_string()),
        ("wrong backend", b.wrong_backend.to_string()),
        (
            "other status / unreachable",
            format!("{} / {}", b.other_status, b.unreachable),
        ),
        ("publishes", report.publishes.to_string()),
        ("requests", report.requests.to_string()),
    ];
    for (k, v) in rows {
        let _ = write!(
            html,
            "<tr><td class=\"k\">{}</td><td>{}</td></tr>",
            escape(k),
            escape(&v)
        );
    }
    let _ = write!(
        html,
        "<tr><td class=\"k\">bad answers (target 0)</td><td{class}>{}</td></tr></table>",
        b.total
    );
    html
}

fn parameters_table(report: &PushReport) -> String {
    let mut html = String::from("<h2>Run</h2><table>");
    let ending = serde_json::to_string(&report.ending).unwrap_or_default();
    let mut rows: Vec<(String, String)> = report
        .parameters
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    rows.push(("ending".into(), ending));
    rows.push((
        "interlock version".into(),
        report.versions.interlock.clone(),
    ));
    if report.versions.envoy.is_empty() {
        rows.push((
            "envoy version".into(),
            "unknown (no --envoy-admin given)".into(),
        ));
    }
    for (admin, version) in &report.versions.envoy {
        rows.push((format!("envoy version ({admin})"), version.clone()));
    }
    rows.push(("duration".into(), format!("{:.0} ms", report.duration_ms)));
    for (k, v) in rows {
        let _ = write!(
            html,
            "<tr><td class=\"k\">{}</td><td class=\"k\">{}</td></tr>",
            escape(&k),
            escape(&v)
        );
    }
    html + "</table>"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::push::{
        BadAnswer, BadKind, Ending, Outcome, ProbeRecord, ProbeTiming, PushPlan,
    };
    use crate::bench::report::Versions;
    use std::time::Duration;

    fn report(probes: usize) -> PushReport {
        let plan = PushPlan {
            run: "t1".into(),
            probes,
            rate: None,
            churn: false,
            gateway: "127.0.0.1:1".parse().unwrap(),
            class: "interlock".into(),
            expect_upstream: None,
            timing: ProbeTiming {
                fast: Duration::from_millis(10),
                steady: Duration::from_millis(100),
                grace: Duration::from_millis(10),
                timeout: Duration::from_secs(1),
            },
            timeout: Duration::from_secs(1),
            hold: Duration::from_secs(1),
            gateway_dead_after: Duration::from_secs(1),
        };
        let records = (0..probes)
            .map(|i| ProbeRecord {
                ingress: format!("bench/push-t1-{i}<&\"'>"),
                host: format!("push-t1-{i}.bench.invalid"),
                written_ms: Some(i as f64),
                published_ms: Some(i as f64 + 5.0),
                acked_ms: [("node-1".to_owned(), i as f64 + 7.0)].into(),
                programmed_ms: Some(i as f64 + 8.0),
                first_200_ms: (i % 2 == 0).then_some(i as f64 + 9.0),
                deleted_ms: None,
                bad: vec![BadAnswer {
                    at_ms: i as f64 + 10.0,
                    kind: BadKind::NotFoundNoRoute,
                    detail: "404 NR <x>".into(),
                }],
            })
            .collect();
        let outcome = Outcome {
            ending: Ending::AdminLost("gone & <away>".into()),
            cleanup: Ok(probes),
            probes: records,
            publishes: 3,
            requests: 10,
            duration_ms: 100.0,
        };
        PushReport::new(&plan, "directory /tmp/x", Versions::default(), outcome)
    }

    /// Parses the page strictly (as XML; the HTML5 doctype is allowed).
    fn parse(html: &str) -> roxmltree::Document<'_> {
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        roxmltree::Document::parse_with_options(html, options).expect("the report is well-formed")
    }

    #[test]
    fn html_report_parses_with_one_timeline_row_per_probe_and_no_external_reference() {
        let html = render_html(&report(7));
        let doc = parse(&html);
        let rows = doc
            .descendants()
            .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("probe"))
            .count();
        assert_eq!(rows, 7);
        let bad_marks = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("bad"))
            .count();
        assert_eq!(bad_marks, 7);
        let histograms = doc
            .descendants()
            .filter(|n| n.has_tag_name("svg") && n.attribute("class") == Some("histogram"))
            .count();
        assert_eq!(histograms, 4);
        for external in [
            "http:", "https:", "//", "src=", "href=", "url(", "@import", "<script",
        ] {
            assert!(!html.contains(external), "{external} in the report");
        }
    }

    #[test]
    fn an_empty_run_still_renders() {
        let html = render_html(&report(0));
        parse(&html);
        assert!(html.contains("no samples"));
    }
}
