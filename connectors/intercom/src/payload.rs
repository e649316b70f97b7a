//! Intercom's wire types: the contact (`POST /contacts`, `PUT /contacts/{id}`, the search
//! fallback), the data event (`POST /events`) with its metadata inside Intercom's limits, and
//! the `error.list` body.

use cartback_core::{Cart, Consent, ContactInfo, Money};
use serde::{Deserialize, Serialize};

/// Intercom keeps at most this many metadata keys per event.
pub const MAX_METADATA_KEYS: usize = 20;

/// Intercom keeps metadata strings up to this many characters.
pub const MAX_STRING_CHARS: usize = 255;

/// A contact to create (`POST /contacts`) or update (`PUT /contacts/{id}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ContactBody {
    /// `user` or `lead`; sent on create only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// The hub's contact id; sent on create only, for a user (an existing contact keeps the
    /// shop's own `external_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `true` when the hub knows the shopper opted out of email, `false` when they opted in;
    /// left out when it does not know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsubscribed_from_emails: Option<bool>,
}

impl ContactBody {
    /// What a create sends; [`ContactBody::for_update`] drops what an update must not change.
    pub fn create(
        info: &ContactInfo,
        name: Option<String>,
        role: &'static str,
        hub_id: Option<&str>,
    ) -> ContactBody {
        ContactBody {
            role: Some(role),
            external_id: hub_id.filter(|_| role == "user").map(str::to_string),
            email: info.email.clone(),
            phone: info.phone.clone(),
            name,
            unsubscribed_from_emails: match info.email_consent {
                Consent::Unsubscribed => Some(true),
                Consent::Subscribed => Some(false),
                Consent::Unknown | Consent::NotSubscribed => None,
            },
        }
    }

    pub fn for_update(&self) -> ContactBody {
        ContactBody {
            role: None,
            external_id: None,
            ..self.clone()
        }
    }
}

/// A data event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventBody {
    pub event_name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Intercom's contact id (works for users and leads alike).
    pub id: String,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Metadata within Intercom's limits: at most [`MAX_METADATA_KEYS`] keys, strings cut to
/// [`MAX_STRING_CHARS`], links longer than that left out (a cut link would be broken).
#[derive(Debug, Default)]
pub struct Metadata(serde_json::Map<String, serde_json::Value>);

impl Metadata {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn room(&self) -> bool {
        self.0.len() < MAX_METADATA_KEYS
    }

    pub fn text(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            if self.room() {
                self.0.insert(key.into(), cut(v).into());
            }
        }
    }

    pub fn number(&mut self, key: &str, value: i64) {
        if self.room() {
            self.0.insert(key.into(), value.into());
        }
    }

    /// A link (Intercom shows it clickable).
    pub fn link(&mut self, key: &str, url: Option<&str>) {
        if let Some(u) = url.filter(|u| u.chars().count() <= MAX_STRING_CHARS) {
            if self.room() {
                self.0.insert(key.into(), u.into());
            }
        }
    }

    /// A price: `{"amount": minor units, "currency": "eur"}`.
    pub fn price(&mut self, key: &str, m: Money) {
        if self.room() {
            self.0.insert(
                key.into(),
                serde_json::json!({
                    "amount": m.minor,
                    "currency": m.currency.code().to_ascii_lowercase(),
                }),
            );
        }
    }

    /// The cart's items, one key each (`item_1`, ...: a rich link `{"url", "value"}` with the
    /// hub's tracked product link, or the text alone), in the keys left. When they do not all
    /// fit, the last key left is `items_more`: how many were left out. Never an error.
    pub fn items(&mut self, cart: &Cart) {
        let left = MAX_METADATA_KEYS.saturating_sub(self.0.len());
        let n = cart.items.len();
        let shown = if n <= left { n } else { left.saturating_sub(1) };
        for (i, item) in cart.items.iter().take(shown).enumerate() {
            let mut value = format!("{} × {}", item.quantity, item.title);
            if let Some(v) = item.variant_title.as_deref().filter(|v| !v.is_empty()) {
                value.push_str(&format!(" ({v})"));
            }
            let value = cut(&value);
            let entry = match item
                .url
                .as_deref()
                .filter(|u| u.chars().count() <= MAX_STRING_CHARS)
            {
                Some(url) => serde_json::json!({"url": url, "value": value}),
                None => value.into(),
            };
            self.0.insert(format!("item_{}", i + 1), entry);
        }
        if shown < n && self.room() {
            self.0
                .insert("items_more".into(), ((n - shown) as i64).into());
        }
    }

    pub fn into_map(self) -> serde_json::Map<String, serde_json::Value> {
        self.0
    }
}

/// `s` cut to [`MAX_STRING_CHARS`] characters, the last one `…` when cut.
pub fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_STRING_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_STRING_CHARS - 1).collect();
    out.push('…');
    out
}

/// A contact as Intercom answers (create, update): its id.
#[derive(Debug, Clone, Deserialize)]
pub struct ContactAnswer {
    pub id: String,
}

/// `POST /contacts/search`'s answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchAnswer {
    #[serde(default)]
    pub data: Vec<ContactAnswer>,
}

/// Intercom's `{"type": "error.list", "request_id", "errors": [{"code", "message"}]}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorList {
    #[serde(default)]
    pub errors: Vec<ErrorEntry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorEntry {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Some errors name the offending field.
    #[serde(default)]
    pub field: Option<String>,
}

impl ErrorList {
    /// `"parameter_invalid: email: Email is invalid"`-style text, one per error.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|e| {
                [&e.code, &e.field, &e.message]
                    .iter()
                    .filter_map(|p| p.as_deref())
                    .filter(|p| !p.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(": ")
            })
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// The id a `409 conflict` names: `"A contact matching those details already exists with
    /// id=5f1e..."`.
    pub fn conflicting_id(&self) -> Option<String> {
        self.errors.iter().find_map(|e| {
            let m = e.message.as_deref()?;
            let rest = &m[m.find("id=")? + 3..];
            let id: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            (!id.is_empty()).then_some(id)
        })
    }
}
