//! A bundle as Kubernetes Secret manifests (`-o yaml`), named as the shipped
//! manifests mount them. Type `kubernetes.io/tls` with `tls.crt`, `tls.key` and the
//! CA as `ca.crt`, the layout cert-manager writes (and `--out-dir` writes per
//! party), so either source fits the same volume mounts. The CA key is in none of
//! them: neither Interlock nor Envoy needs it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::files::{CA_FILE, CERT_FILE, KEY_FILE};
use super::identity::is_dns_label;
use super::{Bundle, CertError, Issued};

/// The Secret holding Interlock's server certificate.
pub const SERVER_SECRET_NAME: &str = "interlock-xds-server";

/// The namespace of the Secrets unless told otherwise: the shipped manifests'.
pub const DEFAULT_NAMESPACE: &str = "interlock-system";

/// The Secret holding gateway `gateway`'s client certificate.
pub fn client_secret_name(gateway: &str) -> String {
    format!("interlock-xds-client-{gateway}")
}

impl Bundle {
    /// The Secrets, as one multi-document YAML stream: the server's, then one per
    /// gateway, all in `namespace`.
    pub fn secret_manifests(&self, namespace: &str) -> Result<String, CertError> {
        if !is_dns_label(namespace) {
            return Err(CertError::InvalidNamespace {
                value: namespace.to_owned(),
                reason: "must be a DNS label: 1 to 63 lowercase letters, digits and '-'",
            });
        }
        let mut secrets = vec![self.secret(SERVER_SECRET_NAME.to_owned(), namespace, &self.server)];
        for (gateway, issued) in &self.clients {
            secrets.push(self.secret(client_secret_name(gateway), namespace, issued));
        }
        let mut out = String::new();
        for secret in &secrets {
            out.push_str("---\n");
            out.push_str(&serde_saphyr::to_string(secret)?);
        }
        Ok(out)
    }

    fn secret(&self, name: String, namespace: &str, issued: &Issued) -> Secret {
        let data = [
            (CA_FILE, &self.ca_cert_pem),
            (CERT_FILE, &issued.cert_pem),
            (KEY_FILE, &issued.key_pem),
        ];
        Secret {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.to_owned()),
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "interlock-certgen".to_owned(),
                )])),
                ..Default::default()
            },
            type_: Some("kubernetes.io/tls".to_owned()),
            string_data: Some(
                data.into_iter()
                    .map(|(k, v)| (k.to_owned(), v.clone()))
                    .collect(),
            ),
            ..Default::default()
        }
    }
}
