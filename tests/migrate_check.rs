//! `interlock migrate-check` on a directory: the report names every Ingress,
//! whether the class flags would serve it, and each annotation's verdict (text
//! and JSON), from the same parsers translation uses.

use std::process::Command;

fn migrate_check(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_interlock"))
        .arg("migrate-check")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/migrate"))
        .args(args)
        .output()
        .expect("run interlock");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

const TAKE_OVER: [&str; 4] = [
    "--ingress-class",
    "nginx",
    "--controller-name",
    "k8s.io/ingress-nginx",
];

#[test]
fn directory_report_gives_each_annotation_its_verdict() {
    let expected = include_str!("data/migrate/expected.txt");
    assert_eq!(migrate_check(&TAKE_OVER), expected);
}

#[test]
fn json_report_carries_the_same_verdicts_and_totals() {
    let mut args = TAKE_OVER.to_vec();
    args.push("--json");
    let report: serde_json::Value =
        serde_json::from_str(&migrate_check(&args)).expect("JSON output");
    let totals = &report["totals"];
    assert_eq!(totals["ingresses"], 3);
    assert_eq!(totals["honoured"], 4);
    assert_eq!(totals["invalid"], 1);
    let shop = &report["ingresses"][1];
    assert_eq!(shop["ingress"], "web/shop");
    assert_eq!(shop["served"], true);
    let rewrite = shop["annotations"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["annotation"] == "rewrite-target"))
        .expect("rewrite-target in the report");
    assert_eq!(rewrite["verdict"]["verdict"], "honoured");
}

#[test]
fn without_the_class_flags_nginx_ingresses_are_reported_as_not_served() {
    let text = migrate_check(&[]);
    assert!(
        text.contains("web/shop (not served with these class flags)"),
        "{text}"
    );
}
