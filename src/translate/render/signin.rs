//! `auth-signin` ([`SigninUrl`]): a matcher of Envoy's `custom_response`
//! filter ([`super::custom_response`]) turning the ext_authz filter's 401 into
//! a 302 to the sign-in URL.
//!
//! Only the auth service's 401 is redirected, as ingress-nginx's
//! `error_page 401` after `auth_request` does: the match is a CEL expression
//! on `response.code == 401 && response.code_details == "ext_authz_denied"`,
//! so the upstream's own 401s reach the client unchanged. The filter must come
//! before ext_authz in the chain: a local reply goes through the encoders of
//! the filters before the one that sent it. Envoy marks `custom_response` as
//! work in progress (it logs a warning once).

use envoy_types::pb::cel::expr::{constant::ConstantKind, expr, Constant, Expr, ParsedExpr};
use envoy_types::pb::envoy::config::core::v3::{
    header_value_option::HeaderAppendAction, HeaderValue, HeaderValueOption,
};
use envoy_types::pb::envoy::extensions::http::custom_response::local_response_policy::v3::LocalResponsePolicy;
use envoy_types::pb::google::protobuf::{Any, UInt32Value};
use envoy_types::pb::xds::core::v3::TypedExtensionConfig;
use envoy_types::pb::xds::r#type::matcher::v3::matcher::{
    matcher_list::{predicate, FieldMatcher, Predicate},
    on_match, OnMatch,
};
use envoy_types::pb::xds::r#type::v3::CelExpression;
use envoy_types::util::pack_any;
use prost::Message;

use crate::translate::model::{SigninUrl, UrlPart};

/// `xds.type.matcher.v3.CelMatcher`, which envoy-types does not generate.
#[derive(Clone, PartialEq, Message)]
struct CelMatcher {
    #[prost(message, optional, tag = "1")]
    expr_match: Option<CelExpression>,
}

/// The matcher redirecting the auth service's 401 to `signin`.
pub fn matcher(signin: &SigninUrl) -> FieldMatcher {
    let redirect = LocalResponsePolicy {
        status_code: Some(UInt32Value { value: 302 }),
        response_headers_to_add: vec![HeaderValueOption {
            header: Some(HeaderValue {
                key: "location".to_owned(),
                value: location(signin),
                ..HeaderValue::default()
            }),
            append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
            ..HeaderValueOption::default()
        }],
        ..LocalResponsePolicy::default()
    };
    let cel = CelMatcher {
        expr_match: Some(CelExpression {
            cel_expr_parsed: Some(ParsedExpr {
                expr: Some(denied_by_ext_authz()),
                ..ParsedExpr::default()
            }),
            ..CelExpression::default()
        }),
    };
    let predicate = Predicate {
        match_type: Some(predicate::MatchType::SinglePredicate(
            predicate::SinglePredicate {
                input: Some(extension(
                    "response-attributes",
                    Any {
                        type_url:
                            "type.googleapis.com/xds.type.matcher.v3.HttpAttributesCelMatchInput"
                                .to_owned(),
                        value: Vec::new(),
                    },
                )),
                matcher: Some(predicate::single_predicate::Matcher::CustomMatch(
                    extension(
                        "ext-authz-401",
                        Any {
                            type_url: "type.googleapis.com/xds.type.matcher.v3.CelMatcher"
                                .to_owned(),
                            value: cel.encode_to_vec(),
                        },
                    ),
                )),
            },
        )),
    };
    FieldMatcher {
        predicate: Some(predicate),
        on_match: Some(OnMatch {
            on_match: Some(on_match::OnMatch::Action(extension(
                "signin",
                pack_any(redirect),
            ))),
            ..OnMatch::default()
        }),
    }
}

/// `signin` as a substitution format.
fn location(signin: &SigninUrl) -> String {
    signin
        .parts
        .iter()
        .map(|part| match part {
            UrlPart::Text(text) => text.replace('%', "%%"),
            UrlPart::Scheme => "%REQ(x-forwarded-proto)%".to_owned(),
            UrlPart::Host => "%REQ(:authority)%".to_owned(),
            UrlPart::RequestUri => "%REQ(:path)%".to_owned(),
        })
        .collect()
}

/// `response.code == 401 && response.code_details == "ext_authz_denied"`.
fn denied_by_ext_authz() -> Expr {
    let attribute = |id: i64, field: &str| Expr {
        id,
        expr_kind: Some(expr::ExprKind::SelectExpr(Box::new(expr::Select {
            operand: Some(Box::new(Expr {
                id: id + 1,
                expr_kind: Some(expr::ExprKind::IdentExpr(expr::Ident {
                    name: "response".to_owned(),
                })),
            })),
            field: field.to_owned(),
            test_only: false,
        }))),
    };
    let constant = |id: i64, kind: ConstantKind| Expr {
        id,
        expr_kind: Some(expr::ExprKind::ConstExpr(Constant {
            constant_kind: Some(kind),
        })),
    };
    let call = |id: i64, function: &str, args: Vec<Expr>| Expr {
        id,
        expr_kind: Some(expr::ExprKind::CallExpr(Box::new(expr::Call {
            target: None,
            function: function.to_owned(),
            args,
        }))),
    };
    call(
        1,
        "_&&_",
        vec![
            call(
                2,
                "_==_",
                vec![
                    attribute(3, "code"),
                    constant(5, ConstantKind::Int64Value(401)),
                ],
            ),
            call(
                6,
                "_==_",
                vec![
                    attribute(7, "code_details"),
                    constant(9, ConstantKind::StringValue("ext_authz_denied".to_owned())),
                ],
            ),
        ],
    )
}

/// A named extension configuration.
pub(super) fn extension(name: &str, config: Any) -> TypedExtensionConfig {
    TypedExtensionConfig {
        name: name.to_owned(),
        typed_config: Some(config),
    }
}
