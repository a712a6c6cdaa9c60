//! `ssl-passthrough`: the Ingress's TLS connections go unterminated, routed by
//! SNI, to the backend of each rule host's `/` path (see
//! `ingress/passthrough.rs`). As in ingress-nginx, TLS passthrough works below
//! HTTP, so the Ingress's other annotations are ignored.

use super::reader::{Reader, Verdict};
use super::values;
use super::Finding;

/// True when `ssl-passthrough` is `true`.
pub fn read(r: &mut Reader<'_>) -> bool {
    let on = r.parse("ssl-passthrough", values::boolean).unwrap_or(false);
    r.honoured("ssl-passthrough");
    on
}

/// Every finding but `ssl-passthrough`'s becomes "ignored", as ingress-nginx
/// ignores them on a passed-through Ingress.
pub fn ignore_the_rest(findings: &mut [Finding]) {
    for finding in findings {
        if finding.annotation != "ssl-passthrough" {
            finding.verdict = Verdict::Ignored(
                "ssl-passthrough: the TLS connection goes unterminated to the backend, so \
                 HTTP annotations do not apply"
                    .to_owned(),
            );
        }
    }
}
