//! What the client gets when the auth service refuses, as matchers of Envoy's
//! `custom_response` filter ([`super::custom_response`]): with `auth-signin`
//! ([`SigninUrl`]) a 401 becomes a 302 to the sign-in URL ([`signin`]); any
//! refusal other than 401 or 403 becomes 500 ([`other_refusals`]), as
//! ingress-nginx answers.
//!
//! Only the auth service's answers are matched, as ingress-nginx's
//! `error_page 401` after `auth_request` does: the match is a CEL expression
//! requiring `response.code_details == "ext_authz_denied"`, so the
//! upstream's own 401s reach the client unchanged. The filter must come
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
pub fn signin(signin: &SigninUrl) -> FieldMatcher {
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
    matcher("ext-authz-401", refused_with_401(), "signin", redirect)
}

/// The matcher answering 500 when the auth service answered anything but
/// 200, 401 or 403, as ingress-nginx does.
pub fn other_refusals() -> FieldMatcher {
    let error = LocalResponsePolicy {
        status_code: Some(UInt32Value { value: 500 }),
        ..LocalResponsePolicy::default()
    };
    matcher("ext-authz-other", refused_otherwise(), "auth-error", error)
}

/// Answers with `policy` when `condition` (CEL over the response) holds.
fn matcher(
    condition_name: &str,
    condition: Expr,
    action_name: &str,
    policy: LocalResponsePolicy,
) -> FieldMatcher {
    let cel = CelMatcher {
        expr_match: Some(CelExpression {
            cel_expr_parsed: Some(ParsedExpr {
                expr: Some(condition),
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
                        condition_name,
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
                action_name,
                pack_any(policy),
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

/// Builds a CEL expression over the response attributes, numbering its nodes.
#[derive(Default)]
struct Cel {
    last_id: i64,
}

// === impl Cel ===

impl Cel {
    fn node(&mut self, kind: expr::ExprKind) -> Expr {
        self.last_id += 1;
        Expr {
            id: self.last_id,
            expr_kind: Some(kind),
        }
    }

    /// `response.<field>`.
    fn response(&mut self, field: &str) -> Expr {
        let operand = self.node(expr::ExprKind::IdentExpr(expr::Ident {
            name: "response".to_owned(),
        }));
        self.node(expr::ExprKind::SelectExpr(Box::new(expr::Select {
            operand: Some(Box::new(operand)),
            field: field.to_owned(),
            test_only: false,
        })))
    }

    fn constant(&mut self, kind: ConstantKind) -> Expr {
        self.node(expr::ExprKind::ConstExpr(Constant {
            constant_kind: Some(kind),
        }))
    }

    fn call(&mut self, function: &str, args: Vec<Expr>) -> Expr {
        self.node(expr::ExprKind::CallExpr(Box::new(expr::Call {
            target: None,
            function: function.to_owned(),
            args,
        })))
    }

    /// `response.code <op> code`.
    fn code(&mut self, op: &str, code: i64) -> Expr {
        let left = self.response("code");
        let right = self.constant(ConstantKind::Int64Value(code));
        self.call(op, vec![left, right])
    }

    /// `response.code_details == "ext_authz_denied"`: the ext_authz filter
    /// answered, not the upstream.
    fn denied_by_ext_authz(&mut self) -> Expr {
        let left = self.response("code_details");
        let right = self.constant(ConstantKind::StringValue("ext_authz_denied".to_owned()));
        self.call("_==_", vec![left, right])
    }

    fn and(&mut self, left: Expr, right: Expr) -> Expr {
        self.call("_&&_", vec![left, right])
    }
}

/// The auth service refused with 401.
fn refused_with_401() -> Expr {
    let mut cel = Cel::default();
    let denied = cel.denied_by_ext_authz();
    let code = cel.code("_==_", 401);
    cel.and(denied, code)
}

/// The auth service answered neither 200 nor 401 nor 403.
fn refused_otherwise() -> Expr {
    let mut cel = Cel::default();
    let denied = cel.denied_by_ext_authz();
    let not_401 = cel.code("_!=_", 401);
    let not_403 = cel.code("_!=_", 403);
    let both = cel.and(denied, not_401);
    cel.and(both, not_403)
}

/// A named extension configuration.
pub(super) fn extension(name: &str, config: Any) -> TypedExtensionConfig {
    TypedExtensionConfig {
        name: name.to_owned(),
        typed_config: Some(config),
    }
}
