//! The parts of an X.509 certificate Interlock reads: its public key and its
//! extensions.

use super::der::{element, expect, only, Element, BIT_STRING, INTEGER, SEQUENCE};

/// A certificate's `subjectPublicKeyInfo` and extensions, borrowed from its DER.
pub(crate) struct Certificate<'a> {
    /// `SubjectPublicKeyInfo`.
    pub(crate) spki: Element<'a>,
    /// The contents of `[3] Extensions`, if any.
    pub(crate) extensions: Option<&'a [u8]>,
}

impl<'a> Certificate<'a> {
    /// Reads `der` as a certificate; `None` when it is none.
    pub(crate) fn read(der: &'a [u8]) -> Option<Certificate<'a>> {
        let certificate = only(der, SEQUENCE)?;
        let tbs = expect(certificate.body, SEQUENCE)?;
        let algorithm = expect(tbs.rest, SEQUENCE)?;
        expect(algorithm.rest, BIT_STRING)?;
        let mut field = tbs.body;
        if field.first() == Some(&0xa0) {
            field = element(field)?.rest; // [0] version
        }
        let serial = expect(field, INTEGER)?;
        // signature, issuer, validity, subject
        let mut field = serial.rest;
        for _ in 0..4 {
            field = expect(field, SEQUENCE)?.rest;
        }
        let spki = expect(field, SEQUENCE)?;
        let mut field = spki.rest;
        let mut extensions = None;
        while let Some(e) = element(field) {
            if e.tag == 0xa3 {
                extensions = Some(expect(e.body, SEQUENCE)?.body);
            }
            field = e.rest;
        }
        Some(Certificate { spki, extensions })
    }
}
