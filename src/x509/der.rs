//! A reader (and a length writer) for exactly the DER that certificates and
//! keys are made of: enough to find public keys, names and extensions without a
//! certificate-parsing dependency.

pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const UTF8_STRING: u8 = 0x0c;
pub(crate) const PRINTABLE_STRING: u8 = 0x13;
pub(crate) const TELETEX_STRING: u8 = 0x14;
pub(crate) const IA5_STRING: u8 = 0x16;
pub(crate) const UNIVERSAL_STRING: u8 = 0x1c;
pub(crate) const BMP_STRING: u8 = 0x1e;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;

/// One DER element: its tag, its contents, and what follows it.
pub(crate) struct Element<'a> {
    /// The tag byte.
    pub(crate) tag: u8,
    /// The contents.
    pub(crate) body: &'a [u8],
    /// Tag, length and contents.
    pub(crate) whole: &'a [u8],
    /// What follows the element.
    pub(crate) rest: &'a [u8],
}

pub(crate) fn element(input: &[u8]) -> Option<Element<'_>> {
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
pub(crate) fn expect(input: &[u8], tag: u8) -> Option<Element<'_>> {
    element(input).filter(|e| e.tag == tag)
}

/// The single element `input` consists of, if it has `tag`.
pub(crate) fn only(input: &[u8], tag: u8) -> Option<Element<'_>> {
    expect(input, tag).filter(|e| e.rest.is_empty())
}

/// The bits of a BIT STRING's contents (whole bytes only, as keys are).
pub(crate) fn bit_string(body: &[u8]) -> Option<&[u8]> {
    match body.split_first() {
        Some((0, bits)) => Some(bits),
        _ => None,
    }
}

/// A BOOLEAN's contents: DER allows one byte, `0x00` or `0xff`.
pub(crate) fn boolean(body: &[u8]) -> Option<bool> {
    match body {
        [0x00] => Some(false),
        [0xff] => Some(true),
        _ => None,
    }
}

/// The arcs of an OBJECT IDENTIFIER's contents (X.690 §8.19); `None` when
/// truncated, empty or an arc exceeds 64 bits.
pub(crate) fn oid_arcs(body: &[u8]) -> Option<Vec<u64>> {
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

/// The length octets of a DER element whose contents are `len` bytes.
pub(crate) fn der_length(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_encoded_as_der_does() {
        assert_eq!(der_length(5), [5]);
        assert_eq!(der_length(0x80), [0x81, 0x80]);
        assert_eq!(der_length(0x1234), [0x82, 0x12, 0x34]);
    }

    #[test]
    fn truncated_elements_are_refused() {
        assert!(element(&[0x30, 0x05, 0x00]).is_none());
        assert!(
            only(&[0x30, 0x00, 0x05], SEQUENCE).is_none(),
            "trailing bytes"
        );
        assert!(only(&[0x30, 0x00], SEQUENCE).is_some());
    }

    #[test]
    fn booleans_are_one_byte_zero_or_all_ones() {
        assert_eq!(boolean(&[0x00]), Some(false));
        assert_eq!(boolean(&[0xff]), Some(true));
        assert_eq!(boolean(&[0x01]), None, "BER, not DER");
        assert_eq!(boolean(&[]), None);
        assert_eq!(boolean(&[0xff, 0x00]), None);
    }

    #[test]
    fn oids_decode() {
        assert_eq!(oid_arcs(&[0x55, 0x04, 0x03]), Some(vec![2, 5, 4, 3]));
        assert_eq!(
            oid_arcs(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            Some(vec![1, 2, 840, 113549, 1, 9, 1])
        );
        assert_eq!(oid_arcs(&[0x88, 0x37]), Some(vec![2, 999]), "2.999");
        assert_eq!(oid_arcs(&[0x55, 0x86]), None, "truncated arc");
        let huge = [[0xff; 10].as_slice(), &[0x7f]].concat();
        assert_eq!(oid_arcs(&huge), None, "an arc over 64 bits");
        assert_eq!(oid_arcs(&[]), None);
    }
}
