//! The public key a certificate carries and the one a private key implies, read
//! from their DER, so a TLS Secret whose certificate is no X.509 certificate,
//! whose key is no key, or whose key does not belong to its certificate is
//! refused with a diagnostic instead of making Envoy reject the listener.
//!
//! Only structure is read, no cryptography: which key types and sizes Envoy
//! serves is Envoy's policy (RSA ≥ 2048 bits, ECDSA, Ed25519 in 1.40), and what
//! it refuses is contained by NACK containment. Weighed against rustls/ring
//! (ring refuses RSA keys over 4096 bits and P-521, which Envoy serves) and the
//! RustCrypto `x509-cert`/`pkcs8`/`sec1` crates (four new dependencies for two
//! fields): a DER walker for exactly these structures is smaller.

use super::certificate::Certificate;
use super::der::{
    bit_string, der_length, element, expect, only, BIT_STRING, INTEGER, OCTET_STRING, OID, SEQUENCE,
};

/// `rsaEncryption` (1.2.840.113549.1.1.1).
const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// `id-ecPublicKey` (1.2.840.10045.2.1).
const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// A public key: its algorithm's OID and the key bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: Vec<u8>,
    bits: Vec<u8>,
}

impl PublicKey {
    /// The key bits: the `subjectPublicKey` BIT STRING's contents (for RSA the
    /// `RSAPublicKey` DER, for ECDSA the point, for Ed25519 the 32 bytes).
    pub(crate) fn bits(&self) -> &[u8] {
        &self.bits
    }
}

/// The public key of an X.509 certificate (DER); `None` when it is no certificate.
pub fn certificate_key(der: &[u8]) -> Option<PublicKey> {
    let spki = Certificate::read(der)?.spki;
    let algorithm = expect(spki.body, SEQUENCE)?;
    let oid = expect(algorithm.body, OID)?;
    let bits = only(algorithm.rest, BIT_STRING)?;
    Some(PublicKey {
        algorithm: oid.body.to_vec(),
        bits: bit_string(bits.body)?.to_vec(),
    })
}

/// The public key a PEM private key block (`tag`, DER `der`) implies:
/// `Err(())` when it is no key of its kind, `Ok(None)` when its public key
/// cannot be told without cryptography (e.g. an Ed25519 key without its
/// public half).
#[allow(clippy::result_unit_err)]
pub fn private_key_public_key(tag: &str, der: &[u8]) -> Result<Option<PublicKey>, ()> {
    match tag {
        "RSA PRIVATE KEY" => rsa_public(der).map(Some).ok_or(()),
        "EC PRIVATE KEY" => ec_public(der).ok_or(()),
        "PRIVATE KEY" => pkcs8_public(der).ok_or(()),
        _ => Err(()),
    }
}

/// PKCS#8 `PrivateKeyInfo` / `OneAsymmetricKey`.
fn pkcs8_public(der: &[u8]) -> Option<Option<PublicKey>> {
    let info = only(der, SEQUENCE)?;
    let version = expect(info.body, INTEGER)?;
    let algorithm = expect(version.rest, SEQUENCE)?;
    let oid = expect(algorithm.body, OID)?;
    let key = expect(algorithm.rest, OCTET_STRING)?;
    match oid.body {
        RSA => rsa_public(key.body).map(Some),
        EC => ec_public(key.body),
        _ => {
            // Version 2 may carry the public key as [1] IMPLICIT BIT STRING.
            let mut field = key.rest;
            while let Some(e) = element(field) {
                if e.tag == 0x81 {
                    let bits = bit_string(e.body)?.to_vec();
                    let algorithm = oid.body.to_vec();
                    return Some(Some(PublicKey { algorithm, bits }));
                }
                field = e.rest;
            }
            Some(None)
        }
    }
}

/// PKCS#1 `RSAPrivateKey`: the public key is `RSAPublicKey { n, e }`.
fn rsa_public(der: &[u8]) -> Option<PublicKey> {
    let key = only(der, SEQUENCE)?;
    let version = expect(key.body, INTEGER)?;
    let n = expect(version.rest, INTEGER)?;
    let e = expect(n.rest, INTEGER)?;
    expect(e.rest, INTEGER)?; // d
    let body = [n.whole, e.whole].concat();
    let mut bits = vec![SEQUENCE];
    bits.extend(der_length(body.len()));
    bits.extend(body);
    Some(PublicKey {
        algorithm: RSA.to_vec(),
        bits,
    })
}

/// SEC1 `ECPrivateKey`: the public key is its optional `[1] publicKey`.
fn ec_public(der: &[u8]) -> Option<Option<PublicKey>> {
    let key = only(der, SEQUENCE)?;
    let version = expect(key.body, INTEGER)?;
    let mut field = expect(version.rest, OCTET_STRING)?.rest;
    while let Some(e) = element(field) {
        if e.tag == 0xa1 {
            let bits = bit_string(only(e.body, BIT_STRING)?.body)?.to_vec();
            let algorithm = EC.to_vec();
            return Some(Some(PublicKey { algorithm, bits }));
        }
        field = e.rest;
    }
    Some(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The public key of the first PEM block of `pem`, read as `reader` does.
    fn pem_key(pem: &str) -> Option<PublicKey> {
        let block = pem::parse(pem).expect("pem");
        match block.tag() {
            "CERTIFICATE" => certificate_key(block.contents()),
            tag => private_key_public_key(tag, block.contents()).expect("a key"),
        }
    }

    #[test]
    fn a_certificates_key_matches_its_private_key_in_every_encoding() {
        let data = |f: &str| std::fs::read_to_string(format!("tests/data/tls/{f}")).expect(f);
        for (cert, keys) in [
            ("ec_cert.pem", &["ec.pem", "ec_sec1.pem"][..]),
            ("rsa_cert.pem", &["rsa.pem", "rsa_pkcs1.pem"][..]),
            ("ed_cert.pem", &["ed.pem"][..]),
        ] {
            let from_cert = pem_key(&data(cert)).expect(cert);
            for key in keys {
                match pem_key(&data(key)) {
                    Some(from_key) => assert_eq!(from_key, from_cert, "{key}"),
                    // Ed25519 PKCS#8 v1 holds no public key: nothing to compare.
                    None => assert_eq!(*key, "ed.pem"),
                }
            }
        }
        let ec = pem_key(&data("ec_cert.pem"));
        assert_ne!(pem_key(&data("rsa.pem")), ec, "another pair's key");
    }

    #[test]
    fn sequences_that_are_not_certificates_or_keys_are_refused() {
        let bogus = [0x30, 0x03, 0x02, 0x01, 0x00];
        assert_eq!(certificate_key(&bogus), None);
        assert_eq!(private_key_public_key("PRIVATE KEY", &bogus), Err(()));
        assert_eq!(private_key_public_key("RSA PRIVATE KEY", &bogus), Err(()));
        assert_eq!(private_key_public_key("EC PRIVATE KEY", &bogus), Err(()));
        assert_eq!(private_key_public_key("PUBLIC KEY", &bogus), Err(()));
    }
}
