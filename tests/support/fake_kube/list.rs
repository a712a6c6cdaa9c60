//! `GET <collection>`: a `<Kind>List` whose `metadata.resourceVersion` is the version
//! the list is consistent with (what kube-rs then watches from), with `limit`/`continue`
//! pagination and the `resourceVersion`/`resourceVersionMatch` semantics of the real
//! server. kube-rs 5's watcher lists with `limit=500` and no `resourceVersion` (a
//! consistent read of the latest state) by default, and passes selectors through.
//!
//! Every page of a paginated list is served as of the first page's version, so a list
//! never mixes states; a continue token from before a compaction gets 410 Gone.
//! Items carry no `apiVersion`/`kind`, as in real list responses.

use std::time::Duration;

use serde_json::{json, Value};

use super::routes::{Query, Route};
use super::selector::Selector;
use super::status::ApiError;
use super::store::Key;
use super::Shared;

/// How the test holds back lists of one kind (see `FakeApiServer::set_list_delay` and
/// `pause_lists`).
#[derive(Debug, Default, Clone, Copy)]
pub struct ListGate {
    pub delay: Duration,
    pub paused: bool,
}

pub async fn handle(shared: &Shared, route: &Route, query: &Query) -> Result<Value, ApiError> {
    let kind = route.kind;
    let selector = Selector::parse(kind, query.get("labelSelector"), query.get("fieldSelector"))?;
    let limit = match query.get("limit") {
        None | Some("" | "0") => None,
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        ),
    };
    shared.wait_for_list_gate(kind).await;

    let state = shared.state();
    let store = &state.store;
    let (list_rv, after, objects) = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (rv, after) = decode_continue(token)?;
            let objects = store.at(kind, rv).map_err(|_| {
                ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list \
                     result. You can start a new list without the continue parameter.",
                )
            })?;
            (rv, Some(after), objects)
        }
        None => {
            let rv = parse_rv(query.get("resourceVersion"))?;
            match (rv, query.get("resourceVersionMatch")) {
                (None, Some(_)) => {
                    return Err(ApiError::invalid(
                        "resourceVersionMatch is forbidden unless resourceVersion is provided",
                    ))
                }
                (Some(rv), Some("Exact")) => (rv, None, store.at(kind, rv)?),
                // A version with a limit and no match means Exact (legacy semantics).
                (Some(rv), None) if rv > 0 && limit.is_some() => (rv, None, store.at(kind, rv)?),
                (_, None | Some("NotOlderThan")) => {
                    (store.resource_version(), None, store.current(kind))
                }
                (_, Some(other)) => {
                    return Err(ApiError::invalid(format!(
                        "resourceVersionMatch: Unsupported value: {other:?}"
                    )))
                }
            }
        }
    };

    let mut matching = objects.into_iter().filter(|((ns, _), obj)| {
        route.namespace.as_ref().is_none_or(|want| want == ns) && selector.matches(obj)
    });
    let mut remaining = matching
        .by_ref()
        .skip_while(|(key, _)| after.as_ref().is_some_and(|a| key <= a));
    let page: Vec<(Key, Value)> = match limit {
        Some(n) => remaining.by_ref().take(n).collect(),
        None => remaining.by_ref().collect(),
    };
    let mut metadata = json!({ "resourceVersion": list_rv.to_string() });
    if remaining.next().is_some() {
        let (last, _) = page.last().expect("a limit of at least one");
        metadata["continue"] = json!(encode_continue(list_rv, last));
    }
    let items: Vec<Value> = page.into_iter().map(|(_, obj)| without_type(obj)).collect();
    Ok(json!({
        "kind": format!("{}List", kind.kind),
        "apiVersion": kind.api_version(),
        "metadata": metadata,
        "items": items,
    }))
}

fn parse_rv(rv: Option<&str>) -> Result<Option<u64>, ApiError> {
    match rv {
        None | Some("") => Ok(None),
        Some(rv) => rv
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))),
    }
}

/// Opaque to clients; readable here: `<list version>:<namespace>/<name of last item>`.
fn encode_continue(rv: u64, (ns, name): &Key) -> String {
    format!("{rv}:{ns}/{name}")
}

fn decode_continue(token: &str) -> Result<(u64, Key), ApiError> {
    let bad = || ApiError::bad_request(format!("invalid continue token {token:?}"));
    let (rv, key) = token.split_once(':').ok_or_else(bad)?;
    let (ns, name) = key.split_once('/').ok_or_else(bad)?;
    let rv = rv.parse().map_err(|_| bad())?;
    Ok((rv, (ns.to_string(), name.to_string())))
}

fn without_type(mut obj: Value) -> Value {
    if let Some(map) = obj.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
    }
    obj
}
