//! Manifest parsing, without a directory: what a file of Kubernetes YAML turns
//! into, and how its mistakes are reported.

use interlock::sources::file::{parse_manifests, Manifests, SkipReason, Skipped};
use interlock::world::{Kind, Object, ObjectKey};
use k8s_openapi::ByteString;

fn refs(objects: &[Object]) -> Vec<String> {
    objects
        .iter()
        .map(|o| o.reference().map_or("<unnamed>".into(), |r| r.to_string()))
        .collect()
}

#[test]
fn multi_document_text_yields_every_object_in_order() {
    let text = r#"
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              name: http
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: interlock
spec:
  controller: interlock.dev/ingress
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: shop
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
endpoints:
- addresses: ["10.0.0.1"]
  conditions:
    ready: true
ports:
- name: http
  port: 8080
"#;
    let objects = parse_manifests(text).expect("valid manifests");
    assert_eq!(
        refs(&objects),
        [
            "Service shop/web",
            "Ingress default/web",
            "IngressClass interlock",
            "EndpointSlice shop/web-abc",
        ],
        "a namespaced object without a namespace is in `default`, as with kubectl"
    );
}

#[test]
fn list_items_are_objects() {
    let text = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a, namespace: x}
- apiVersion: v1
  kind: Service
  metadata: {name: b, namespace: x}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: c, namespace: x}
"#;
    let manifests = Manifests::parse(text).expect("valid List");
    assert_eq!(refs(&manifests.objects), ["Service x/a", "Service x/b"]);
    assert_eq!(
        manifests.skipped,
        [Skipped {
            document: 1,
            item: Some(3),
            reason: SkipReason::UnknownKind {
                api_version: "apps/v1".into(),
                kind: "Deployment".into()
            }
        }]
    );
}

#[test]
fn unknown_kinds_and_old_api_versions_are_skipped_not_errors() {
    let text = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: old}
---
apiVersion: v1
kind: Service
metadata: {name: s}
"#;
    let manifests = Manifests::parse(text).expect("skips are not errors");
    assert_eq!(refs(&manifests.objects), ["Service default/s"]);
    let skipped: Vec<(usize, String)> = manifests
        .skipped
        .iter()
        .map(|s| (s.document, s.to_string()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                1,
                "document 1: apps/v1 Deployment is not a kind Interlock reads".to_owned()
            ),
            (
                2,
                "document 2: extensions/v1beta1 Ingress is not a kind Interlock reads".to_owned()
            ),
        ]
    );
}

#[test]
fn empty_documents_and_comments_are_ignored() {
    let text = "---\n# just a comment\n---\n\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n";
    assert_eq!(
        refs(&parse_manifests(text).expect("valid")),
        ["Service default/s"]
    );
    assert_eq!(parse_manifests("").expect("empty text is valid"), []);
}

#[test]
fn objects_without_a_name_are_skipped() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: ok}\n";
    let manifests = Manifests::parse(text).expect("valid");
    assert_eq!(refs(&manifests.objects), ["Service default/ok"]);
    assert_eq!(
        manifests.skipped,
        [Skipped {
            document: 1,
            item: None,
            reason: SkipReason::NoName {
                kind: Kind::Service
            }
        }]
    );
}

#[test]
fn secret_string_data_is_merged_into_data_like_the_api_server() {
    let text = r#"
apiVersion: v1
kind: Secret
metadata: {name: tls, namespace: shop}
type: kubernetes.io/tls
data:
  tls.crt: b2xk
  other: a2VwdA==
stringData:
  tls.crt: "-----BEGIN CERTIFICATE-----"
  tls.key: "-----BEGIN PRIVATE KEY-----"
"#;
    let objects = parse_manifests(text).expect("valid Secret");
    let [Object::Secret(secret)] = objects.as_slice() else {
        panic!("expected one Secret, got {objects:?}");
    };
    assert_eq!(secret.string_data, None, "stringData is folded into data");
    let data = secret.data.clone().unwrap_or_default();
    assert_eq!(
        data.get("tls.crt"),
        Some(&ByteString(b"-----BEGIN CERTIFICATE-----".to_vec())),
        "stringData wins over data for the same key"
    );
    assert_eq!(
        data.get("tls.key"),
        Some(&ByteString(b"-----BEGIN PRIVATE KEY-----".to_vec()))
    );
    assert_eq!(data.get("other"), Some(&ByteString(b"kept".to_vec())));
}

#[test]
fn truncated_yaml_is_an_error_naming_the_document_and_line() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: \"b\n";
    let error = parse_manifests(text).expect_err("unterminated quote");
    assert_eq!(error.document, 2);
    assert_eq!(error.item, None);
    let line = error.line.expect("the YAML parser knows the line");
    assert!(
        (8..=9).contains(&line),
        "line {line} should point at the unterminated quote: {error}"
    );
    assert!(error.to_string().starts_with("document 2: "), "{error}");
}

#[test]
fn a_wrongly_typed_field_is_an_error_with_its_line() {
    let text = r#"apiVersion: v1
kind: Service
metadata: {name: a}
---
apiVersion: v1
kind: Service
metadata: {name: b}
spec:
  ports:
  - port: eighty
"#;
    let error = parse_manifests(text).expect_err("port must be a number");
    assert_eq!(error.document, 2);
    assert_eq!(error.line, Some(10), "{error}");
    assert!(error.message.contains("eighty"), "{error}");
}

#[test]
fn a_wrongly_typed_field_in_a_list_item_is_an_error_with_its_line() {
    let text = r#"apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
- apiVersion: v1
  kind: Service
  metadata: {name: b}
  spec:
    ports:
    - port: eighty
"#;
    let error = parse_manifests(text).expect_err("port must be a number");
    assert_eq!((error.document, error.item), (1, Some(2)));
    assert_eq!(error.line, Some(12), "{error}");
    assert!(
        error.to_string().starts_with("document 1, item 2: "),
        "{error}"
    );
}

#[test]
fn a_document_that_is_not_an_object_is_an_error() {
    for (text, expected) in [
        ("- a\n- b\n", "found a sequence"),
        ("just text\n", "found a string"),
        ("metadata: {name: a}\n", "`apiVersion` is missing"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "`kind` is missing"),
        (
            "apiVersion: v1\nkind: List\nitems: {}\n",
            "must be a sequence",
        ),
    ] {
        let error = parse_manifests(text).expect_err(text);
        assert!(error.message.contains(expected), "{text:?}: {error}");
    }
}

#[test]
fn yaml_merge_keys_apply() {
    let text = r#"
apiVersion: v1
kind: Service
metadata: &meta
  name: a
  namespace: shop
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  <<: {namespace: shop}
  name: b
"#;
    let objects = parse_manifests(text).expect("valid");
    assert_eq!(refs(&objects), ["Service shop/a", "Ingress shop/b"]);
    assert_eq!(
        objects[1].reference().map(|r| r.key),
        Some(ObjectKey::new("shop", "b"))
    );
}
