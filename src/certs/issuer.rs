//! A CA that signs: made fresh, or loaded from an operator's PEM files so that a
//! gateway can be added, or a leaf renewed, without replacing the CA every Envoy
//! and Interlock already trust.

use std::fmt;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyIdMethod, KeyPair, KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

use super::ca_certificate::read_ca_certificate;
use super::identity::{
    gateway_identity, validate_gateway_name, validate_server_name, validate_trust_domain,
};
use super::{CertError, Issued};
use crate::x509::certificate::Certificate;

/// The CA's common name when certgen makes it.
const CA_COMMON_NAME: &str = "Interlock xDS CA";
/// The server certificate's common name (clients check its SANs, not this).
const SERVER_COMMON_NAME: &str = "interlock";

/// A CA certificate and its key, ready to sign server and client certificates.
/// Every key it makes is ECDSA P-256, PKCS#8 PEM. `Debug` leaves the key out.
pub struct Issuer {
    cert_pem: String,
    /// The CA's subject `Name` (DER): what issued certificates must carry as issuer.
    subject_der: Vec<u8>,
    /// Whether the CA has a subject key identifier for leaves to point at.
    authority_key_id: bool,
    signer: rcgen::Issuer<'static, KeyPair>,
}

impl Issuer {
    /// Makes a new self-signed CA valid from `not_before` to `not_after`. It may
    /// sign only end-entity certificates (path length 0).
    pub fn new_ca(not_before: SystemTime, not_after: SystemTime) -> Result<Self, CertError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name(CA_COMMON_NAME);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(&mut params, not_before, not_after)?;
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Self::from_parts(cert.pem(), cert.der(), key)
    }

    /// Loads an existing CA: the first certificate of `cert_pem`, and `key_pem`, a
    /// PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`; ECDSA P-256/P-384,
    /// Ed25519 or RSA). The certificate must be a CA allowed to sign certificates,
    /// and the key must be its key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CertError> {
        let block =
            pem::parse(cert_pem).map_err(|e| CertError::CaCertificate(format!("not PEM: {e}")))?;
        if block.tag() != "CERTIFICATE" {
            return Err(CertError::CaCertificate(format!(
                "expected a CERTIFICATE PEM block, found {:?}",
                block.tag()
            )));
        }
        // Parse errors of the key are described, never echoed: they could quote it.
        let key = KeyPair::from_pem(key_pem).map_err(|_| {
            CertError::CaKey(
                "not an unencrypted PKCS#8 PEM private key of a supported type \
                 (convert with `openssl pkcs8 -topk8 -nocrypt`)"
                    .into(),
            )
        })?;
        let lf = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
        Self::from_parts(pem::encode_config(&block, lf), block.contents(), key)
    }

    fn from_parts(cert_pem: String, der: &[u8], key: KeyPair) -> Result<Self, CertError> {
        let ca = read_ca_certificate(der).map_err(CertError::CaCertificate)?;
        if !ca.is_ca {
            return Err(CertError::CaCertificate(
                "not a CA certificate (basicConstraints lacks cA: TRUE)".into(),
            ));
        }
        if !ca.may_sign_certificates {
            return Err(CertError::CaCertificate(
                "its keyUsage does not allow keyCertSign".into(),
            ));
        }
        if ca.public_key != key.public_key_raw() {
            return Err(CertError::CaKey(
                "the key does not belong to the CA certificate".into(),
            ));
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = ca.subject;
        let authority_key_id = ca.key_identifier.is_some();
        if let Some(id) = ca.key_identifier {
            params.key_identifier_method = KeyIdMethod::PreSpecified(id);
        }
        Ok(Self {
            cert_pem,
            subject_der: ca.subject_der,
            authority_key_id,
            signer: rcgen::Issuer::new(params, key),
        })
    }

    /// The CA certificate, PEM: what clients and servers trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PKCS#8 PEM. Secret: it signs any identity.
    pub fn key_pem(&self) -> String {
        self.signer.key().serialize_pem()
    }

    /// Issues a server certificate (EKU serverAuth) for `dns_names` and `ips`,
    /// valid from `not_before` to `not_after`.
    pub fn issue_server(
        &self,
        dns_names: &[String],
        ips: &[IpAddr],
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Issued, CertError> {
        if dns_names.is_empty() && ips.is_empty() {
            return Err(CertError::InvalidServerName {
                value: String::new(),
                reason: "a server certificate needs at least one DNS name or IP address",
            });
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name(SERVER_COMMON_NAME);
        for name in dns_names {
            validate_server_name(name)?;
            let ia5 =
                Ia5String::try_from(name.as_str()).map_err(|_| CertError::InvalidServerName {
                    value: name.clone(),
                    reason: "not ASCII",
                })?;
            params.subject_alt_names.push(SanType::DnsName(ia5));
        }
        params
            .subject_alt_names
            .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue_leaf(params, not_before, not_after)
    }

    /// Issues the client certificate of gateway `gateway` (EKU clientAuth, CN the
    /// name, URI SAN `spiffe://<trust_domain>/gateway/<gateway>`), valid from
    /// `not_before` to `not_after`. Times in the past make an expired certificate,
    /// as tests need.
    pub fn issue_client(
        &self,
        trust_domain: &str,
        gateway: &str,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Issued, CertError> {
        validate_trust_domain(trust_domain)?;
        validate_gateway_name(gateway)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name(gateway);
        let uri = Ia5String::try_from(gateway_identity(trust_domain, gateway)).map_err(|_| {
            CertError::InvalidGatewayName {
                value: gateway.to_owned(),
                reason: "not ASCII",
            }
        })?;
        params.subject_alt_names = vec![SanType::URI(uri)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue_leaf(params, not_before, not_after)
    }

    /// Signs an end-entity certificate for a new P-256 key, and checks that its
    /// issuer name is the CA's subject byte for byte.
    fn issue_leaf(
        &self,
        mut params: CertificateParams,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Issued, CertError> {
        set_validity(&mut params, not_before, not_after)?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = self.authority_key_id;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.signer)?;
        let issuer = Certificate::read(cert.der()).map(|c| c.issuer.whole);
        if issuer != Some(self.subject_der.as_slice()) {
            return Err(CertError::IssuerName(
                "only names with one attribute per RDN and each attribute type once, \
                 in UTF8String, PrintableString, IA5String, BMPString or UniversalString, \
                 are supported"
                    .into(),
            ));
        }
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("cert_pem", &self.cert_pem)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

fn set_validity(
    params: &mut CertificateParams,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<(), CertError> {
    if not_after <= not_before {
        return Err(CertError::InvalidValidity(
            "not_after must be later than not_before".into(),
        ));
    }
    params.not_before = date_time(not_before)?;
    params.not_after = date_time(not_after)?;
    Ok(())
}

/// `t` to the second, as X.509 dates are.
fn date_time(t: SystemTime) -> Result<OffsetDateTime, CertError> {
    let out_of_range = || CertError::InvalidValidity("date out of range (1970 to 9999)".into());
    let secs = t.duration_since(UNIX_EPOCH).map_err(|_| out_of_range())?;
    let secs = i64::try_from(secs.as_secs()).map_err(|_| out_of_range())?;
    let date = OffsetDateTime::from_unix_timestamp(secs).map_err(|_| out_of_range())?;
    if date.year() > 9999 {
        return Err(out_of_range());
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const DAY: Duration = Duration::from_secs(86_400);

    fn ca() -> Issuer {
        let now = SystemTime::now();
        Issuer::new_ca(now - DAY, now + DAY).expect("CA")
    }

    #[test]
    fn a_ca_loads_back_from_its_own_pem() {
        let ca = ca();
        let loaded = Issuer::from_pem(ca.cert_pem(), &ca.key_pem()).expect("loads");
        assert_eq!(loaded.cert_pem(), ca.cert_pem());
        assert_eq!(loaded.subject_der, ca.subject_der);
        let now = SystemTime::now();
        loaded
            .issue_client("interlock.local", "envoy", now, now + DAY)
            .expect("issues");
    }

    #[test]
    fn a_key_of_another_ca_or_a_leaf_as_ca_is_refused() {
        let (a, b) = (ca(), ca());
        let err = Issuer::from_pem(a.cert_pem(), &b.key_pem()).expect_err("mismatch");
        assert!(matches!(err, CertError::CaKey(_)), "{err}");
        let now = SystemTime::now();
        let leaf = a
            .issue_client("interlock.local", "envoy", now, now + DAY)
            .expect("leaf");
        let err = Issuer::from_pem(&leaf.cert_pem, &leaf.key_pem).expect_err("not a CA");
        assert!(matches!(err, CertError::CaCertificate(_)), "{err}");
        let err = Issuer::from_pem("junk", &a.key_pem()).expect_err("not PEM");
        assert!(matches!(err, CertError::CaCertificate(_)), "{err}");
        let err = Issuer::from_pem(a.cert_pem(), "junk").expect_err("no key");
        assert!(matches!(err, CertError::CaKey(_)), "{err}");
    }

    #[test]
    fn reversed_or_prehistoric_validity_is_refused() {
        let ca = ca();
        let now = SystemTime::now();
        for (nb, na) in [(now, now), (now + DAY, now), (UNIX_EPOCH - DAY, now)] {
            let err = ca
                .issue_client("interlock.local", "envoy", nb, na)
                .expect_err("invalid");
            assert!(matches!(err, CertError::InvalidValidity(_)), "{err}");
        }
    }

    #[test]
    fn debug_leaves_the_key_out() {
        let ca = ca();
        let shown = format!("{ca:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("PRIVATE KEY"));
    }
}
