//! Authentication: `auth-type: basic` with `auth-secret` (+ `auth-secret-type`,
//! `auth-realm`), by Envoy's `basic_auth` filter; the external auth
//! annotations (`auth-url` …) are read by [`super::external_auth`].
//!
//! The Secret (in the Ingress's namespace) holds htpasswd lines under `auth`
//! (`auth-secret-type: auth-file`, the default) or one user per key with the
//! hash as value (`auth-map`). Envoy reads only `{SHA}` hashes; `$apr1$`,
//! bcrypt and crypt lines, which ingress-nginx accepts, are left out (and
//! reported). When the Secret is missing or has no usable user, the routes
//! answer 503 rather than serve without authentication, as ingress-nginx
//! denies such locations.

use k8s_openapi::api::core::v1::Secret;

use super::reader::Reader;
use crate::translate::model::BasicAuth;
use crate::translate::source::Lookups;
use crate::world::ObjectKey;

/// What the auth annotations ask of every route of the Ingress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthOptions {
    /// Basic authentication.
    pub basic: Option<BasicAuth>,
    /// Set when authentication is asked for but cannot be set up: the routes
    /// answer 503.
    pub refusal: Option<String>,
}

/// Reads the auth annotations of the Ingress `key`.
pub fn read(r: &mut Reader<'_>, key: &ObjectKey, lookups: &mut Lookups<'_>) -> AuthOptions {
    const OPTIONS: [&str; 3] = ["auth-secret", "auth-secret-type", "auth-realm"];
    match r.get("auth-type") {
        None => {
            for name in OPTIONS {
                r.ignored(name, "auth-type is not set");
            }
            return AuthOptions::default();
        }
        Some("basic") => r.honoured("auth-type"),
        Some("digest") => {
            r.ignored("auth-type", "Envoy has no digest authentication");
            for name in OPTIONS {
                r.ignored(name, "auth-type digest is not supported");
            }
            return AuthOptions::default();
        }
        Some(other) => {
            r.invalid(
                "auth-type",
                format!("{other:?} is not basic or digest; ignored"),
            );
            return AuthOptions::default();
        }
    }
    let refuse = |why: String| AuthOptions {
        basic: None,
        refusal: Some(format!("basic auth: {why}; the route answers 503")),
    };
    let map = match r.get("auth-secret-type") {
        None | Some("auth-file") => false,
        Some("auth-map") => true,
        Some(other) => {
            r.invalid(
                "auth-secret-type",
                format!("{other:?} is not auth-file or auth-map"),
            );
            return refuse(format!("auth-secret-type {other:?} is unknown"));
        }
    };
    r.honoured("auth-secret-type");
    r.approximated("auth-realm", "Envoy's basic_auth sends its own challenge");
    let Some(name) = r.get("auth-secret").filter(|n| !n.is_empty()) else {
        r.invalid("auth-secret", "auth-type basic needs auth-secret");
        return refuse("auth-secret is not set".to_owned());
    };
    let secret_name = match name.split_once('/') {
        None => name,
        Some((ns, n)) if ns == key.namespace => n,
        Some(_) => {
            r.invalid(
                "auth-secret",
                "a Secret of another namespace is not allowed",
            );
            return refuse(format!("Secret {name} is in another namespace"));
        }
    };
    let secret_key = ObjectKey::new(key.namespace.clone(), secret_name);
    let Some(secret) = lookups.raw_secret(&secret_key) else {
        r.invalid("auth-secret", format!("Secret {secret_key} not found"));
        return refuse(format!("Secret {secret_key} not found"));
    };
    let (users, dropped) = users(secret, map);
    if users.is_empty() {
        r.invalid(
            "auth-secret",
            format!("Secret {secret_key} has no {{SHA}} user"),
        );
        return refuse(format!("Secret {secret_key} has no {{SHA}} user"));
    }
    if dropped == 0 {
        r.honoured("auth-secret");
    } else {
        r.approximated(
            "auth-secret",
            format!("{dropped} user(s) without a {{SHA}} hash left out (Envoy reads only {{SHA}})"),
        );
    }
    AuthOptions {
        basic: Some(BasicAuth {
            users: users.join("\n"),
            realm: r.get("auth-realm").map(str::to_owned),
        }),
        refusal: None,
    }
}

/// The `user:{SHA}hash` lines of `secret`, and how many users were left out.
fn users(secret: &Secret, map: bool) -> (Vec<String>, usize) {
    let entry = |k: &str| -> Option<String> {
        let from_string = secret.string_data.as_ref().and_then(|d| d.get(k)).cloned();
        from_string.or_else(|| {
            let bytes = secret.data.as_ref()?.get(k)?;
            String::from_utf8(bytes.0.clone()).ok()
        })
    };
    let lines: Vec<String> = if map {
        let mut keys: Vec<&String> = secret.data.iter().flat_map(|d| d.keys()).collect();
        keys.extend(secret.string_data.iter().flat_map(|d| d.keys()));
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter_map(|user| Some(format!("{user}:{}", entry(user)?.trim())))
            .collect()
    } else {
        entry("auth")
            .map(|text| text.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let mut kept = Vec::new();
    let mut dropped = 0;
    for line in lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
        match line.split_once(':') {
            Some((user, hash))
                if !user.is_empty()
                    && hash.starts_with("{SHA}")
                    && hash.len() == 33
                    && !hash.contains(char::is_whitespace) =>
            {
                kept.push(line.to_owned())
            }
            _ => dropped += 1,
        }
    }
    (kept, dropped)
}
