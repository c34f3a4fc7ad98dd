//! Label matchers (`=`, `!=`, `=~`, `!~`) as Alertmanager writes them; regexes are anchored at
//! both ends and compiled with a size limit.

use super::{AlertError, Labels, MAX_VALUE_LEN};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// How a matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`, a regex anchored at both ends
    Re,
    /// `!~`
    NotRe,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::NotRe => "!~",
        }
    }
}

/// `name op "value"`; read and written as that text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    re: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Matcher) -> bool {
        (&self.name, self.op, &self.value) == (&o.name, o.op, &o.value)
    }
}

pub(super) fn label_name_ok(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

impl Matcher {
    /// A matcher; a regex is compiled anchored (`^(?:value)$`) with a size limit.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Matcher, AlertError> {
        if !label_name_ok(name) || value.len() > MAX_VALUE_LEN {
            return Err(AlertError::BadMatcher(format!("{name}{}{value}", op.as_str()).chars().take(200).collect()));
        }
        let re = match op {
            MatchOp::Re | MatchOp::NotRe => Some(
                RegexBuilder::new(&format!("^(?:{value})$"))
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| AlertError::BadRegex { value: value.into(), reason: e.to_string() })?,
            ),
            _ => None,
        };
        Ok(Matcher { name: name.into(), op, value: value.into(), re })
    }

    /// Reads `name=value`, `name!="value"`, `name=~"re"`, `name!~re`.
    pub fn parse(text: &str) -> Result<Matcher, AlertError> {
        let bad = || AlertError::BadMatcher(text.chars().take(200).collect());
        let at = text.find(['=', '!']).ok_or_else(bad)?;
        let (name, rest) = (text[..at].trim(), &text[at..]);
        let (op, value) = [("=~", MatchOp::Re), ("!~", MatchOp::NotRe), ("!=", MatchOp::Ne), ("=", MatchOp::Eq)]
            .iter()
            .find_map(|(s, op)| rest.strip_prefix(s).map(|v| (*op, v.trim())))
            .ok_or_else(bad)?;
        let value = match value.strip_prefix('"') {
            Some(q) => q.strip_suffix('"').ok_or_else(bad)?.replace("\\\"", "\""),
            None => value.to_string(),
        };
        Matcher::new(name, op, &value)
    }

    /// Whether `labels` match (a missing label is the empty value).
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        match (self.op, &self.re) {
            (MatchOp::Eq, _) => v == self.value,
            (MatchOp::Ne, _) => v != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(v),
            (MatchOp::NotRe, Some(re)) => !re.is_match(v),
            _ => false,
        }
    }
}

impl TryFrom<String> for Matcher {
    type Error = AlertError;
    fn try_from(s: String) -> Result<Matcher, AlertError> {
        Matcher::parse(&s)
    }
}

impl From<Matcher> for String {
    fn from(m: Matcher) -> String {
        format!("{}{}\"{}\"", m.name, m.op.as_str(), m.value.replace('"', "\\\""))
    }
}
