//! Batch identifiers: the validated [`BatchId`] newtype and the parser for what a user pastes.
//!
//! A batch ID ends up as a URL path segment, so it is validated once, here, against
//! `[A-Za-z0-9_-]{1,128}`; nothing else in Batchwatch builds a request from an unchecked string.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest batch ID accepted. Trillet's IDs are far shorter; the cap keeps junk out of URLs.
pub const MAX_BATCH_ID_LEN: usize = 128;

/// A Trillet batch ID known to be safe as a URL path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BatchId(String);

/// Why a string is not a batch ID, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBatchId {
    #[error("is empty")]
    Empty,
    #[error("is {0} characters long; a batch ID has at most {MAX_BATCH_ID_LEN}")]
    TooLong(usize),
    #[error("contains {0:?}; a batch ID has only letters, digits, '_' and '-'")]
    BadCharacter(char),
}

impl BatchId {
    pub fn parse(text: &str) -> Result<Self, InvalidBatchId> {
        if text.is_empty() {
            return Err(InvalidBatchId::Empty);
        }
        let len = text.chars().count();
        if len > MAX_BATCH_ID_LEN {
            return Err(InvalidBatchId::TooLong(len));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(InvalidBatchId::BadCharacter(bad));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for BatchId {
    type Error = InvalidBatchId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<BatchId> for String {
    fn from(id: BatchId) -> Self {
        id.0
    }
}

impl std::str::FromStr for BatchId {
    type Err = InvalidBatchId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A pasted token that was not accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedToken {
    pub token: String,
    pub reason: String,
}

/// The outcome of [`parse_pasted`]: IDs in the order given (duplicates removed) and rejections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PastedIds {
    pub accepted: Vec<BatchId>,
    pub rejected: Vec<RejectedToken>,
}

/// The longest paste read at once: 1,000 links of 60 characters fit with room to spare.
pub const MAX_PASTE_BYTES: usize = 64 * 1024;
/// The most IDs (or refused tokens) read from one paste.
pub const MAX_PASTE_IDS: usize = 1000;

/// A paste refused whole: nothing in it is added, so nothing is dropped without a word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasteTooLarge {
    #[error("That paste is {} KiB; Batchwatch reads at most {} KiB at a time. Nothing was added: paste it in parts.", .0.div_ceil(1024), MAX_PASTE_BYTES / 1024)]
    Bytes(usize),
    #[error("That paste holds more than {MAX_PASTE_IDS} IDs; Batchwatch reads at most {MAX_PASTE_IDS} at a time. Nothing was added: paste it in parts.")]
    Ids,
}

/// Reads whatever a user pasted into the "add batches" box.
///
/// Tokens are separated by whitespace, commas or semicolons; each may be wrapped in quotes or
/// brackets, and may be a dashboard or API URL whose path ends in `/batch-calls/<id>` or
/// `/batch-calls/<id>/status` (any query or fragment is ignored). A paste over
/// [`MAX_PASTE_BYTES`] or with more than [`MAX_PASTE_IDS`] tokens is refused whole.
pub fn parse_pasted(input: &str) -> Result<PastedIds, PasteTooLarge> {
    if input.len() > MAX_PASTE_BYTES {
        return Err(PasteTooLarge::Bytes(input.len()));
    }
    let mut out = PastedIds::default();
    let mut seen = HashSet::new();
    for raw in input.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
        let token = raw.trim_matches(|c: char| {
            matches!(
                c,
                '"' | '\'' | '`' | '“' | '”' | '‘' | '’' | '<' | '>' | '(' | ')' | '[' | ']'
            )
        });
        if token.is_empty() {
            continue;
        }
        if out.accepted.len() + out.rejected.len() == MAX_PASTE_IDS {
            return Err(PasteTooLarge::Ids);
        }
        match id_from_token(token) {
            Ok(id) => {
                if seen.insert(id.clone()) {
                    out.accepted.push(id);
                }
            }
            Err(reason) => out.rejected.push(RejectedToken {
                token: token.to_owned(),
                reason,
            }),
        }
    }
    Ok(out)
}

fn id_from_token(token: &str) -> Result<BatchId, String> {
    if token.contains("://") || token.contains('/') {
        return id_from_url(token);
    }
    BatchId::parse(token).map_err(|e| format!("not a batch ID: it {e}"))
}

fn id_from_url(token: &str) -> Result<BatchId, String> {
    let without_suffix = token.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = without_suffix
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let Some(pos) = segments.iter().rposition(|s| *s == "batch-calls") else {
        return Err("not a batch ID, nor a link ending in /batch-calls/<id>".to_owned());
    };
    let rest = &segments[pos + 1..];
    let candidate = match rest {
        [id] | [id, "status"] => *id,
        _ => {
            return Err(
                "a link must end in /batch-calls/<id> or /batch-calls/<id>/status".to_owned(),
            )
        }
    };
    BatchId::parse(candidate).map_err(|e| format!("the batch ID in this link {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(p: &PastedIds) -> Vec<&str> {
        p.accepted.iter().map(BatchId::as_str).collect()
    }

    #[test]
    fn batch_id_validation_table() {
        let long = "a".repeat(129);
        let max = "a".repeat(128);
        let cases: &[(&str, Result<(), InvalidBatchId>)] = &[
            ("batch_7891011121314", Ok(())),
            ("A-z_09", Ok(())),
            (&max, Ok(())),
            ("", Err(InvalidBatchId::Empty)),
            (&long, Err(InvalidBatchId::TooLong(129))),
            ("../x", Err(InvalidBatchId::BadCharacter('.'))),
            ("a/b", Err(InvalidBatchId::BadCharacter('/'))),
            ("a%2Fb", Err(InvalidBatchId::BadCharacter('%'))),
            ("a b", Err(InvalidBatchId::BadCharacter(' '))),
            ("bätch", Err(InvalidBatchId::BadCharacter('ä'))),
        ];
        for (input, expected) in cases {
            assert_eq!(
                &BatchId::parse(input).map(|_| ()),
                expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn paste_parser_table() {
        let long = "b".repeat(129);
        // (input, accepted IDs, rejected (token, part of the reason))
        type Case<'a> = (String, Vec<&'a str>, Vec<(&'a str, &'a str)>);
        let cases: Vec<Case> = vec![
            ("batch_1".into(), vec!["batch_1"], vec![]),
            (
                "batch_1, batch_2\nbatch_3;batch_4\tbatch_5".into(),
                vec!["batch_1", "batch_2", "batch_3", "batch_4", "batch_5"],
                vec![],
            ),
            (
                "\"batch_1\" 'batch_2' `batch_3`".into(),
                vec!["batch_1", "batch_2", "batch_3"],
                vec![],
            ),
            (
                "batch_1 batch_1 BATCH_1".into(),
                vec!["batch_1", "BATCH_1"],
                vec![],
            ),
            (
                "https://api.trillet.ai/v1/api/batch-calls/batch_42/status".into(),
                vec!["batch_42"],
                vec![],
            ),
            (
                "https://app.trillet.ai/batch-calls/batch_43?tab=calls#top".into(),
                vec!["batch_43"],
                vec![],
            ),
            (
                "/v1/api/batch-calls/batch_44/".into(),
                vec!["batch_44"],
                vec![],
            ),
            ("".into(), vec![], vec![]),
            (" ,, \n ".into(), vec![], vec![]),
            (
                "../x".into(),
                vec![],
                vec![("../x", "nor a link ending in /batch-calls/<id>")],
            ),
            (
                "batch_1 junk! batch_2".into(),
                vec!["batch_1", "batch_2"],
                vec![("junk!", "contains '!'")],
            ),
            (
                long.clone(),
                vec![],
                vec![(long.as_str(), "129 characters")],
            ),
            (
                "https://example.com/foo".into(),
                vec![],
                vec![("https://example.com/foo", "/batch-calls/<id>")],
            ),
            (
                "https://api.trillet.ai/v1/api/batch-calls/batch_1/calls".into(),
                vec![],
                vec![(
                    "https://api.trillet.ai/v1/api/batch-calls/batch_1/calls",
                    "must end in",
                )],
            ),
            (
                "https://api.trillet.ai/v1/api/batch-calls/..%2Fetc/status".into(),
                vec![],
                vec![(
                    "https://api.trillet.ai/v1/api/batch-calls/..%2Fetc/status",
                    "contains '.'",
                )],
            ),
        ];
        for (input, accepted, rejected) in cases {
            let parsed = parse_pasted(&input).unwrap();
            assert_eq!(ids(&parsed), accepted, "accepted for {input:?}");
            assert_eq!(
                parsed.rejected.len(),
                rejected.len(),
                "rejected for {input:?}: {parsed:?}"
            );
            for (got, (token, reason_part)) in parsed.rejected.iter().zip(&rejected) {
                assert_eq!(got.token, *token);
                assert!(
                    got.reason.contains(reason_part),
                    "reason {:?} lacks {reason_part:?}",
                    got.reason
                );
            }
        }
    }

    #[test]
    fn batch_id_round_trips_through_json_and_rejects_bad_ids() {
        let id: BatchId = serde_json::from_str("\"batch_1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"batch_1\"");
        assert!(serde_json::from_str::<BatchId>("\"../x\"").is_err());
    }

    #[test]
    fn a_paste_too_large_is_refused_whole_with_a_sentence() {
        let ok = "b ".repeat(MAX_PASTE_BYTES / 2);
        assert_eq!(ids(&parse_pasted(&ok).unwrap()), vec!["b"]);
        let big = "b".repeat(MAX_PASTE_BYTES + 1);
        let e = parse_pasted(&big).unwrap_err();
        assert_eq!(e, PasteTooLarge::Bytes(MAX_PASTE_BYTES + 1));
        assert_eq!(e.to_string(), "That paste is 65 KiB; Batchwatch reads at most 64 KiB at a time. Nothing was added: paste it in parts.");

        let many = |n: usize| {
            (0..n)
                .map(|i| format!("b{i}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(
            parse_pasted(&many(MAX_PASTE_IDS)).unwrap().accepted.len(),
            MAX_PASTE_IDS
        );
        assert_eq!(
            parse_pasted(&many(MAX_PASTE_IDS + 1)),
            Err(PasteTooLarge::Ids)
        );
        // Refused tokens count too: a paste of 1,001 words is not quietly half-read.
        let words = "x/y ".repeat(MAX_PASTE_IDS + 1);
        assert_eq!(parse_pasted(&words), Err(PasteTooLarge::Ids));
    }
}
