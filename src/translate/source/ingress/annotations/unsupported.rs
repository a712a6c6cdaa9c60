//! Annotations Interlock knows and does not implement, each with its reason,
//! so `migrate-check` and the diagnostics say more than "not supported".

use super::reader::Reader;

/// `(name, why)` for every known annotation without an implementation.
pub const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "configuration-snippet",
        "raw nginx configuration cannot be translated to Envoy",
    ),
    (
        "server-snippet",
        "raw nginx configuration cannot be translated to Envoy",
    ),
    (
        "stream-snippet",
        "raw nginx configuration cannot be translated to Envoy",
    ),
    (
        "modsecurity-snippet",
        "raw nginx configuration cannot be translated to Envoy",
    ),
    ("enable-modsecurity", "Envoy has no ModSecurity"),
    ("enable-owasp-core-rules", "Envoy has no ModSecurity"),
    (
        "enable-opentelemetry",
        "tracing is configured on the gateway, not per Ingress",
    ),
    (
        "enable-access-log",
        "access logging is configured on the gateway, not per Ingress",
    ),
    ("server-alias", "not yet implemented"),
    (
        "proxy-buffering",
        "Envoy streams; buffering is not configurable per route",
    ),
    (
        "proxy-buffer-size",
        "Envoy streams; buffering is not configurable per route",
    ),
    (
        "proxy-request-buffering",
        "Envoy streams; buffering is not configurable per route",
    ),
    (
        "client-body-buffer-size",
        "Envoy streams; buffering is not configurable per route",
    ),
    ("upstream-hash-by", "not yet implemented"),
    ("mirror-target", "not yet implemented"),
    ("mirror-request-body", "not yet implemented"),
    ("mirror-host", "not yet implemented"),
    (
        "http2-push-preload",
        "HTTP/2 server push is obsolete and unsupported by Envoy",
    ),
    ("x-forwarded-prefix-header", "not yet implemented"),
    ("preserve-trailing-slash", "not yet implemented"),
    ("satisfy", "not yet implemented"),
    ("proxy-cookie-domain", "not yet implemented"),
    ("proxy-cookie-path", "not yet implemented"),
    ("proxy-redirect-from", "not yet implemented"),
    ("proxy-redirect-to", "not yet implemented"),
    (
        "proxy-http-version",
        "Envoy chooses the upstream HTTP version per cluster",
    ),
    ("connection-proxy-header", "not yet implemented"),
    (
        "enable-rewrite-log",
        "nginx debugging; nothing to translate",
    ),
    ("custom-headers", "not yet implemented"),
];

/// Records the known unsupported annotations present.
pub fn read(r: &mut Reader<'_>) {
    for (name, why) in UNSUPPORTED {
        r.ignored(name, *why);
    }
}
