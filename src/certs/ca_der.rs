//! What signing with an existing CA needs from its certificate, read from the DER:
//! the subject name (issued certificates must carry it byte for byte as their
//! issuer, or rustls/webpki will not chain them), the subject key identifier (for
//! the authority key identifier), the public key (to check the key belongs to the
//! certificate) and whether it may sign certificates at all.
//!
//! Structure only, no cryptography. rcgen parses CA certificates only with its
//! `x509-parser` feature, which brings 14 more crates (nom, asn1-rs, der-parser,
//! oid-registry and their proc macros) for these few fields.

use rcgen::string::{BmpString, Ia5String, PrintableString, TeletexString, UniversalString};
use rcgen::{DistinguishedName, DnType, DnValue};

const BOOLEAN: u8 = 0x01;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const TELETEX_STRING: u8 = 0x14;
const IA5_STRING: u8 = 0x16;
const UNIVERSAL_STRING: u8 = 0x1c;
const BMP_STRING: u8 = 0x1e;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
/// `[0] EXPLICIT Version`.
const VERSION: u8 = 0xa0;
/// `[3] EXPLICIT Extensions`.
const EXTENSIONS: u8 = 0xa3;

/// `id-ce-subjectKeyIdentifier` (2.5.29.14).
const SUBJECT_KEY_IDENTIFIER: &[u8] = &[0x55, 0x1d, 0x0e];
/// `id-ce-keyUsage` (2.5.29.15).
const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
/// `id-ce-basicConstraints` (2.5.29.19).
const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];

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
    let tbs = tbs_fields(der).ok_or("not a DER X.509 certificate")?;
    let subject =
        distinguished_name(tbs.subject.body).ok_or("subject name uses an unsupported form")?;
    let algorithm = expect(tbs.spki.body, SEQUENCE).ok_or("malformed public key")?;
    let bits = only(algorithm.rest, BIT_STRING).ok_or("malformed public key")?;
    let public_key = match bits.body.split_first() {
        Some((0, key)) => key.to_vec(),
        _ => return Err("malformed public key".into()),
    };
    let mut ca = CaCertificate {
        subject_der: tbs.subject.whole.to_vec(),
        subject,
        public_key,
        key_identifier: None,
        is_ca: false,
        may_sign_certificates: true,
    };
    let mut extensions = match tbs.extensions {
        Some(e) => only(e, SEQUENCE).ok_or("malformed extensions")?.body,
        None => &[],
    };
    while !extensions.is_empty() {
        let extension = expect(extensions, SEQUENCE).ok_or("malformed extension")?;
        extensions = extension.rest;
        let oid = expect(extension.body, OID).ok_or("malformed extension")?;
        let mut value = oid.rest;
        if value.first() == Some(&BOOLEAN) {
            value = element(value).ok_or("malformed extension")?.rest; // critical
        }
        let value = only(value, OCTET_STRING).ok_or("malformed extension")?.body;
        match oid.body {
            SUBJECT_KEY_IDENTIFIER => {
                let id = only(value, OCTET_STRING).ok_or("malformed subjectKeyIdentifier")?;
                ca.key_identifier = Some(id.body.to_vec());
            }
            BASIC_CONSTRAINTS => {
                let constraints = only(value, SEQUENCE).ok_or("malformed basicConstraints")?;
                ca.is_ca = expect(constraints.body, BOOLEAN)
                    .is_some_and(|flag| flag.body.first().is_some_and(|b| *b != 0));
            }
            KEY_USAGE => {
                let usage = only(value, BIT_STRING).ok_or("malformed keyUsage")?;
                // Bit 5, keyCertSign, is 0x04 of the first byte after the count
                // of unused bits.
                ca.may_sign_certificates = usage.body.get(1).is_some_and(|b| b & 0x04 != 0);
            }
            _ => {}
        }
    }
    Ok(ca)
}

/// The issuer `Name` of a certificate, whole DER element.
pub(super) fn issuer_name(der: &[u8]) -> Option<&[u8]> {
    tbs_fields(der).map(|tbs| tbs.issuer.whole)
}

/// The fields of `TBSCertificate` read here.
struct Tbs<'a> {
    issuer: Element<'a>,
    subject: Element<'a>,
    spki: Element<'a>,
    /// The contents of `[3] Extensions`.
    extensions: Option<&'a [u8]>,
}

fn tbs_fields(der: &[u8]) -> Option<Tbs<'_>> {
    let certificate = only(der, SEQUENCE)?;
    let tbs = expect(certificate.body, SEQUENCE)?;
    let mut field = tbs.body;
    if field.first() == Some(&VERSION) {
        field = element(field)?.rest;
    }
    let serial = expect(field, INTEGER)?;
    let signature = expect(serial.rest, SEQUENCE)?;
    let issuer = expect(signature.rest, SEQUENCE)?;
    let validity = expect(issuer.rest, SEQUENCE)?;
    let subject = expect(validity.rest, SEQUENCE)?;
    let spki = expect(subject.rest, SEQUENCE)?;
    let mut field = spki.rest;
    let mut extensions = None;
    while let Some(e) = element(field) {
        if e.tag == EXTENSIONS {
            extensions = Some(e.body);
        }
        field = e.rest;
    }
    Some(Tbs {
        issuer,
        subject,
        spki,
        extensions,
    })
}

/// A `Name` as rcgen's `DistinguishedName`: one attribute per RDN, each type once
/// (what rcgen can write back); `None` for anything else.
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

/// The arcs of an OID's contents (X.690 §8.19).
fn oid_arcs(body: &[u8]) -> Option<Vec<u64>> {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in body.iter().enumerate() {
        if value > u64::MAX >> 7 {
            return None;
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i + 1 == body.len() {
            return None;
        }
    }
    (!arcs.is_empty()).then_some(arcs)
}

/// One DER element: its tag, its contents, and what follows it.
struct Element<'a> {
    tag: u8,
    body: &'a [u8],
    whole: &'a [u8],
    rest: &'a [u8],
}

fn element(input: &[u8]) -> Option<Element<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_len) = after_tag.split_first()?;
    let (len, body_start) = if first < 0x80 {
        (usize::from(first), after_len)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || after_len.len() < n {
            return None;
        }
        let (len_bytes, body) = after_len.split_at(n);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, body)
    };
    if body_start.len() < len {
        return None;
    }
    let (body, rest) = body_start.split_at(len);
    let header = input.len() - body_start.len();
    Some(Element {
        tag,
        body,
        whole: &input[..header + len],
        rest,
    })
}

/// The element at the start of `input`, if it has `tag`.
fn expect(input: &[u8], tag: u8) -> Option<Element<'_>> {
    element(input).filter(|e| e.tag == tag)
}

/// The single element `input` consists of, if it has `tag`.
fn only(input: &[u8], tag: u8) -> Option<Element<'_>> {
    expect(input, tag).filter(|e| e.rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_decode() {
        assert_eq!(oid_arcs(&[0x55, 0x04, 0x03]), Some(vec![2, 5, 4, 3]));
        assert_eq!(
            oid_arcs(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            Some(vec![1, 2, 840, 113549, 1, 9, 1])
        );
        assert_eq!(oid_arcs(&[0x55, 0x86]), None, "truncated arc");
        assert_eq!(oid_arcs(&[]), None);
    }

    #[test]
    fn garbage_is_no_certificate() {
        assert!(read_ca_certificate(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(read_ca_certificate(&[]).is_err());
        assert!(issuer_name(&[0x30, 0x80]).is_none());
    }
}
