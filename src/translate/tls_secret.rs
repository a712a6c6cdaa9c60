//! TLS Secrets: validated before Envoy sees them, served over SDS.
//!
//! A Secret is usable when it exists, has type `kubernetes.io/tls`, and its
//! `tls.crt` holds only PEM `CERTIFICATE` blocks (at least one, each DER that is
//! a well-formed ASN.1 SEQUENCE, as X.509 is) while its `tls.key` holds exactly
//! one unencrypted `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block
//! (plus optional `EC PARAMETERS`). `stringData` entries override `data`, as the
//! API server does on write, so hand-written files may use either. Secret content
//! never appears in errors.

use envoy_types::pb::envoy::config::core::v3::{data_source::Specifier, DataSource};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    secret, Secret, TlsCertificate,
};
use k8s_openapi::api::core::v1::Secret as KubeSecret;

use crate::world::{ObjectKey, World};

/// The Secret type Ingress TLS requires.
pub const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";

const CERT_KEY: &str = "tls.crt";
const KEY_KEY: &str = "tls.key";
const KEY_TAGS: [&str; 3] = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

/// Why a Secret cannot be served.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No such Secret.
    #[error("Secret {0} not found")]
    Missing(ObjectKey),
    /// Not a TLS Secret.
    #[error("Secret {key} has type {found:?}, not {TLS_SECRET_TYPE:?}")]
    WrongType {
        /// The Secret.
        key: ObjectKey,
        /// Its type.
        found: String,
    },
    /// `tls.crt` or `tls.key` is absent.
    #[error("Secret {key} has no {entry:?}")]
    MissingEntry {
        /// The Secret.
        key: ObjectKey,
        /// The absent entry.
        entry: &'static str,
    },
    /// `tls.crt` is not a PEM certificate chain.
    #[error("Secret {0}: tls.crt is not a PEM certificate chain")]
    BadCertificate(ObjectKey),
    /// `tls.key` is not one unencrypted PEM private key.
    #[error("Secret {0}: tls.key is not a single unencrypted PEM private key")]
    BadKey(ObjectKey),
}

/// The SDS name of a Secret: `<namespace>/<name>`.
pub fn secret_name(key: &ObjectKey) -> String {
    format!("{}/{}", key.namespace, key.name)
}

/// Validates the Secret `key` and builds its SDS resource.
pub fn load(world: &World, key: &ObjectKey) -> Result<Secret, SecretError> {
    let Some(kube) = world.secrets.get(key) else {
        return Err(SecretError::Missing(key.clone()));
    };
    let found = kube.type_.as_deref().unwrap_or("Opaque");
    if found != TLS_SECRET_TYPE {
        return Err(SecretError::WrongType {
            key: key.clone(),
            found: found.to_owned(),
        });
    }
    let cert = entry(kube, key, CERT_KEY)?;
    let private_key = entry(kube, key, KEY_KEY)?;
    if !is_certificate_chain(&cert) {
        return Err(SecretError::BadCertificate(key.clone()));
    }
    if !is_private_key(&private_key) {
        return Err(SecretError::BadKey(key.clone()));
    }
    let inline = |bytes: Vec<u8>| DataSource {
        specifier: Some(Specifier::InlineBytes(bytes)),
        ..DataSource::default()
    };
    Ok(Secret {
        name: secret_name(key),
        r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
            certificate_chain: Some(inline(cert)),
            private_key: Some(inline(private_key)),
            ..TlsCertificate::default()
        })),
    })
}

fn entry(kube: &KubeSecret, key: &ObjectKey, name: &'static str) -> Result<Vec<u8>, SecretError> {
    let from_string = kube
        .string_data
        .as_ref()
        .and_then(|d| d.get(name))
        .map(|s| s.as_bytes().to_vec());
    let from_data = || {
        kube.data
            .as_ref()
            .and_then(|d| d.get(name))
            .map(|b| b.0.clone())
    };
    from_string
        .or_else(from_data)
        .filter(|b| !b.is_empty())
        .ok_or(SecretError::MissingEntry {
            key: key.clone(),
            entry: name,
        })
}

fn is_certificate_chain(bytes: &[u8]) -> bool {
    match pem::parse_many(bytes) {
        Ok(blocks) => {
            !blocks.is_empty()
                && blocks.iter().all(|b| {
                    b.tag() == "CERTIFICATE"
                        && b.headers().iter().next().is_none()
                        && is_der_sequence(b.contents())
                })
        }
        Err(_) => false,
    }
}

fn is_private_key(bytes: &[u8]) -> bool {
    let Ok(blocks) = pem::parse_many(bytes) else {
        return false;
    };
    let mut keys = 0;
    for block in &blocks {
        if KEY_TAGS.contains(&block.tag()) {
            // Encrypted legacy keys carry Proc-Type/DEK-Info headers.
            if block.headers().iter().next().is_some() || !is_der_sequence(block.contents()) {
                return false;
            }
            keys += 1;
        } else if block.tag() != "EC PARAMETERS" {
            return false;
        }
    }
    keys == 1
}

/// True when `der` is exactly one DER SEQUENCE (tag 0x30, definite length that
/// covers the rest of the bytes).
fn is_der_sequence(der: &[u8]) -> bool {
    let [0x30, first, rest @ ..] = der else {
        return false;
    };
    let (len, body) = if *first < 0x80 {
        (usize::from(*first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return false;
        }
        let (len_bytes, body) = rest.split_at(n);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, body)
    };
    len == body.len() && len > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_sequence_checks_the_length() {
        assert!(is_der_sequence(&[0x30, 0x02, 0x05, 0x00]));
        assert!(!is_der_sequence(&[0x30, 0x03, 0x05, 0x00]));
        assert!(!is_der_sequence(&[0x31, 0x02, 0x05, 0x00]));
        assert!(!is_der_sequence(&[0x30]));
        let mut long = vec![0x30, 0x81, 0x80];
        long.extend(std::iter::repeat_n(0u8, 0x80));
        assert!(is_der_sequence(&long));
    }

    #[test]
    fn garbage_is_neither_certificate_nor_key() {
        assert!(!is_certificate_chain(b"not pem"));
        assert!(!is_private_key(b"not pem"));
        let fake = pem::encode(&pem::Pem::new("CERTIFICATE", vec![1, 2, 3]));
        assert!(!is_certificate_chain(fake.as_bytes()));
        let key = pem::encode(&pem::Pem::new("PRIVATE KEY", vec![0x30, 0x01, 0x00]));
        assert!(is_private_key(key.as_bytes()));
        let two = format!("{key}{key}");
        assert!(!is_private_key(two.as_bytes()));
        let wrong = pem::encode(&pem::Pem::new("PUBLIC KEY", vec![0x30, 0x01, 0x00]));
        assert!(!is_private_key(wrong.as_bytes()));
    }
}
