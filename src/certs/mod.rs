//! Certificates for the mutually authenticated xDS channel, as `interlock certgen`
//! writes them: a CA, a server certificate for the Interlock Service and one client
//! certificate per gateway identity.
//!
//! Why Interlock makes its own: xDS hands out TLS private keys, so it is mTLS by
//! default (DESIGN.md, "Trust boundaries"), and the set-up must be one command, not
//! an openssl recipe. The same API makes the certificates the tests need, including
//! an expired one and one from another CA.
//!
//! - [`identity`]: the names every certificate carries (the SPIFFE gateway URI, the
//!   Service's DNS names), the contract between certgen and the xDS server.
//! - [`Issuer`]: a CA that signs, freshly made or loaded from PEM.
//! - [`Bundle`]: everything certgen writes, made in one call from [`CertgenOptions`].
//! - [`Issued`]: one certificate and its key, the key redacted from `Debug`.
//! - Output: [`Bundle::write_dir`] for files, [`Bundle::secret_manifests`] for
//!   Kubernetes Secrets.

mod bundle;
mod ca_certificate;
mod error;
mod files;
pub mod identity;
mod issued;
mod issuer;
mod secrets;

pub use bundle::{Bundle, CertgenOptions, CA_VALIDITY, DEFAULT_VALIDITY};
pub use error::CertError;
pub use files::WriteOptions;
pub use issued::Issued;
pub use issuer::Issuer;
pub use secrets::{client_secret_name, DEFAULT_NAMESPACE, SERVER_SECRET_NAME};
