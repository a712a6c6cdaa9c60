//! TLS Secrets: validated into a model [`Certificate`] before Envoy sees them.
//!
//! A Secret is usable when it exists, has type `kubernetes.io/tls`, and its
//! `tls.crt` holds only PEM `CERTIFICATE` blocks (at least one, each an X.509
//! certificate) while its `tls.key` holds exactly one unencrypted `PRIVATE KEY`
//! (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1) block (plus
//! optional `EC PARAMETERS`) whose public key is the first certificate's (see
//! [`keys`](crate::x509::keys)). `stringData` entries override `data`, as the
//! API server does on write, so hand-written files may use either. Secret content
//! never appears in errors.

use k8s_openapi::api::core::v1::Secret as KubeSecret;

use crate::translate::model::Certificate;
use crate::world::{ObjectKey, World};
use crate::x509::keys::{certificate_key, private_key_public_key, PublicKey};

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
    /// The key does not belong to the (first) certificate.
    #[error("Secret {0}: tls.key is not the private key of the certificate in tls.crt")]
    KeyMismatch(ObjectKey),
}

/// The name of a Secret's certificate, also its SDS name: `<namespace>/<name>`.
pub fn secret_name(key: &ObjectKey) -> String {
    format!("{}/{}", key.namespace, key.name)
}

/// Validates the Secret `key` into the certificate it holds.
pub fn load(world: &World, key: &ObjectKey) -> Result<Certificate, SecretError> {
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
    let Some(leaf) = certificate_chain(&cert) else {
        return Err(SecretError::BadCertificate(key.clone()));
    };
    let Some(implied) = single_private_key(&private_key) else {
        return Err(SecretError::BadKey(key.clone()));
    };
    if implied.is_some_and(|k| k != leaf) {
        return Err(SecretError::KeyMismatch(key.clone()));
    }
    Ok(Certificate {
        name: secret_name(key),
        certificate_chain: cert,
        private_key,
    })
}

/// The `ca.crt` entry of the Secret `key` (of any type): a PEM bundle in
/// which every block is an X.509 certificate.
pub fn load_ca(world: &World, key: &ObjectKey) -> Result<Vec<u8>, SecretError> {
    let Some(kube) = world.secrets.get(key) else {
        return Err(SecretError::Missing(key.clone()));
    };
    let ca = entry(kube, key, CA_KEY)?;
    if certificate_chain(&ca).is_none() {
        return Err(SecretError::BadCertificate(key.clone()));
    }
    Ok(ca)
}

/// The entry of a Secret holding trusted CA certificates.
const CA_KEY: &str = "ca.crt";

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

/// The public key of the first certificate of a PEM chain in which every
/// block is an X.509 certificate.
fn certificate_chain(bytes: &[u8]) -> Option<PublicKey> {
    let blocks = pem::parse_many(bytes).ok()?;
    let mut keys = blocks.iter().map(|b| {
        let plain = b.tag() == "CERTIFICATE" && b.headers().iter().next().is_none();
        plain.then(|| certificate_key(b.contents())).flatten()
    });
    let leaf = keys.next()??;
    keys.all(|k| k.is_some()).then_some(leaf)
}

/// The public key implied by the one unencrypted private key of a PEM file
/// (`Some(None)` when it cannot be told); `None` when there is not exactly one.
fn single_private_key(bytes: &[u8]) -> Option<Option<PublicKey>> {
    let blocks = pem::parse_many(bytes).ok()?;
    let mut found = None;
    for block in &blocks {
        if KEY_TAGS.contains(&block.tag()) {
            // Encrypted legacy keys carry Proc-Type/DEK-Info headers.
            if found.is_some() || block.headers().iter().next().is_some() {
                return None;
            }
            found = Some(private_key_public_key(block.tag(), block.contents()).ok()?);
        } else if block.tag() != "EC PARAMETERS" {
            return None;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(file: &str) -> Vec<u8> {
        std::fs::read(format!("tests/data/tls/{file}")).expect(file)
    }

    #[test]
    fn garbage_is_neither_certificate_nor_key() {
        assert!(certificate_chain(b"not pem").is_none());
        assert!(single_private_key(b"not pem").is_none());
        let fake = pem::encode(&pem::Pem::new(
            "CERTIFICATE",
            vec![0x30, 0x03, 0x02, 0x01, 0x00],
        ));
        assert!(certificate_chain(fake.as_bytes()).is_none());
        let key = pem::encode(&pem::Pem::new("PRIVATE KEY", vec![0x30, 0x01, 0x00]));
        assert!(single_private_key(key.as_bytes()).is_none());
        let wrong = pem::encode(&pem::Pem::new("PUBLIC KEY", vec![0x30, 0x01, 0x00]));
        assert!(single_private_key(wrong.as_bytes()).is_none());
    }

    #[test]
    fn a_chain_and_one_key_are_read_and_two_keys_are_not() {
        let cert = data("ec_cert.pem");
        let chain = [cert.clone(), data("rsa_cert.pem")].concat();
        assert_eq!(certificate_chain(&chain), certificate_chain(&cert));
        let key = data("ec.pem");
        assert_eq!(single_private_key(&key), Some(certificate_chain(&cert)));
        assert!(single_private_key(&[key.clone(), key].concat()).is_none());
    }
}
