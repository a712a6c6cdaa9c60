//! One issued certificate with its private key.

use std::fmt;

/// A certificate (PEM) and its private key (PKCS#8 PEM). `Debug` shows the
/// certificate and `<redacted>` for the key: nothing Debug-printed may contain
/// secret material (DESIGN.md, "Trust boundaries").
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM. Secret.
    pub key_pem: String,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_key() {
        let issued = Issued {
            cert_pem: "CERT".into(),
            key_pem: "SECRET".into(),
        };
        let shown = format!("{issued:?} {issued:#?}");
        assert!(shown.contains("CERT") && shown.contains("<redacted>"));
        assert!(!shown.contains("SECRET"));
    }
}
