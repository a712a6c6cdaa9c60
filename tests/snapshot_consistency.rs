//! Invariant 2 (every reference resolves) and invariant 7 (content versions) of
//! snapshots, built fresh and by editing.

#[path = "support/resources.rs"]
mod resources;

use std::net::SocketAddr;

use interlock::snapshot::{encode_count, Inconsistency, ResourceType, Snapshot};
use resources::{eds_cluster, endpoints, http_listener, route_table};

fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn hosts(list: &[(&str, &str)]) -> Vec<(String, String, String)> {
    list.iter()
        .map(|(h, c)| (h.to_string(), "/".to_string(), c.to_string()))
        .collect()
}

fn good() -> Snapshot {
    Snapshot::builder()
        .listener(http_listener("http", 10080, "routes"))
        .route(route_table("routes", &hosts(&[("a.test", "a")])))
        .cluster(eds_cluster("a"))
        .endpoints(endpoints("a", &[addr()]))
        .build()
        .expect("consistent")
}

#[test]
fn every_dangling_reference_is_listed() {
    let err = Snapshot::builder()
        .listener(http_listener("http", 10080, "missing-routes"))
        .route(route_table(
            "routes",
            &hosts(&[("a.test", "a"), ("b.test", "nope")]),
        ))
        .cluster(eds_cluster("a"))
        .build()
        .expect_err("inconsistent");
    let missing: Vec<(ResourceType, String)> = err
        .problems
        .iter()
        .filter_map(|p| match p {
            Inconsistency::Dangling {
                missing_kind,
                missing,
                ..
            } => Some((*missing_kind, missing.clone())),
            _ => None,
        })
        .collect();
    assert!(
        missing.contains(&(ResourceType::Route, "missing-routes".into())),
        "{err}"
    );
    assert!(
        missing.contains(&(ResourceType::Cluster, "nope".into())),
        "{err}"
    );
    assert!(
        missing.contains(&(ResourceType::Endpoints, "a".into())),
        "EDS cluster without CLA: {err}"
    );
    assert_eq!(missing.len(), 3, "{err}");
}

#[test]
fn duplicate_names_and_domains_are_rejected() {
    let err = Snapshot::builder()
        .cluster(eds_cluster("a"))
        .cluster(eds_cluster("a"))
        .endpoints(endpoints("a", &[]))
        .route(route_table(
            "routes",
            &hosts(&[("a.test", "a"), ("A.test", "a")]),
        ))
        .build()
        .expect_err("inconsistent");
    assert!(err.problems.contains(&Inconsistency::DuplicateName {
        kind: ResourceType::Cluster,
        name: "a".into()
    }));
    assert!(
        err.problems
            .iter()
            .any(|p| matches!(p, Inconsistency::DuplicateDomain { .. })),
        "{err}"
    );
}

#[test]
fn versions_depend_only_on_content() {
    let (one, two) = (good(), good());
    assert_eq!(one.version(), two.version());
    for kind in ResourceType::ALL {
        assert_eq!(one.type_version(kind), two.type_version(kind));
    }
    let other = one
        .edit()
        .endpoints(endpoints("a", &[SocketAddr::from(([127, 0, 0, 1], 9090))]))
        .build()
        .expect("consistent");
    assert_ne!(other.version(), one.version());
    assert_ne!(
        other.type_version(ResourceType::Endpoints),
        one.type_version(ResourceType::Endpoints)
    );
    assert_eq!(
        other.type_version(ResourceType::Cluster),
        one.type_version(ResourceType::Cluster)
    );
}

#[test]
fn an_edit_equals_a_fresh_build_and_encodes_only_what_changed() {
    let base = good();
    let before = encode_count();
    let edited = base
        .edit()
        .route(route_table(
            "routes",
            &hosts(&[("a.test", "a"), ("b.test", "b")]),
        ))
        .cluster(eds_cluster("b"))
        .endpoints(endpoints("b", &[addr()]))
        .build()
        .expect("consistent");
    let encoded = encode_count() - before;
    let fresh = Snapshot::builder()
        .listener(http_listener("http", 10080, "routes"))
        .route(route_table(
            "routes",
            &hosts(&[("a.test", "a"), ("b.test", "b")]),
        ))
        .cluster(eds_cluster("a"))
        .endpoints(endpoints("a", &[addr()]))
        .cluster(eds_cluster("b"))
        .endpoints(endpoints("b", &[addr()]))
        .build()
        .expect("consistent");
    assert_eq!(edited.version(), fresh.version());
    // Other tests in this binary may encode concurrently; at least our 3 happened.
    assert!(encoded >= 3);
    assert!(
        std::sync::Arc::ptr_eq(
            edited.resources(ResourceType::Listener),
            base.resources(ResourceType::Listener)
        ),
        "untouched types are shared, not copied"
    );
}

#[test]
fn an_edit_that_breaks_a_reference_is_rejected() {
    let base = good();
    let err = base
        .edit()
        .remove(ResourceType::Cluster, "a")
        .remove(ResourceType::Endpoints, "a")
        .build()
        .expect_err("route still names cluster a");
    assert!(err.to_string().contains("\"a\""), "{err}");
    let err = base
        .edit()
        .route(route_table(
            "routes",
            &hosts(&[("a.test", "a"), ("b.test", "b")]),
        ))
        .build()
        .expect_err("cluster b is missing");
    assert!(err.to_string().contains("\"b\""), "{err}");
}
