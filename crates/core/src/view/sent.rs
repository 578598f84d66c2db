//! What the window's page already has. The resident sends the whole window view with every
//! change; with 2,000 batches that is megabytes for one batch's new answer. The window process
//! passes each card on in full only when it differs from the one it last passed on, and as
//! `{"id": "batch_1", "unchanged": true}` otherwise, so the page parses and redraws what
//! changed (its work per update does not grow with the number of cards).
//!
//! The page keeps the cards it was given; one it does not have (it was reloaded, or a view
//! arrived before its first `get_state`) makes it ask for the whole view again, and
//! [`SentCards::forget`] makes the next view whole.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use serde::Deserialize;
use serde_json::value::RawValue;

/// The cards last passed on to the page, by batch ID: a hash of each card's JSON text.
#[derive(Debug, Default)]
pub struct SentCards {
    last: HashMap<String, u64>,
}

#[derive(Deserialize)]
struct CardId {
    id: String,
}

fn hash(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

impl SentCards {
    /// The next view is passed on whole (the page asked for everything again).
    pub fn forget(&mut self) {
        self.last.clear();
    }

    /// `view` as the page is to get it: each card it already has, unchanged, as a marker.
    /// A view without cards (or not an object) is passed on as it is.
    pub fn thin(&mut self, view: &RawValue) -> String {
        let Ok(top) = serde_json::from_str::<BTreeMap<String, &RawValue>>(view.get()) else {
            return view.get().to_owned();
        };
        let Some(cards) = top
            .get("cards")
            .and_then(|raw| serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok())
        else {
            return view.get().to_owned();
        };
        let mut now = HashMap::with_capacity(cards.len());
        let mut out = String::with_capacity(view.get().len().min(1 << 16));
        out.push('{');
        for (i, (key, value)) in top.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(key).unwrap_or_default());
            out.push(':');
            if key != "cards" {
                out.push_str(value.get());
                continue;
            }
            out.push('[');
            for (j, card) in cards.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                let Ok(CardId { id }) = serde_json::from_str::<CardId>(card.get()) else {
                    out.push_str(card.get());
                    continue;
                };
                let digest = hash(card.get());
                if self.last.get(&id) == Some(&digest) {
                    out.push_str(r#"{"id":"#);
                    out.push_str(&serde_json::to_string(&id).unwrap_or_default());
                    out.push_str(r#","unchanged":true}"#);
                } else {
                    out.push_str(card.get());
                }
                now.insert(id, digest);
            }
            out.push(']');
        }
        out.push('}');
        self.last = now;
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn view(cards: Value) -> Box<RawValue> {
        RawValue::from_string(
            json!({"banner": null, "cards": cards, "tray": {"label": "x"}}).to_string(),
        )
        .unwrap()
    }

    fn thin(sent: &mut SentCards, cards: Value) -> Value {
        serde_json::from_str(&sent.thin(&view(cards))).unwrap()
    }

    #[test]
    fn a_card_goes_whole_once_and_then_as_a_marker_until_it_changes() {
        let mut sent = SentCards::default();
        let a = json!({"id": "batch_a", "percent": 10});
        let b = json!({"id": "batch_b", "percent": 20});
        let first = thin(&mut sent, json!([a, b]));
        assert_eq!(first["cards"], json!([a, b]), "the first view is whole");
        assert_eq!(first["tray"], json!({"label": "x"}), "the rest as it was");

        let b2 = json!({"id": "batch_b", "percent": 21});
        let second = thin(&mut sent, json!([a, b2]));
        assert_eq!(
            second["cards"],
            json!([{"id": "batch_a", "unchanged": true}, b2]),
            "only what changed is whole, in the same order"
        );

        // A card removed and added again is whole again.
        thin(&mut sent, json!([b2]));
        let back = thin(&mut sent, json!([a, b2]));
        assert_eq!(
            back["cards"],
            json!([a, {"id": "batch_b", "unchanged": true}])
        );
    }

    #[test]
    fn after_forget_every_card_is_whole_again() {
        let mut sent = SentCards::default();
        let a = json!({"id": "batch_a", "percent": 10});
        thin(&mut sent, json!([a]));
        sent.forget();
        assert_eq!(thin(&mut sent, json!([a]))["cards"], json!([a]));
    }

    #[test]
    fn a_view_it_cannot_read_is_passed_on_as_it_is() {
        let mut sent = SentCards::default();
        for text in [r#"{"cards": 3}"#, r#"[1, 2]"#, r#"{"other": true}"#] {
            let raw = RawValue::from_string(text.to_owned()).unwrap();
            assert_eq!(sent.thin(&raw), text);
        }
    }
}
