//! Deterministic bytes for route tables with per-route filter configuration.
//!
//! `typed_per_filter_config` is a protobuf map, which prost keeps in a
//! `HashMap` and encodes in hash order: a route with two entries would encode
//! differently in two processes, and its version would differ across
//! replicas (invariant 7). prost writes all entries of a map field one after
//! the other, and reordering them keeps every length, so [`sort_route_maps`]
//! sorts each route's entries in place in the encoded RouteConfiguration.

/// `RouteConfiguration.virtual_hosts`.
const VIRTUAL_HOSTS: u64 = 2;
/// `VirtualHost.routes`.
const ROUTES: u64 = 3;
/// `Route.typed_per_filter_config`.
const ROUTE_FILTER_CONFIG: u64 = 13;

/// Sorts the `typed_per_filter_config` entries of every route of an encoded
/// `RouteConfiguration`, in place. Malformed input is left as it is.
pub(crate) fn sort_route_maps(config: &mut [u8]) {
    for vhost in fields(config, VIRTUAL_HOSTS) {
        for route in fields(&config[vhost.clone()], ROUTES) {
            let route = vhost.start + route.start..vhost.start + route.end;
            sort_field(&mut config[route], ROUTE_FILTER_CONFIG);
        }
    }
}

/// One field occurrence: where it starts (its tag) and where its payload is.
#[derive(Clone, Debug)]
struct Field {
    number: u64,
    start: usize,
    payload: std::ops::Range<usize>,
}

/// The payload ranges of the length-delimited occurrences of field `number`.
fn fields(message: &[u8], number: u64) -> Vec<std::ops::Range<usize>> {
    parse(message)
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.number == number)
        .map(|f| f.payload)
        .collect()
}

/// Sorts the occurrences of field `number` of `message` by their bytes, if
/// they are contiguous (as prost writes a map).
fn sort_field(message: &mut [u8], number: u64) {
    let Some(all) = parse(message) else {
        return;
    };
    let entries: Vec<&Field> = all.iter().filter(|f| f.number == number).collect();
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return;
    };
    let span = first.start..last.payload.end;
    let inside = all
        .iter()
        .filter(|f| f.start >= span.start && f.start < span.end)
        .count();
    if entries.len() < 2 || inside != entries.len() {
        return;
    }
    let mut pieces: Vec<Vec<u8>> = entries
        .iter()
        .zip(entries.iter().skip(1).map(|f| f.start).chain([span.end]))
        .map(|(f, end)| message[f.start..end].to_vec())
        .collect();
    pieces.sort();
    let sorted = pieces.concat();
    message[span].copy_from_slice(&sorted);
}

/// Every field of `message`, or `None` if it does not parse.
fn parse(message: &[u8]) -> Option<Vec<Field>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < message.len() {
        let start = at;
        let tag = varint(message, &mut at)?;
        let payload = match tag & 7 {
            0 => {
                varint(message, &mut at)?;
                at..at
            }
            1 => at..at.checked_add(8)?,
            2 => {
                let len = usize::try_from(varint(message, &mut at)?).ok()?;
                at..at.checked_add(len)?
            }
            5 => at..at.checked_add(4)?,
            _ => return None,
        };
        if payload.end > message.len() {
            return None;
        }
        at = payload.end.max(at);
        out.push(Field {
            number: tag >> 3,
            start,
            payload,
        });
    }
    Some(out)
}

fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::route::v3::{Route, RouteConfiguration, VirtualHost};
    use envoy_types::pb::google::protobuf::Any;
    use prost::Message;

    use super::*;

    fn config(names: &[&str]) -> RouteConfiguration {
        let route = Route {
            name: "r".into(),
            typed_per_filter_config: names
                .iter()
                .map(|n| {
                    let any = Any {
                        type_url: format!("t/{n}"),
                        value: n.as_bytes().to_vec(),
                    };
                    ((*n).to_owned(), any)
                })
                .collect(),
            ..Route::default()
        };
        RouteConfiguration {
            name: "http".into(),
            virtual_hosts: vec![VirtualHost {
                name: "a".into(),
                domains: vec!["a".into()],
                routes: vec![route.clone(), route],
                ..VirtualHost::default()
            }],
            ..RouteConfiguration::default()
        }
    }

    #[test]
    fn map_entries_encode_in_one_order_whatever_the_hash_order() {
        let names = [
            "envoy.filters.http.rbac",
            "envoy.filters.http.cors",
            "x",
            "y",
            "z",
        ];
        let mut canonical: Option<Vec<u8>> = None;
        for _ in 0..16 {
            let original = config(&names);
            let mut bytes = original.encode_to_vec();
            sort_route_maps(&mut bytes);
            let decoded = RouteConfiguration::decode(bytes.as_slice()).unwrap();
            assert_eq!(decoded, original);
            match &canonical {
                None => canonical = Some(bytes),
                Some(c) => assert_eq!(c, &bytes),
            }
        }
    }
}
