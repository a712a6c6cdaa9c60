//! A reader (and a length writer) for exactly the DER that certificates and
//! keys are made of: enough to find public keys and subject alternative names
//! without a certificate-parsing dependency.

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;

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
        assert!(only(&[0x30, 0x00, 0x05], SEQUENCE).is_none(), "trailing bytes");
        assert!(only(&[0x30, 0x00], SEQUENCE).is_some());
    }
}
