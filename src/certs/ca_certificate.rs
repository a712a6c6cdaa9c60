//! What signing with an existing CA needs from its certificate: the subject name
//! (issued certificates must carry it byte for byte as their issuer, or
//! rustls/webpki will not chain them), the subject key identifier (for the
//! authority key identifier), the public key (to check the key belongs to the
//! certificate) and whether it may sign certificates at all.
//!
//! The certificate is read by [`crate::x509`]; what is here is the glue to rcgen:
//! the subject as an rcgen [`DistinguishedName`]. rcgen parses CA certificates
//! only with its `x509-parser` feature, which brings 14 more crates (nom,
//! asn1-rs, der-parser, oid-registry and their proc macros) for these few fields.

use rcgen::string::{BmpString, Ia5String, PrintableString, TeletexString, UniversalString};
use rcgen::{DistinguishedName, DnType, DnValue};

use crate::x509::certificate::Certificate;
use crate::x509::der::{
    element, expect, oid_arcs, only, BMP_STRING, IA5_STRING, OID, PRINTABLE_STRING, SEQUENCE, SET,
    TELETEX_STRING, UNIVERSAL_STRING, UTF8_STRING,
};
use crate::x509::keys::certificate_key;

/// The fields of a CA certificate that signing with it needs.
pub(super) struct CaCertificate {
    /// The subject `Name`, whole DER element.
    pub(super) subject_der: Vec<u8>,
    /// The subject, as rcgen writes issuer names.
    pub(super) subject: DistinguishedName,
    /// The public key bits (the `subjectPublicKey` BIT STRING's contents).
    pub(super) public_key: Vec<u8>,
    /// The subject key identifier, if the certificate has one.
    pub(super) key_identifier: Option<Vec<u8>>,
    /// `basicConstraints` says `cA: TRUE`.
    pub(super) is_ca: bool,
    /// `keyUsage` is absent or allows `keyCertSign`.
    pub(super) may_sign_certificates: bool,
}

/// Reads a CA certificate's DER. `Err` says what is missing or malformed.
pub(super) fn read_ca_certificate(der: &[u8]) -> Result<CaCertificate, String> {
    let certificate = Certificate::read(der).ok_or("not a DER X.509 certificate")?;
    let subject = distinguished_name(certificate.subject.body)
        .ok_or("subject name uses an unsupported form")?;
    let public_key = certificate_key(der).ok_or("malformed public key")?;
    let extensions = certificate.ca_extensions()?;
    Ok(CaCertificate {
        subject_der: certificate.subject.whole.to_vec(),
        subject,
        public_key: public_key.bits().to_vec(),
        key_identifier: extensions.key_identifier.map(<[u8]>::to_vec),
        is_ca: extensions.is_ca,
        may_sign_certificates: extensions.may_sign_certificates,
    })
}

/// The contents of a `Name` as rcgen's `DistinguishedName`: one attribute per
/// RDN, each type once (what rcgen can write back); `None` for anything else.
fn distinguished_name(mut rdns: &[u8]) -> Option<DistinguishedName> {
    let mut name = DistinguishedName::new();
    while !rdns.is_empty() {
        let rdn = expect(rdns, SET)?;
        rdns = rdn.rest;
        let attribute = only(rdn.body, SEQUENCE)?;
        let oid = expect(attribute.body, OID)?;
        let value = element(oid.rest).filter(|v| v.rest.is_empty())?;
        let ty = DnType::from_oid(&oid_arcs(oid.body)?);
        if name.get(&ty).is_some() {
            return None; // rcgen keeps one value per type
        }
        name.push(ty, string_value(value.tag, value.body)?);
    }
    Some(name)
}

fn string_value(tag: u8, body: &[u8]) -> Option<DnValue> {
    let text = || std::str::from_utf8(body).ok();
    Some(match tag {
        UTF8_STRING => DnValue::Utf8String(text()?.to_owned()),
        PRINTABLE_STRING => DnValue::PrintableString(PrintableString::try_from(text()?).ok()?),
        IA5_STRING => DnValue::Ia5String(Ia5String::try_from(text()?).ok()?),
        TELETEX_STRING if body.is_ascii() => {
            DnValue::TeletexString(TeletexString::try_from(text()?).ok()?)
        }
        BMP_STRING => {
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            let text = String::from_utf16(&units).ok()?;
            DnValue::BmpString(BmpString::try_from(text).ok()?)
        }
        UNIVERSAL_STRING => {
            let text: String = body
                .chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect::<Option<_>>()?;
            DnValue::UniversalString(UniversalString::try_from(text).ok()?)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_no_certificate() {
        assert!(read_ca_certificate(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(read_ca_certificate(&[]).is_err());
    }

    /// An RDN of one common name: `tag` and `value`.
    fn cn(tag: u8, value: &[u8]) -> Vec<u8> {
        let oid = [OID, 0x03, 0x55, 0x04, 0x03];
        let len = |n: usize| u8::try_from(n).expect("short");
        let attribute_len = oid.len() + 2 + value.len();
        let mut rdn = vec![SET, len(attribute_len + 2), SEQUENCE, len(attribute_len)];
        rdn.extend(oid);
        rdn.extend([tag, len(value.len())]);
        rdn.extend(value);
        rdn
    }

    #[test]
    fn names_become_rcgen_names_unless_rcgen_cannot_write_them_back() {
        let common_name = |rdns: &[u8]| {
            let name = distinguished_name(rdns)?;
            name.get(&DnType::CommonName).cloned()
        };
        assert_eq!(
            common_name(&cn(UTF8_STRING, b"CA")),
            Some(DnValue::Utf8String("CA".into()))
        );
        let bmp = BmpString::try_from("CA").expect("BMP");
        assert_eq!(
            common_name(&cn(BMP_STRING, &[0, b'C', 0, b'A'])),
            Some(DnValue::BmpString(bmp))
        );
        let twice = [cn(UTF8_STRING, b"a"), cn(UTF8_STRING, b"b")].concat();
        assert!(distinguished_name(&twice).is_none(), "CN twice");
        assert!(
            distinguished_name(&cn(0x12, b"1")).is_none(),
            "NumericString"
        );
    }
}
