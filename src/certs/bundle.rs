//! Everything `interlock certgen` makes, in one call: a CA (new or given), the
//! server certificate and one client certificate per gateway.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use super::identity::{
    validate_gateway_name, validate_server_name, validate_trust_domain, DEFAULT_SERVER_IPS,
    DEFAULT_SERVER_NAMES, DEFAULT_TRUST_DOMAIN,
};
use super::{CertError, Issued, Issuer};

const DAY: u64 = 24 * 60 * 60;

/// Lifetime of server and client certificates unless told otherwise: a year, long
/// enough that a forgotten renewal is rare, short enough that a lost key expires.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(365 * DAY);

/// Lifetime of a CA that certgen makes: ten years, so that renewing leaves never
/// means redistributing the trust anchor.
pub const CA_VALIDITY: Duration = Duration::from_secs(3650 * DAY);

/// How far back certificates start, so that a node whose clock is a little behind
/// the one that ran certgen accepts them at once.
const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// What to issue. [`Default`] is certgen's defaults: trust domain
/// `interlock.local`, one gateway `envoy`, the shipped Service's DNS names,
/// loopback IPs, a year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertgenOptions {
    /// SPIFFE trust domain of the gateway identities.
    pub trust_domain: String,
    /// One client certificate per name; may be empty (a server certificate only).
    pub gateways: Vec<String>,
    /// DNS SANs of the server certificate.
    pub server_names: Vec<String>,
    /// IP SANs of the server certificate.
    pub server_ips: Vec<IpAddr>,
    /// Lifetime of the server and client certificates.
    pub validity: Duration,
}

impl Default for CertgenOptions {
    fn default() -> Self {
        Self {
            trust_domain: DEFAULT_TRUST_DOMAIN.to_owned(),
            gateways: vec!["envoy".to_owned()],
            server_names: DEFAULT_SERVER_NAMES.map(str::to_owned).to_vec(),
            server_ips: DEFAULT_SERVER_IPS.to_vec(),
            validity: DEFAULT_VALIDITY,
        }
    }
}

impl CertgenOptions {
    /// Checks every name and the validity before anything is generated, so a typo
    /// costs no key generation and writes nothing.
    pub fn validate(&self) -> Result<(), CertError> {
        validate_trust_domain(&self.trust_domain)?;
        let mut seen = HashSet::new();
        for gateway in &self.gateways {
            validate_gateway_name(gateway)?;
            if !seen.insert(gateway) {
                return Err(CertError::DuplicateGateway(gateway.clone()));
            }
        }
        for name in &self.server_names {
            validate_server_name(name)?;
        }
        if self.server_names.is_empty() && self.server_ips.is_empty() {
            return Err(CertError::InvalidServerName {
                value: String::new(),
                reason: "a server certificate needs at least one DNS name or IP address",
            });
        }
        if self.validity < Duration::from_secs(60) {
            return Err(CertError::InvalidValidity(
                "certificates must be valid for at least a minute".into(),
            ));
        }
        Ok(())
    }
}

/// A CA with a server certificate and client certificates it signed. `Debug`
/// redacts every private key.
#[derive(Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The CA certificate, PEM (`ca.crt`).
    pub ca_cert_pem: String,
    /// The CA private key, PKCS#8 PEM (`ca.key`). Secret.
    pub ca_key_pem: String,
    /// The server certificate for Interlock's xDS listener.
    pub server: Issued,
    /// `(gateway name, client certificate)`, in the order of the options.
    pub clients: Vec<(String, Issued)>,
}

impl Bundle {
    /// Makes a new CA (valid [`CA_VALIDITY`]) and issues everything from it.
    pub fn generate(options: &CertgenOptions) -> Result<Self, CertError> {
        options.validate()?;
        if options.validity > CA_VALIDITY {
            return Err(CertError::InvalidValidity(format!(
                "certificates cannot outlive the CA ({} days)",
                CA_VALIDITY.as_secs() / DAY
            )));
        }
        let now = SystemTime::now();
        let ca = Issuer::new_ca(now - CLOCK_SKEW, now + CA_VALIDITY)?;
        Self::issue(&ca, options)
    }

    /// Issues the server and client certificates from an existing CA; the bundle
    /// carries that CA's certificate and key.
    pub fn issue(ca: &Issuer, options: &CertgenOptions) -> Result<Self, CertError> {
        options.validate()?;
        let now = SystemTime::now();
        let (not_before, not_after) = (now - CLOCK_SKEW, now + options.validity);
        let server = ca.issue_server(
            &options.server_names,
            &options.server_ips,
            not_before,
            not_after,
        )?;
        let clients = options
            .gateways
            .iter()
            .map(|gateway| {
                let issued =
                    ca.issue_client(&options.trust_domain, gateway, not_before, not_after)?;
                Ok((gateway.clone(), issued))
            })
            .collect::<Result<_, CertError>>()?;
        Ok(Self {
            ca_cert_pem: ca.cert_pem().to_owned(),
            ca_key_pem: ca.key_pem(),
            server,
            clients,
        })
    }

    /// The client certificate of `gateway`, if the bundle has one.
    pub fn client(&self, gateway: &str) -> Option<&Issued> {
        self.clients
            .iter()
            .find(|(name, _)| name == gateway)
            .map(|(_, issued)| issued)
    }
}

impl fmt::Debug for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundle")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("ca_key_pem", &"<redacted>")
            .field("server", &self.server)
            .field("clients", &self.clients)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_before_anything_is_made() {
        let bad = [
            CertgenOptions {
                gateways: vec!["a".into(), "a".into()],
                ..Default::default()
            },
            CertgenOptions {
                trust_domain: "Bad".into(),
                ..Default::default()
            },
            CertgenOptions {
                server_names: vec![],
                server_ips: vec![],
                ..Default::default()
            },
            CertgenOptions {
                validity: Duration::ZERO,
                ..Default::default()
            },
            CertgenOptions {
                validity: CA_VALIDITY + Duration::from_secs(DAY),
                ..Default::default()
            },
        ];
        for options in bad {
            assert!(Bundle::generate(&options).is_err(), "{options:?}");
        }
    }

    #[test]
    fn debug_redacts_every_key() {
        let bundle = Bundle::generate(&CertgenOptions::default()).expect("bundle");
        let shown = format!("{bundle:?}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert_eq!(shown.matches("<redacted>").count(), 3);
        assert!(bundle.client("envoy").is_some());
        assert!(bundle.client("other").is_none());
    }
}
