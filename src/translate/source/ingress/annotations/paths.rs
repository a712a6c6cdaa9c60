//! Paths: `use-regex`, `rewrite-target`, `app-root`, `x-forwarded-prefix`.
//!
//! ingress-nginx turns a path into a case-insensitive regex location anchored at
//! the start (`location ~* "^<path>"`) when `use-regex` is true or
//! `rewrite-target` is set, and `rewrite-target` replaces the whole path with
//! the target (`rewrite (?i)<path> <target> break`), `$n` naming the path's
//! capture groups. Here the route then matches the RE2 regex
//! `(?i)(?:<path>).*` over the whole path (Exact paths stay exact), and the
//! rewrite is Envoy's `regex_rewrite` with that same regex and the target,
//! `$n` spelled `\n`; the query string is kept, as nginx keeps it.
//!
//! `app-root` adds an Exact `/` route answering 302 to the root; ingress-nginx
//! does the same (`location = /` → `return 302`). `x-forwarded-prefix` sends
//! the header upstream.

use super::reader::Reader;
use super::values::boolean;
use crate::translate::model::{PathMatch, PathRule, PathType, Rewrite};
use crate::translate::regex;
use crate::translate::source::ingress::path::PathError;

/// What the path annotations ask of every path of the Ingress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathOptions {
    /// Paths (other than Exact) are nginx regexes.
    pub regex: bool,
    /// The rewrite target, in nginx syntax (`$1`).
    pub rewrite_target: Option<String>,
    /// Requests for `/` are redirected here.
    pub app_root: Option<String>,
    /// `X-Forwarded-Prefix` sent upstream.
    pub forwarded_prefix: Option<String>,
}

/// Why an `app-root` is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an absolute path without spaces")]
pub struct NotAPath(String);

/// Reads the path annotations.
pub fn read(r: &mut Reader<'_>) -> PathOptions {
    let use_regex = r.parse("use-regex", boolean).unwrap_or(false);
    r.approximated(
        "use-regex",
        "the path becomes the RE2 regex (?i)(?:<path>).* over the whole path; \
         only this Ingress's paths, not every Ingress of the host as in ingress-nginx",
    );
    let rewrite_target = r
        .get("rewrite-target")
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    r.honoured("rewrite-target");
    let app_root = r.parse("app-root", |v| {
        if v.starts_with('/') && !v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Ok(v.to_owned())
        } else {
            Err(NotAPath(v.to_owned()))
        }
    });
    r.honoured("app-root");
    let forwarded_prefix = r
        .get("x-forwarded-prefix")
        .filter(|p| !p.is_empty())
        .map(str::to_owned);
    r.honoured("x-forwarded-prefix");
    PathOptions {
        regex: use_regex || rewrite_target.is_some(),
        rewrite_target,
        app_root,
        forwarded_prefix,
    }
}

/// The nginx regex of a written path, as an RE2 pattern over the whole path.
pub fn nginx_regex(written: &str) -> String {
    format!("(?i)(?:{written}).*")
}

/// The rule of a path written under `use-regex` (or `rewrite-target`) with
/// type `path_type`; Exact paths are not regexes and return `None`.
pub fn regex_rule(
    written: Option<&str>,
    path_type: Option<PathType>,
) -> Option<Result<PathRule, PathError>> {
    let path_type = path_type.unwrap_or(PathType::Prefix);
    if path_type == PathType::Exact {
        return None;
    }
    let path = written.filter(|p| !p.is_empty()).unwrap_or("/");
    if !path.starts_with('/') {
        return Some(Err(PathError::NotAbsolute(path.to_owned())));
    }
    let pattern = nginx_regex(path);
    Some(match regex::validate(&pattern) {
        Ok(()) => Ok(PathRule {
            path_type,
            matcher: PathMatch::Regex(pattern),
        }),
        Err(error) => Err(PathError::Regex {
            path: path.to_owned(),
            error,
        }),
    })
}

/// The rewrite of `target` for a route matching `path`. An Exact path is
/// rewritten as a whole; a regex path through its groups.
pub fn rewrite(path: &PathRule, target: &str) -> Rewrite {
    let pattern = match &path.matcher {
        PathMatch::Regex(pattern) => pattern.clone(),
        PathMatch::Exact(p) | PathMatch::Prefix(p) => format!("^{}.*", regex_quote(p)),
    };
    Rewrite {
        pattern,
        substitution: substitution(target),
    }
}

/// nginx's `$1` group references as RE2 substitution's `\1`; a literal `\`
/// doubled.
fn substitution(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    let mut chars = target.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => out.push('\\'),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out
}

fn regex_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_targets_use_re2_group_syntax() {
        let rule = regex_rule(
            Some("/something(/|$)(.*)"),
            Some(PathType::ImplementationSpecific),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            rule.matcher,
            PathMatch::Regex("(?i)(?:/something(/|$)(.*)).*".into())
        );
        let rw = rewrite(&rule, "/$2");
        assert_eq!(rw.pattern, "(?i)(?:/something(/|$)(.*)).*");
        assert_eq!(rw.substitution, "/\\2");
        assert_eq!(substitution("/a$b\\c$10"), "/a$b\\\\c\\10");
    }

    #[test]
    fn exact_paths_stay_exact_and_bad_regexes_are_refused() {
        assert!(regex_rule(Some("/x"), Some(PathType::Exact)).is_none());
        assert!(regex_rule(Some("/(a"), Some(PathType::Prefix))
            .unwrap()
            .is_err());
        assert!(regex_rule(Some("x"), None).unwrap().is_err());
        let exact = PathRule {
            path_type: PathType::Exact,
            matcher: PathMatch::Exact("/a.b".into()),
        };
        assert_eq!(rewrite(&exact, "/").pattern, "^/a\\.b.*");
    }
}
