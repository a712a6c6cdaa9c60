//! Route tables encoded from their virtual hosts, one host at a time.
//!
//! A `RouteConfiguration` with only `name` (field 1) and `virtual_hosts`
//! (field 2) set encodes as its name followed by each virtual host as a
//! length-delimited field 2. So a table's bytes are its encoded name plus each
//! host's own encoding: the incremental translator splices the hosts it kept,
//! and a full build encodes (and drops) a 50,000-host table's hosts across the
//! cores instead of in one pass.

use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message;

use super::references::add_host_clusters;
use crate::fan_out;

/// The `virtual_hosts` field number of `RouteConfiguration`.
const VIRTUAL_HOSTS_FIELD: u32 = 2;

/// Each encoded virtual host as one element of the repeated field.
pub(crate) fn virtual_hosts_field(hosts: &[&[u8]]) -> Vec<u8> {
    let len: usize = hosts.iter().map(|h| h.len() + 11).sum();
    let mut body = Vec::with_capacity(len);
    for host in hosts {
        encode_key(VIRTUAL_HOSTS_FIELD, WireType::LengthDelimited, &mut body);
        encode_varint(host.len() as u64, &mut body);
        body.extend_from_slice(host);
    }
    body
}

/// The encoding of the route table `name` whose virtual hosts are `body`.
pub(crate) fn route_table(name: &str, body: &[u8]) -> Vec<u8> {
    let header = RouteConfiguration {
        name: name.to_owned(),
        ..RouteConfiguration::default()
    };
    let mut value = Vec::with_capacity(header.encoded_len() + body.len());
    header.encode_raw(&mut value);
    value.extend_from_slice(body);
    value
}

/// `route`'s encoding and the clusters its routes name (unsorted, repeated).
/// Each virtual host is encoded, and dropped, on the thread that took it.
pub(crate) fn encode_route(route: RouteConfiguration) -> (Vec<u8>, Vec<String>) {
    let mut rest = route;
    let hosts = std::mem::take(&mut rest.virtual_hosts);
    let header = RouteConfiguration {
        name: rest.name.clone(),
        ..RouteConfiguration::default()
    };
    if rest != header {
        // Fields after `virtual_hosts` are set: no splicing.
        rest.virtual_hosts = hosts;
        let mut clusters = Vec::new();
        for host in &rest.virtual_hosts {
            add_host_clusters(host, &mut clusters);
        }
        return (rest.encode_to_vec(), clusters);
    }
    let encoded = fan_out::map(hosts, |host| {
        let mut clusters = Vec::new();
        add_host_clusters(&host, &mut clusters);
        (host.encode_to_vec(), clusters)
    });
    let slices: Vec<&[u8]> = encoded.iter().map(|(bytes, _)| bytes.as_slice()).collect();
    let value = route_table(&header.name, &virtual_hosts_field(&slices));
    drop(slices);
    let clusters = encoded.into_iter().flat_map(|(_, c)| c).collect();
    (value, clusters)
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::route::v3::VirtualHost;

    use super::*;

    fn hosts() -> Vec<VirtualHost> {
        ["a.test", "b.test", "*"]
            .iter()
            .map(|name| VirtualHost {
                name: (*name).to_owned(),
                domains: vec![(*name).to_owned()],
                ..VirtualHost::default()
            })
            .collect()
    }

    #[test]
    fn a_spliced_route_table_is_the_tables_encoding() {
        let encoded: Vec<Vec<u8>> = hosts().iter().map(Message::encode_to_vec).collect();
        let slices: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let table = RouteConfiguration {
            name: "http".to_owned(),
            virtual_hosts: hosts(),
            ..RouteConfiguration::default()
        };
        assert_eq!(
            route_table("http", &virtual_hosts_field(&slices)),
            table.encode_to_vec()
        );
        assert_eq!(encode_route(table.clone()).0, table.encode_to_vec());
    }

    #[test]
    fn a_table_with_more_than_hosts_is_encoded_whole() {
        let table = RouteConfiguration {
            name: "http".to_owned(),
            virtual_hosts: hosts(),
            validate_clusters: Some(Default::default()),
            ..RouteConfiguration::default()
        };
        assert_eq!(encode_route(table.clone()).0, table.encode_to_vec());
    }
}
