//! Names and addresses built tens of thousands of times per translation (one per
//! cluster, one per endpoint), written directly instead of through `format!`,
//! which costs about a thousand instructions per number. Each gives exactly what
//! the `Display` form would.

use std::net::{IpAddr, Ipv4Addr};

/// Appends `n` in decimal, as `Display` writes it.
pub(crate) fn push_decimal(s: &mut String, n: i64) {
    if n < 0 {
        s.push('-');
    }
    let mut n = n.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // `n % 10` is a single digit.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.extend(digits[start..].iter().map(|&d| char::from(d)));
}

/// The textual form of `ip`, in one allocation of the right size.
pub(crate) fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => ipv4_string(v4),
        IpAddr::V6(v6) => v6.to_string(),
    }
}

fn ipv4_string(ip: Ipv4Addr) -> String {
    let mut s = String::with_capacity(15);
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        push_decimal(&mut s, i64::from(octet));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_match_display() {
        for n in [
            0,
            7,
            10,
            80,
            65535,
            -1,
            -90,
            i64::from(i32::MIN),
            i64::MAX,
            i64::MIN,
        ] {
            let mut s = String::from("x");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }

    #[test]
    fn addresses_match_display() {
        let mut n: u32 = 1;
        for _ in 0..10_000 {
            n = n.wrapping_mul(2_654_435_761).wrapping_add(12_345);
            let ip = IpAddr::V4(Ipv4Addr::from(n));
            assert_eq!(ip_string(ip), ip.to_string());
        }
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
            "fd00::1",
            "::ffff:1.2.3.4",
        ] {
            let ip: IpAddr = ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
            assert_eq!(ip_string(ip), ip.to_string());
        }
    }
}
