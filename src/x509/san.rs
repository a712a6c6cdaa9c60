//! Subject alternative names: where a client certificate says who it is.

use super::certificate::Certificate;
use super::der::{element, expect, SEQUENCE};

/// `subjectAltName` (2.5.29.17).
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// The names of a certificate's `subjectAltName` extension.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectAltNames {
    /// `uniformResourceIdentifier` names, in order.
    pub uris: Vec<String>,
    /// `dNSName` names, in order.
    pub dns: Vec<String>,
}

/// The SANs of the certificate `der`; `None` when it is no certificate or an
/// extension is malformed. Names that are not UTF-8 are skipped.
pub fn subject_alt_names(der: &[u8]) -> Option<SubjectAltNames> {
    let mut names = SubjectAltNames::default();
    for extension in Certificate::read(der)?.extensions()? {
        if extension.oid != SUBJECT_ALT_NAME {
            continue;
        }
        let general_names = expect(extension.value, SEQUENCE)?;
        let mut name = general_names.body;
        while let Some(e) = element(name) {
            name = e.rest;
            let text = std::str::from_utf8(e.body).ok().map(str::to_owned);
            match (e.tag, text) {
                (0x86, Some(uri)) => names.uris.push(uri),
                (0x82, Some(dns)) => names.dns.push(dns),
                _ => {}
            }
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_without_sans_has_none_and_garbage_is_no_certificate() {
        let pem = std::fs::read_to_string("tests/data/tls/ec_cert.pem").expect("cert");
        let block = pem::parse(pem).expect("pem");
        let names = subject_alt_names(block.contents()).expect("a certificate");
        assert!(names.uris.is_empty());
        assert_eq!(subject_alt_names(&[0x30, 0x00]), None);
    }
}
