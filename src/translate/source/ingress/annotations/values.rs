//! Value grammars shared by the annotation groups: booleans, nginx sizes and
//! times, counts, address ranges.
//!
//! Each parser accepts what ingress-nginx accepts for that kind of value and
//! says precisely what is wrong otherwise; the caller records the error as the
//! annotation's verdict ([`super::reader::Reader::parse`]).

use std::net::IpAddr;
use std::time::Duration;

use crate::translate::model::Cidr;

/// Why an annotation value is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not `true` or `false`.
    #[error("{0:?} is not true or false")]
    Bool(String),
    /// Not a non-negative whole number in range.
    #[error("{0:?} is not a whole number in range")]
    Count(String),
    /// Not an nginx size (`512`, `8k`, `1m`, `1g`).
    #[error("{0:?} is not a size (e.g. 512, 8k, 1m, 1g)")]
    Size(String),
    /// Not an nginx time (`60`, `60s`, `5m`, `1h`).
    #[error("{0:?} is not a time in seconds (e.g. 60, 60s, 5m, 1h)")]
    Time(String),
    /// Not an address or CIDR range.
    #[error("{0:?} is not an IP address or CIDR range")]
    Cidr(String),
    /// Not one of the listed values.
    #[error("{value:?} is not one of {expected}")]
    OneOf {
        /// What was written.
        value: String,
        /// The accepted values.
        expected: &'static str,
    },
    /// Empty where a value is required.
    #[error("empty value")]
    Empty,
}

/// `true` or `false` (any case, as Go's strconv.ParseBool also takes `1`/`0`).
pub fn boolean(value: &str) -> Result<bool, ValueError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "t" => Ok(true),
        "false" | "0" | "f" => Ok(false),
        _ => Err(ValueError::Bool(value.to_owned())),
    }
}

/// A non-negative whole number that fits a `u32`.
pub fn count(value: &str) -> Result<u32, ValueError> {
    value
        .parse::<u32>()
        .map_err(|_| ValueError::Count(value.to_owned()))
}

/// An nginx size in bytes: a number, optionally followed by `k`, `m` or `g`
/// (either case).
pub fn size(value: &str) -> Result<u64, ValueError> {
    let bad = || ValueError::Size(value.to_owned());
    let (digits, scale) = match value.char_indices().last().ok_or_else(bad)? {
        (i, 'k' | 'K') => (&value[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&value[..i], 1 << 20),
        (i, 'g' | 'G') => (&value[..i], 1 << 30),
        _ => (value, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(bad)
}

/// An nginx time: whole seconds, optionally with an `s`, `m` or `h` unit.
pub fn time(value: &str) -> Result<Duration, ValueError> {
    let bad = || ValueError::Time(value.to_owned());
    let (digits, scale) = match value.char_indices().last().ok_or_else(bad)? {
        (i, 's') => (&value[..i], 1u64),
        (i, 'm') => (&value[..i], 60),
        (i, 'h') => (&value[..i], 3600),
        _ => (value, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|s| *s <= 315_576_000_000)
        .ok_or_else(bad)?;
    Ok(Duration::from_secs(seconds))
}

/// A comma-separated list of addresses and CIDR ranges (a bare address is a
/// single-host range). Host bits set in a range are cleared, as nginx does.
pub fn cidrs(value: &str) -> Result<Vec<Cidr>, ValueError> {
    let mut ranges: Vec<Cidr> = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        ranges.push(cidr(part)?);
    }
    if ranges.is_empty() {
        return Err(ValueError::Empty);
    }
    ranges.sort();
    ranges.dedup();
    Ok(ranges)
}

fn cidr(value: &str) -> Result<Cidr, ValueError> {
    let bad = || ValueError::Cidr(value.to_owned());
    let (address, len) = match value.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (value, None),
    };
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix_len = match len {
        None => max,
        Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max).ok_or_else(bad)?,
    };
    Ok(Cidr {
        address: network(address, prefix_len),
        prefix_len,
    })
}

/// `address` with its host bits cleared.
fn network(address: IpAddr, prefix_len: u8) -> IpAddr {
    match address {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_nginx_units() {
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("512"), Ok(512));
        assert_eq!(size("8k"), Ok(8192));
        assert_eq!(size("1M"), Ok(1 << 20));
        assert_eq!(size("2g"), Ok(2 << 30));
        for bad in ["", "m", "1.5m", "-1", "1t", "1 m", "99999999999999999999g"] {
            assert!(size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_are_seconds_with_optional_units() {
        assert_eq!(time("60"), Ok(Duration::from_secs(60)));
        assert_eq!(time("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(time("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(time("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "1.5", "-3", "10ms", "abc"] {
            assert!(time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cidr_lists_normalize_and_refuse_garbage() {
        let got = cidrs("10.0.0.7/8, 192.168.1.1,::1/128,10.0.0.0/8").unwrap();
        let text: Vec<String> = got.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["10.0.0.0/8", "192.168.1.1/32", "::1/128"]);
        for bad in [
            "",
            " , ",
            "10.0.0.0/33",
            "300.1.1.1",
            "10.0.0.0/x",
            "host.test",
        ] {
            assert!(cidrs(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn booleans_take_go_spellings() {
        assert_eq!(boolean("True"), Ok(true));
        assert_eq!(boolean("0"), Ok(false));
        assert!(boolean("yes").is_err());
    }
}
