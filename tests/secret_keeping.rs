//! TLS keys in memory only where an Ingress names them: the pipeline keeps a
//! Secret no Ingress names without its data and asks the source for it again
//! once one does (the Kubernetes source lists it by name; see kube_source.rs).

use interlock::pipeline::Rebuilder;
use interlock::translate::TranslateConfig;
use interlock::world::{Kind, Object, ObjectKey, ObjectRef, SecretRefetch, World, WorldEvent};
use serde_json::json;

fn secret(name: &str) -> Object {
    let value = json!({"metadata": {"name": name, "namespace": "app"}, "type": "kubernetes.io/tls",
                       "stringData": {"tls.crt": "CERT", "tls.key": "KEY"}});
    Object::Secret(serde_json::from_value(value).expect("secret"))
}

fn ingress(name: &str, secret: &str) -> Object {
    let value = json!({"metadata": {"name": name, "namespace": "app"},
        "spec": {"tls": [{"hosts": [format!("{name}.test")], "secretName": secret}],
                 "rules": [{"host": format!("{name}.test")}]}});
    Object::Ingress(serde_json::from_value(value).expect("ingress"))
}

/// True when the world holds Secret `name` with its data.
fn whole(world: &World, name: &str) -> bool {
    let secret = world
        .secrets
        .get(&ObjectKey::new("app", name))
        .unwrap_or_else(|| panic!("Secret {name} is known"));
    secret.string_data.is_some() || secret.data.is_some()
}

#[test]
fn only_secrets_an_ingress_names_keep_their_data() {
    let (refetch, mut requests) = SecretRefetch::channel(16);
    let mut rebuilder =
        Rebuilder::new(TranslateConfig::default()).with_secret_refetch(Some(refetch));
    // Before the Ingresses are listed nothing is known to be unnamed.
    rebuilder.apply(WorldEvent::Upsert(secret("named")));
    rebuilder.apply(WorldEvent::Upsert(secret("spare")));
    assert!(whole(rebuilder.world(), "spare"));
    rebuilder.apply(WorldEvent::Replace {
        kind: Kind::Ingress,
        objects: vec![ingress("site", "named")],
    });
    assert!(whole(rebuilder.world(), "named"));
    assert!(!whole(rebuilder.world(), "spare"), "unnamed: data dropped");
    // A new unnamed Secret is kept without its data.
    rebuilder.apply(WorldEvent::Upsert(secret("later")));
    assert!(!whole(rebuilder.world(), "later"));
    assert!(requests.try_recv().is_err(), "nothing asked for yet");
    // Once named, it is asked for again, and kept whole when it arrives.
    rebuilder.apply(WorldEvent::Upsert(ingress("blog", "later")));
    assert_eq!(
        requests.try_recv().ok(),
        Some(ObjectKey::new("app", "later"))
    );
    rebuilder.apply(WorldEvent::Upsert(secret("later")));
    assert!(whole(rebuilder.world(), "later"));
    // No longer named: its data goes.
    rebuilder.apply(WorldEvent::Delete(ObjectRef {
        kind: Kind::Ingress,
        key: ObjectKey::new("app", "site"),
    }));
    assert!(!whole(rebuilder.world(), "named"));
    assert!(whole(rebuilder.world(), "later"));
    assert!(requests.try_recv().is_err());
}

#[test]
fn without_a_source_to_ask_every_secret_is_kept() {
    let mut rebuilder = Rebuilder::new(TranslateConfig::default());
    rebuilder.apply(WorldEvent::Replace {
        kind: Kind::Ingress,
        objects: vec![],
    });
    rebuilder.apply(WorldEvent::Upsert(secret("spare")));
    assert!(whole(rebuilder.world(), "spare"));
}
