//! The routes that refuse a request on a host asking for client certificates
//! when the connection's certificate is missing or invalid, first in the
//! host's virtual host of the `https` table.
//!
//! The TLS handshake accepts any certificate, or none
//! (`trust_chain_verification: ACCEPT_UNTRUSTED`, see [`super::tls`]); these
//! routes decide, on `tls_context` `presented` / `validated`, and answer 400
//! with ingress-nginx's messages, or redirect (302) to the host's
//! `auth-tls-error-page`. Deciding per request also covers a client
//! that reaches the host through another host's filter chain (an SNI that
//! asks for no certificate, then `Host:` of this one).

use envoy_types::pb::envoy::config::core::v3::{data_source::Specifier, DataSource};
use envoy_types::pb::envoy::config::route::v3::{
    route::Action, route_match::PathSpecifier, route_match::TlsContextMatchOptions,
    DirectResponseAction, Route, RouteMatch,
};
use envoy_types::pb::google::protobuf::BoolValue;

use super::route::redirect_action;
use crate::translate::model::{ClientAuth, ClientVerify};

/// The body ingress-nginx answers without a certificate.
pub const MISSING_BODY: &str = "No required SSL certificate was sent\n";

/// The body ingress-nginx answers with a certificate that does not verify.
pub const INVALID_BODY: &str = "The SSL certificate error\n";

/// The routes refusing what `auth` does not accept, to go before a host's
/// own routes.
pub fn guard_routes(auth: &ClientAuth) -> Vec<Route> {
    let guard = |name, presented, validated, body| guard(auth, name, presented, validated, body);
    match auth.verify {
        ClientVerify::On => vec![
            guard("client-certificate-missing", false, None, MISSING_BODY),
            guard(
                "client-certificate-invalid",
                true,
                Some(false),
                INVALID_BODY,
            ),
        ],
        ClientVerify::Optional => vec![guard(
            "client-certificate-invalid",
            true,
            Some(false),
            INVALID_BODY,
        )],
        ClientVerify::OptionalNoCa => Vec::new(),
    }
}

fn guard(
    auth: &ClientAuth,
    name: &str,
    presented: bool,
    validated: Option<bool>,
    body: &str,
) -> Route {
    let action = match &auth.error_page {
        Some(page) => Action::Redirect(redirect_action(page)),
        None => Action::DirectResponse(DirectResponseAction {
            status: 400,
            body: Some(DataSource {
                specifier: Some(Specifier::InlineString(body.to_owned())),
                ..DataSource::default()
            }),
            ..DirectResponseAction::default()
        }),
    };
    Route {
        name: name.to_owned(),
        r#match: Some(RouteMatch {
            path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
            tls_context: Some(TlsContextMatchOptions {
                presented: Some(BoolValue { value: presented }),
                validated: validated.map(|value| BoolValue { value }),
            }),
            ..RouteMatch::default()
        }),
        action: Some(action),
        ..Route::default()
    }
}
