//! Reading X.509 certificates and keys: TLS Secrets are checked before Envoy
//! sees them (translate), a client certificate names the gateway that connects
//! (xds), and an operator's CA is checked and its names copied before certgen
//! signs with it (certs). Structure only, no cryptography (rustls verifies
//! chains).

pub(crate) mod certificate;
pub(crate) mod der;
pub mod dns_name;
pub mod keys;
pub mod san;
