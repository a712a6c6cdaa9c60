//! Applying an Ingress's annotations ([`annotations::IngressAnnotations`]) to
//! its paths: the path's rule (regex under `use-regex`), its action (a
//! redirect, or 503 when the annotations fail closed), its policy (the
//! Ingress's policy plus the path's rewrite and HTTPS redirect), and the extra
//! claims some annotations add (`app-root`, `from-to-www-redirect`).

use super::annotations::{self, IngressAnnotations};
use crate::translate::model::{
    Action, Host, Outcome, PathClaim, PathMatch, PathRule, PathType, Redirect, RedirectCode,
    RuleClaim, Served,
};

/// `outcome` of `path` (on `host`) with the annotations applied. `tls` says
/// whether the Ingress has TLS for the host.
pub(super) fn outcome(
    outcome: Outcome,
    path: &PathRule,
    tls: bool,
    a: &IngressAnnotations,
) -> Outcome {
    let Outcome::Serve(mut served) = outcome else {
        return outcome;
    };
    if let Some(refusal) = &a.refusal {
        served.action = Action::Unavailable;
        served.problem.get_or_insert_with(|| refusal.clone());
        return Outcome::Serve(served);
    }
    if let Some(redirect) = &a.redirect.redirect {
        served.action = Action::Redirect(Box::new(redirect.clone()));
        served.problem = None;
    }
    let mut policy = a.policy.clone();
    if let (Some(errors), Action::Forward(forward)) = (&mut policy.custom_errors, &served.action) {
        if let Some(first) = forward.backends.first() {
            let target = &first.cluster;
            errors.service.clone_from(&target.service.name);
            errors.service_port = target
                .name
                .rsplit_once(':')
                .map(|(_, port)| port.to_owned())
                .unwrap_or_default();
        }
    }
    policy.rewrite = a
        .paths
        .rewrite_target
        .as_deref()
        .map(|target| Box::new(annotations::paths::rewrite(path, target)));
    if a.redirect.force_ssl_redirect || (a.redirect.ssl_redirect && tls) {
        policy.https_redirect = Some(annotations::redirect::SSL_REDIRECT_CODE);
    }
    if let Some(cookie) = policy.session_cookie.as_deref_mut() {
        // ingress-nginx's default cookie path is the matched location's.
        if cookie.path.is_none() {
            cookie.path = match &path.matcher {
                PathMatch::Exact(p) | PathMatch::Prefix(p) => Some(p.clone()),
                PathMatch::Regex(_) => None,
            };
        }
    }
    served.policy = policy;
    Outcome::Serve(served)
}

/// The `app-root` claim of a rule: Exact `/` answering 302 to the root.
pub(super) fn app_root(a: &IngressAnnotations) -> Option<PathClaim> {
    let root = a.paths.app_root.as_ref()?;
    let mut policy = a.policy.clone();
    if a.redirect.force_ssl_redirect {
        policy.https_redirect = Some(annotations::redirect::SSL_REDIRECT_CODE);
    }
    Some(PathClaim {
        path: PathRule {
            path_type: PathType::Exact,
            matcher: PathMatch::Exact("/".to_owned()),
        },
        outcome: Outcome::Serve(Served {
            action: Action::Redirect(Box::new(Redirect {
                scheme: None,
                host: None,
                port: None,
                path: Some(root.clone()),
                strip_query: false,
                code: RedirectCode::Found,
            })),
            policy,
            problem: None,
        }),
    })
}

/// The `from-to-www-redirect` twin of `rule`: the other spelling of its host,
/// every request redirected (308) to the same path on the rule's host.
pub(super) fn www_twin(rule: &RuleClaim, a: &IngressAnnotations) -> Option<RuleClaim> {
    if !a.redirect.from_to_www {
        return None;
    }
    let host = rule.host.as_ref()?;
    let twin = Host::parse(&annotations::redirect::www_twin(host.as_str())?).ok()?;
    Some(RuleClaim {
        host: Some(twin),
        paths: vec![PathClaim {
            path: PathRule {
                path_type: PathType::Prefix,
                matcher: PathMatch::Prefix("/".to_owned()),
            },
            outcome: Outcome::Serve(Served {
                action: Action::Redirect(Box::new(Redirect {
                    scheme: None,
                    host: Some(host.as_str().to_owned()),
                    port: None,
                    path: None,
                    strip_query: false,
                    code: RedirectCode::PermanentRedirect,
                })),
                policy: Default::default(),
                problem: None,
            }),
        }],
    })
}
