//! Secret `stringData`, honoured as the API server does, so a Secret in a file
//! means the same as the Secret `kubectl apply` would store.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;

/// Moves `stringData` into `data` as bytes; on a key in both, `stringData` wins
/// (the API server's rule). Afterwards `stringData` is empty, as on a read.
pub(super) fn merge_string_data(secret: &mut Secret) {
    let Some(string_data) = secret.string_data.take() else {
        return;
    };
    let data = secret.data.get_or_insert_with(BTreeMap::new);
    for (key, value) in string_data {
        data.insert(key, ByteString(value.into_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_data_wins_over_data() {
        let mut secret = Secret {
            data: Some(BTreeMap::from([
                ("a".to_owned(), ByteString(b"old".to_vec())),
                ("b".to_owned(), ByteString(b"kept".to_vec())),
            ])),
            string_data: Some(BTreeMap::from([("a".to_owned(), "new".to_owned())])),
            ..Secret::default()
        };
        merge_string_data(&mut secret);
        assert_eq!(secret.string_data, None);
        assert_eq!(
            secret.data,
            Some(BTreeMap::from([
                ("a".to_owned(), ByteString(b"new".to_vec())),
                ("b".to_owned(), ByteString(b"kept".to_vec())),
            ]))
        );
    }
}
