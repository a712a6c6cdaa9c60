//! Request URLs, parsed the way the real server routes them:
//! `/api/v1[/namespaces/{ns}]/{plural}[/{name}[/{subresource}]]` for the core group and
//! `/apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}[/{subresource}]]` for
//! the others; a collection without a namespace means all namespaces.

use super::kinds::{self, ResourceKind};
use super::status::ApiError;

/// What a request addresses.
#[derive(Debug)]
pub enum Target {
    /// `GET /version`, which `kube::Client::apiserver_version` calls.
    Version,
    Resource(Route),
}

/// A collection (no `name`), an object, or an object's subresource.
#[derive(Debug)]
pub struct Route {
    pub kind: &'static ResourceKind,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

pub fn parse_path(path: &str) -> Result<Target, ApiError> {
    let not_found = || {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Ok(Target::Version),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(not_found()),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return Err(not_found()),
    };
    let kind = kinds::by_path(group, version, plural).ok_or_else(not_found)?;
    // A namespaced object is only addressable inside its namespace, and a
    // cluster-scoped kind has no namespaced path.
    if (namespace.is_some() && !kind.namespaced)
        || (name.is_some() && kind.namespaced && namespace.is_none())
    {
        return Err(not_found());
    }
    Ok(Target::Resource(Route {
        kind,
        namespace,
        name,
        subresource,
    }))
}

/// Decoded query parameters, in order.
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Self(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter as the real server reads it (`true` or `1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
