//! `labelSelector` and `fieldSelector`, with the real server's grammar: equality
//! (`k=v`, `k==v`, `k!=v`), set-based (`k in (a,b)`, `k notin (a,b)`) and existence
//! (`k`, `!k`) for labels; `=`, `==`, `!=` on the supported field labels only (others
//! are a 400, so a client relying on an unsupported field selector fails here too).

use serde_json::Value;

use super::kinds::ResourceKind;
use super::status::ApiError;

/// Both selectors of one list or watch request; empty matches everything.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    labels: Vec<LabelReq>,
    fields: Vec<FieldReq>,
}

#[derive(Debug, Clone)]
enum LabelReq {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Debug, Clone)]
struct FieldReq {
    path: String,
    value: String,
    negated: bool,
}

impl Selector {
    pub fn parse(
        kind: &ResourceKind,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Result<Self, ApiError> {
        let labels = split_top_level(labels.unwrap_or_default())
            .into_iter()
            .map(parse_label_req)
            .collect::<Result<_, _>>()?;
        let fields = fields
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|req| parse_field_req(kind, req))
            .collect::<Result<_, _>>()?;
        Ok(Self { labels, fields })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let label = |k: &str| labels[k].as_str();
        let labels_ok = self.labels.iter().all(|req| match req {
            LabelReq::Equals(k, v) => label(k) == Some(v.as_str()),
            LabelReq::NotEquals(k, v) => label(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::Exists(k) => label(k).is_some(),
            LabelReq::NotExists(k) => label(k).is_none(),
        });
        labels_ok
            && self.fields.iter().all(|req| {
                let actual = req
                    .path
                    .split('.')
                    .fold(obj, |v, segment| &v[segment])
                    .as_str()
                    .unwrap_or_default();
                (actual == req.value) != req.negated
            })
    }
}

/// Splits at commas that are not inside `( )`, dropping empty parts.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_label_req(req: &str) -> Result<LabelReq, ApiError> {
    let bad = || ApiError::bad_request(format!("unable to parse requirement: {req:?}"));
    let key = |k: &str| {
        let k = k.trim();
        let ok = !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        ok.then(|| k.to_string()).ok_or_else(bad)
    };
    if let Some(open) = req.find('(') {
        let close = req.rfind(')').filter(|&c| c > open).ok_or_else(bad)?;
        let values = req[open + 1..close]
            .split(',')
            .map(|v| v.trim().to_string())
            .collect();
        let mut head = req[..open].split_whitespace();
        let (k, op) = (head.next().ok_or_else(bad)?, head.next().ok_or_else(bad)?);
        return match op {
            "in" => Ok(LabelReq::In(key(k)?, values)),
            "notin" => Ok(LabelReq::NotIn(key(k)?, values)),
            _ => Err(bad()),
        };
    }
    if let Some(k) = req.strip_prefix('!') {
        return Ok(LabelReq::NotExists(key(k)?));
    }
    if let Some((k, v)) = req.split_once("!=") {
        return Ok(LabelReq::NotEquals(key(k)?, v.trim().to_string()));
    }
    if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
        return Ok(LabelReq::Equals(key(k)?, v.trim().to_string()));
    }
    Ok(LabelReq::Exists(key(req)?))
}

fn parse_field_req(kind: &ResourceKind, req: &str) -> Result<FieldReq, ApiError> {
    let (path, value, negated) = if let Some((p, v)) = req.split_once("!=") {
        (p, v, true)
    } else if let Some((p, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
        (p, v, false)
    } else {
        return Err(ApiError::bad_request(format!(
            "invalid selector: '{req}'; can't understand '{req}'"
        )));
    };
    let path = path.trim();
    let supported = ["metadata.name", "metadata.namespace"].contains(&path)
        || kind.extra_field_labels.contains(&path);
    if !supported {
        return Err(ApiError::bad_request(format!(
            "field label not supported: {path}"
        )));
    }
    Ok(FieldReq {
        path: path.to_string(),
        value: value.trim().to_string(),
        negated,
    })
}
