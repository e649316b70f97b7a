//! Signed link tokens: `base64url(payload) . base64url(HMAC-SHA256(key, payload)[..16])`.
//!
//! A token names what a link does (`kind`), the message it belongs to and a link index. It carries
//! no URL: the redirect target is looked up in what the hub stored for that message, so a forged
//! or altered token can never redirect anywhere.

use crate::signature::{constant_time_eq, hmac_sha256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// What a tracked link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// `/t/`: a product or other link: record a click, redirect to the stored URL.
    Click,
    /// `/r/`: the cart recovery link: record a click, redirect to the platform's recovery URL.
    Recover,
    /// `/o/`: the open pixel.
    Open,
    /// `/u/`: unsubscribe.
    Unsubscribe,
    /// An on-site visitor: `message_id` holds the contact id.
    Visitor,
    /// An admin-issued on-site preview: `message_id` holds the cart id.
    Preview,
    /// `/s/`: the message's one-question survey ("why they left").
    Survey,
}

impl LinkKind {
    fn tag(&self) -> char {
        match self {
            LinkKind::Click => 't',
            LinkKind::Recover => 'r',
            LinkKind::Open => 'o',
            LinkKind::Unsubscribe => 'u',
            LinkKind::Visitor => 'v',
            LinkKind::Preview => 'p',
            LinkKind::Survey => 's',
        }
    }

    fn from_tag(c: char) -> Option<LinkKind> {
        Some(match c {
            't' => LinkKind::Click,
            'r' => LinkKind::Recover,
            'o' => LinkKind::Open,
            'u' => LinkKind::Unsubscribe,
            'v' => LinkKind::Visitor,
            'p' => LinkKind::Preview,
            's' => LinkKind::Survey,
            _ => return None,
        })
    }

    /// The path segment the token is served under.
    pub fn path(&self) -> &'static str {
        match self {
            LinkKind::Click => "t",
            LinkKind::Recover => "r",
            LinkKind::Open => "o",
            LinkKind::Unsubscribe => "u",
            LinkKind::Visitor => "v",
            LinkKind::Preview => "p",
            LinkKind::Survey => "s",
        }
    }
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkToken {
    pub kind: LinkKind,
    pub message_id: String,
    pub index: u32,
}

/// Signs and verifies link tokens with one server key.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(***)")
    }
}

impl LinkSigner {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        LinkSigner { key: key.into() }
    }

    pub fn sign(&self, t: &LinkToken) -> String {
        let payload = format!("{}{}:{}", t.kind.tag(), t.index, t.message_id);
        let mac = hmac_sha256(&self.key, &[payload.as_bytes()]);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(&mac[..16])
        )
    }

    /// `None` for anything not signed by this key (or malformed).
    pub fn verify(&self, token: &str) -> Option<LinkToken> {
        if token.len() > 512 {
            return None;
        }
        let (p, m) = token.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(p).ok()?;
        let mac = URL_SAFE_NO_PAD.decode(m).ok()?;
        let expected = hmac_sha256(&self.key, &[&payload]);
        if !constant_time_eq(&expected[..16], &mac) {
            return None;
        }
        let text = String::from_utf8(payload).ok()?;
        let mut chars = text.chars();
        let kind = LinkKind::from_tag(chars.next()?)?;
        let (index, message_id) = chars.as_str().split_once(':')?;
        Some(LinkToken {
            kind,
            message_id: message_id.to_string(),
            index: index.parse().ok()?,
        })
    }

    /// `{base}/{kind path}/{token}`.
    pub fn url(&self, base: &str, t: &LinkToken) -> String {
        format!(
            "{}/{}/{}",
            base.trim_end_matches('/'),
            t.kind.path(),
            self.sign(t)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forgery() {
        let s = LinkSigner::new(b"k".to_vec());
        let t = LinkToken {
            kind: LinkKind::Click,
            message_id: "0193-abc".into(),
            index: 3,
        };
        let tok = s.sign(&t);
        assert_eq!(s.verify(&tok), Some(t.clone()));
        assert!(tok
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'));
        // Another key, an altered payload, an altered MAC, garbage: nothing.
        assert_eq!(LinkSigner::new(b"other".to_vec()).verify(&tok), None);
        let (p, m) = tok.split_once('.').unwrap();
        let forged = LinkToken { index: 4, ..t };
        let forged_payload = s.sign(&forged);
        let (fp, _) = forged_payload.split_once('.').unwrap();
        assert_eq!(s.verify(&format!("{fp}.{m}")), None);
        assert_eq!(s.verify(&format!("{p}.{}", &m[..m.len() - 1])), None);
        assert_eq!(s.verify("nope"), None);
        assert_eq!(s.verify(&"a.".repeat(400)), None);
        assert_eq!(
            s.url(
                "https://hub/",
                &LinkToken {
                    kind: LinkKind::Open,
                    message_id: "m".into(),
                    index: 0
                }
            )[..14]
                .to_string(),
            "https://hub/o/"
        );
    }
}
