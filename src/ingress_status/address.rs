//! The addresses written into Ingress status.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::LoadBalancerIngress;
use k8s_openapi::api::networking::v1::IngressLoadBalancerIngress;

/// One address: an IP or a DNS name, as `status.loadBalancer.ingress` holds it.
pub type StatusAddress = IngressLoadBalancerIngress;

/// `--status-address` values: each an IP (`ip`) or else a hostname (`hostname`).
pub fn parse_addresses(values: &[String]) -> Vec<StatusAddress> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| match v.parse::<IpAddr>() {
            Ok(ip) => IngressLoadBalancerIngress {
                ip: Some(ip.to_string()),
                ..Default::default()
            },
            Err(_) => IngressLoadBalancerIngress {
                hostname: Some(v.to_owned()),
                ..Default::default()
            },
        })
        .collect()
}

/// A Service's load-balancer address as an Ingress address (ports and IP mode
/// are the Service's business, not the Ingress's).
pub(super) fn from_service(lb: &LoadBalancerIngress) -> Option<StatusAddress> {
    if lb.ip.is_none() && lb.hostname.is_none() {
        return None;
    }
    Some(IngressLoadBalancerIngress {
        ip: lb.ip.clone(),
        hostname: lb.hostname.clone(),
        ports: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_and_hostnames_are_told_apart() {
        let parsed = parse_addresses(&["203.0.113.7, gw.example.com".into(), "2001:db8::1".into()]);
        let ips: Vec<_> = parsed.iter().map(|a| a.ip.as_deref()).collect();
        let hosts: Vec<_> = parsed.iter().map(|a| a.hostname.as_deref()).collect();
        assert_eq!(ips, [Some("203.0.113.7"), None, Some("2001:db8::1")]);
        assert_eq!(hosts, [None, Some("gw.example.com"), None]);
    }

    #[test]
    fn a_service_without_address_gives_none() {
        assert_eq!(from_service(&LoadBalancerIngress::default()), None);
    }
}
