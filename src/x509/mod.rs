//! Reading X.509 certificates and keys: TLS Secrets are checked before Envoy
//! sees them (translate), and a client certificate names the gateway that
//! connects (xds). Structure only, no cryptography (rustls verifies chains).

mod certificate;
mod der;
pub mod keys;
pub mod san;
