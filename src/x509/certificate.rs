//! The parts of an X.509 certificate Interlock reads: its issuer and subject
//! names, its public key and its extensions, including those that say whether it
//! may sign other certificates.

use super::der::{
    boolean, element, expect, only, Element, BIT_STRING, BOOLEAN, INTEGER, OCTET_STRING, OID,
    SEQUENCE,
};

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

/// Fields of a certificate's `TBSCertificate`, borrowed from its DER.
pub(crate) struct Certificate<'a> {
    /// The issuer `Name`.
    pub(crate) issuer: Element<'a>,
    /// The subject `Name`.
    pub(crate) subject: Element<'a>,
    /// `SubjectPublicKeyInfo`.
    pub(crate) spki: Element<'a>,
    /// The contents of the `[3] Extensions` SEQUENCE, if any.
    extensions_der: Option<&'a [u8]>,
}

/// One extension: its `extnID` and what its `extnValue` OCTET STRING holds.
pub(crate) struct Extension<'a> {
    /// The OID's contents.
    pub(crate) oid: &'a [u8],
    /// The DER the extension's OCTET STRING wraps.
    pub(crate) value: &'a [u8],
}

/// What a certificate's extensions say about it signing certificates.
pub(crate) struct CaExtensions<'a> {
    /// The `subjectKeyIdentifier`, if the certificate has one.
    pub(crate) key_identifier: Option<&'a [u8]>,
    /// `basicConstraints` says `cA: TRUE`.
    pub(crate) is_ca: bool,
    /// `keyUsage` is absent or allows `keyCertSign`.
    pub(crate) may_sign_certificates: bool,
}

impl<'a> Certificate<'a> {
    /// Reads `der` as a certificate; `None` when it is none.
    pub(crate) fn read(der: &'a [u8]) -> Option<Certificate<'a>> {
        let certificate = only(der, SEQUENCE)?;
        let tbs = expect(certificate.body, SEQUENCE)?;
        let algorithm = expect(tbs.rest, SEQUENCE)?;
        expect(algorithm.rest, BIT_STRING)?;
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
        let mut extensions_der = None;
        while let Some(e) = element(field) {
            if e.tag == EXTENSIONS {
                extensions_der = Some(expect(e.body, SEQUENCE)?.body);
            }
            field = e.rest;
        }
        Some(Certificate {
            issuer,
            subject,
            spki,
            extensions_der,
        })
    }

    /// The extensions, in order (none when the certificate has none); `None`
    /// when one is malformed.
    pub(crate) fn extensions(&self) -> Option<Vec<Extension<'a>>> {
        let mut extensions = Vec::new();
        let mut rest = self.extensions_der.unwrap_or_default();
        while !rest.is_empty() {
            let extension = expect(rest, SEQUENCE)?;
            rest = extension.rest;
            let oid = expect(extension.body, OID)?;
            // `critical BOOLEAN DEFAULT FALSE`, then the OCTET STRING.
            let mut value = oid.rest;
            if let Some(critical) = expect(value, BOOLEAN) {
                boolean(critical.body)?;
                value = critical.rest;
            }
            extensions.push(Extension {
                oid: oid.body,
                value: only(value, OCTET_STRING)?.body,
            });
        }
        Some(extensions)
    }

    /// Reads `subjectKeyIdentifier`, `basicConstraints` and `keyUsage`; `Err`
    /// says which extension is malformed.
    pub(crate) fn ca_extensions(&self) -> Result<CaExtensions<'a>, &'static str> {
        let mut ca = CaExtensions {
            key_identifier: None,
            is_ca: false,
            may_sign_certificates: true,
        };
        for extension in self.extensions().ok_or("malformed extension")? {
            match extension.oid {
                SUBJECT_KEY_IDENTIFIER => {
                    let id = only(extension.value, OCTET_STRING)
                        .ok_or("malformed subjectKeyIdentifier")?;
                    ca.key_identifier = Some(id.body);
                }
                BASIC_CONSTRAINTS => {
                    let malformed = "malformed basicConstraints";
                    let constraints = only(extension.value, SEQUENCE).ok_or(malformed)?;
                    // `cA BOOLEAN DEFAULT FALSE`, then `pathLenConstraint`.
                    ca.is_ca = match expect(constraints.body, BOOLEAN) {
                        Some(flag) => boolean(flag.body).ok_or(malformed)?,
                        None => false,
                    };
                }
                KEY_USAGE => {
                    let usage = only(extension.value, BIT_STRING).ok_or("malformed keyUsage")?;
                    // Bit 5, keyCertSign, is 0x04 of the first byte after the count
                    // of unused bits.
                    ca.may_sign_certificates = usage.body.get(1).is_some_and(|b| b & 0x04 != 0);
                }
                _ => {}
            }
        }
        Ok(ca)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::der::der_length;

    fn pem_der(file: &str) -> Vec<u8> {
        let pem = std::fs::read_to_string(format!("tests/data/tls/{file}")).expect(file);
        pem::parse(pem).expect("pem").into_contents()
    }

    #[test]
    fn names_key_and_extensions_are_found() {
        // openssl's self-signed `CN = a.test`: SKI, AKI, critical cA TRUE.
        let der = pem_der("ec_cert.pem");
        let certificate = Certificate::read(&der).expect("a certificate");
        assert_eq!(certificate.issuer.whole, certificate.subject.whole);
        assert!(certificate.subject.whole.ends_with(b"a.test"));
        let algorithm = expect(certificate.spki.body, SEQUENCE).expect("algorithm");
        assert!(only(algorithm.rest, BIT_STRING).is_some());
        let extensions = certificate.extensions().expect("well-formed extensions");
        let oids: Vec<&[u8]> = extensions.iter().map(|e| e.oid).collect();
        assert_eq!(
            oids,
            [
                SUBJECT_KEY_IDENTIFIER,
                &[0x55, 0x1d, 0x23],
                BASIC_CONSTRAINTS
            ]
        );
        let ca = certificate.ca_extensions().expect("well-formed");
        assert!(ca.is_ca && ca.may_sign_certificates);
        let id = ca.key_identifier.expect("a subject key identifier");
        assert_eq!(id[..4], [0xa4, 0xa2, 0xbc, 0xbb]);
    }

    #[test]
    fn garbage_is_no_certificate() {
        assert!(Certificate::read(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_none());
        assert!(Certificate::read(&[0x30, 0x80]).is_none());
        assert!(Certificate::read(&[]).is_none());
    }

    /// A certificate around `extensions` (the contents of the Extensions
    /// SEQUENCE), with empty names, key and signature.
    fn with_extensions(extensions: &[u8]) -> Vec<u8> {
        let wrap = |tag: u8, body: &[u8]| {
            let mut out = vec![tag];
            out.extend(der_length(body.len()));
            out.extend(body);
            out
        };
        let empty = wrap(SEQUENCE, &[]);
        let tbs = [
            wrap(VERSION, &wrap(INTEGER, &[2])),
            wrap(INTEGER, &[1]),
            empty.clone(),
            empty.clone(),
            empty.clone(),
            empty.clone(),
            empty.clone(),
            wrap(EXTENSIONS, &wrap(SEQUENCE, extensions)),
        ]
        .concat();
        let certificate = [wrap(SEQUENCE, &tbs), empty, wrap(BIT_STRING, &[0])].concat();
        wrap(SEQUENCE, &certificate)
    }

    #[test]
    fn ca_extensions_are_read_and_malformed_ones_named() {
        // basicConstraints critical cA TRUE; keyUsage keyCertSign; SKI 01 02.
        let ca = [
            &[0x30, 0x0f, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff][..],
            &[0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0xff],
            &[0x30, 0x0b, 0x06, 0x03, 0x55, 0x1d, 0x0f],
            &[0x04, 0x04, 0x03, 0x02, 0x02, 0x04],
            &[0x30, 0x0b, 0x06, 0x03, 0x55, 0x1d, 0x0e],
            &[0x04, 0x04, 0x04, 0x02, 0x01, 0x02],
        ]
        .concat();
        let der = with_extensions(&ca);
        let read = Certificate::read(&der).expect("a certificate");
        let ca = read.ca_extensions().expect("well-formed");
        assert!(ca.is_ca && ca.may_sign_certificates);
        assert_eq!(ca.key_identifier, Some(&[1, 2][..]));

        let none = with_extensions(&[]);
        let ca = Certificate::read(&none).expect("a certificate");
        let ca = ca.ca_extensions().expect("no extensions");
        assert!(!ca.is_ca && ca.may_sign_certificates && ca.key_identifier.is_none());

        let malformed: [(&[&[u8]], &str); 3] = [
            // cA as the BER boolean 0x01.
            (
                &[
                    &[0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13],
                    &[0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0x01],
                ],
                "malformed basicConstraints",
            ),
            // keyUsage without its BIT STRING.
            (
                &[
                    &[0x30, 0x09, 0x06, 0x03, 0x55, 0x1d, 0x0f],
                    &[0x04, 0x02, 0x05, 0x00],
                ],
                "malformed keyUsage",
            ),
            // An extension whose value is no OCTET STRING.
            (
                &[&[0x30, 0x07, 0x06, 0x03, 0x55, 0x1d, 0x0f], &[0x05, 0x00]],
                "malformed extension",
            ),
        ];
        for (parts, error) in malformed {
            let extensions = parts.concat();
            let der = with_extensions(&extensions);
            let read = Certificate::read(&der).expect("a certificate");
            assert_eq!(read.ca_extensions().err(), Some(error), "{extensions:02x?}");
        }
    }
}
