//! Segment's two ways in, checked before anything is parsed (except a body `writeKey`, which is
//! the credential itself in API mode).
//!
//! - **API mode** (the request path is one of [`API_PATHS`]): the Segment HTTP tracking API's
//!   `Authorization: Basic base64(writeKey + ":")` (the password is ignored), or, when no
//!   `Authorization` header is sent, the JSON body's `writeKey`. Compared in constant time with
//!   every configured write key. No credential at all is [`VerifyError::MissingCredentials`].
//! - **Webhook mode** (`/webhooks/{id}`): the Segment Webhooks destination's
//!   `X-Signature = hex(HMAC-SHA1(shared_secret, JSON.stringify(body)))`. For a batch (a JSON
//!   array) the classic destination signs `JSON.stringify(body[0])` only, so when the raw body
//!   does not verify and is an array, the raw text of its first element is tried (as sent, then
//!   without insignificant whitespace, which keeps the original key order). Such a request is
//!   [`Credential::SignedFirstElement`]: only that element is translated; the rest, which nobody
//!   signed, are dropped (docs/CONNECTORS.md: turn batching off, or use Webhooks (Actions)).
//!
//! A browser write key is public ([`Credential::BrowserKey`]): what it says about a shopper is a
//! claim ([`Trust::Claimed`]). Server write keys and signatures are believed. A webhook-mode request with
//!   no `X-Signature` may instead carry `Authorization: Basic` with a write key (Webhooks
//!   (Actions) can send custom headers).

use crate::config::SegmentSettings;
use base64::Engine as _;
use cartback_core::{InboundRequest, Trust, VerifyError};
use cartback_kit::constant_time_eq;

/// The Segment-compatible API paths the hub answers at its root (`POST` only).
pub const API_PATHS: [&str; 4] = ["/v1/batch", "/v1/track", "/v1/identify", "/v1/page"];

pub const SIGNATURE_HEADER: &str = "x-signature";

/// Which door a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `/v1/batch`, `/v1/track`, `/v1/identify`, `/v1/page`.
    Api(&'static str),
    /// `/webhooks/{id}`: the Segment Webhooks destination.
    Webhook,
}

/// The path of `url` (a full URL, or a bare path), without query and trailing slash.
pub fn request_path(url: &str) -> String {
    let path = match url::Url::parse(url) {
        Ok(u) => u.path().to_string(),
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_string(),
    };
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.to_string()
    }
}

/// API mode when the request path is one of [`API_PATHS`], else webhook mode.
pub fn mode(req: &InboundRequest) -> Mode {
    let path = request_path(&req.url);
    API_PATHS
        .iter()
        .find(|p| p.eq_ignore_ascii_case(&path))
        .map_or(Mode::Webhook, |p| Mode::Api(p))
}

/// What a verified request was authenticated by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A browser write key: public, so contact details are claims.
    BrowserKey,
    /// A server write key.
    ServerKey,
    /// `X-Signature` over the whole body (Webhooks (Actions), or an unbatched classic delivery).
    SignedBody,
    /// `X-Signature` over the first element of a batch only (the classic Webhooks destination
    /// with batching on): the other elements are unauthenticated and never acted on.
    SignedFirstElement,
}

impl Credential {
    /// How far what the request says about a shopper is believed.
    pub fn trust(&self) -> Trust {
        match self {
            Credential::BrowserKey => Trust::Claimed,
            _ => Trust::Verified,
        }
    }
}

/// Verifies a request in the mode its path selects.
pub fn verify(settings: &SegmentSettings, req: &InboundRequest) -> Result<(), VerifyError> {
    credential(settings, req).map(|_| ())
}

/// Verifies a request and says what authenticated it.
pub fn credential(
    settings: &SegmentSettings,
    req: &InboundRequest,
) -> Result<Credential, VerifyError> {
    match mode(req) {
        Mode::Api(_) => verify_api(settings, req),
        Mode::Webhook => verify_webhook(settings, req),
    }
}

fn header<'a>(req: &'a InboundRequest, name: &str) -> Option<&'a str> {
    req.header(name).map(str::trim).filter(|v| !v.is_empty())
}

fn verify_api(settings: &SegmentSettings, req: &InboundRequest) -> Result<Credential, VerifyError> {
    if let Some(auth) = header(req, "authorization") {
        return check_basic(settings, auth);
    }
    let key = body_write_key(&req.body).ok_or(VerifyError::MissingCredentials)?;
    check_key(settings, &key)
}

fn verify_webhook(
    settings: &SegmentSettings,
    req: &InboundRequest,
) -> Result<Credential, VerifyError> {
    let Some(sig) = header(req, SIGNATURE_HEADER) else {
        if let Some(auth) = header(req, "authorization") {
            return check_basic(settings, auth);
        }
        return Err(VerifyError::MissingHeader("X-Signature".into()));
    };
    let secret = settings
        .shared_secret
        .as_ref()
        .ok_or(VerifyError::Mismatch)?;
    let check = |bytes: &[u8]| cartback_kit::verify_hex(secret, "X-Signature", sig, &[bytes], true);
    match check(&req.body) {
        Err(VerifyError::Mismatch) => {}
        other => return other.map(|()| Credential::SignedBody),
    }
    let first = first_array_element(&req.body).ok_or(VerifyError::Mismatch)?;
    match check(first) {
        Err(VerifyError::Mismatch) => {}
        other => return other.map(|()| Credential::SignedFirstElement),
    }
    let compact = minify(first);
    if compact.as_slice() == first {
        return Err(VerifyError::Mismatch);
    }
    check(&compact).map(|()| Credential::SignedFirstElement)
}

/// `Authorization: Basic base64(writeKey:password)`; the password is ignored.
fn check_basic(settings: &SegmentSettings, auth: &str) -> Result<Credential, VerifyError> {
    let malformed = || VerifyError::MalformedHeader("Authorization".into());
    let (scheme, encoded) = auth.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let user = match decoded.iter().position(|b| *b == b':') {
        Some(i) => decoded.get(..i).unwrap_or_default(),
        None => decoded.as_slice(),
    };
    if user.is_empty() {
        return Err(VerifyError::MissingCredentials);
    }
    check_key_bytes(settings, user)
}

fn check_key(settings: &SegmentSettings, given: &str) -> Result<Credential, VerifyError> {
    if given.is_empty() {
        return Err(VerifyError::MissingCredentials);
    }
    check_key_bytes(settings, given.as_bytes())
}

/// Constant time against every key (no early exit, so timing does not tell which matched).
fn check_key_bytes(settings: &SegmentSettings, given: &[u8]) -> Result<Credential, VerifyError> {
    let (mut browser, mut server) = (false, false);
    for (k, is_server) in settings.keys() {
        let hit = constant_time_eq(k.as_bytes(), given);
        server |= hit & is_server;
        browser |= hit & !is_server;
    }
    match (server, browser) {
        (true, _) => Ok(Credential::ServerKey),
        (false, true) => Ok(Credential::BrowserKey),
        (false, false) => Err(VerifyError::Mismatch),
    }
}

/// The body's top-level `writeKey`, when the body is a JSON object holding a string there.
fn body_write_key(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct WithKey {
        #[serde(rename = "writeKey")]
        write_key: Option<serde_json::Value>,
    }
    let parsed: WithKey = serde_json::from_slice(body).ok()?;
    match parsed.write_key? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !is_ws(*b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ws(*b))
        .map_or(start, |e| e + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// The raw text of the first element of a JSON array body (`None` when the body is not an array
/// or is empty). A depth-aware scan that honours strings and escapes; it does not validate JSON.
pub fn first_array_element(body: &[u8]) -> Option<&[u8]> {
    let body = trim(body);
    let rest = body.strip_prefix(b"[")?;
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, &c) in rest.iter().enumerate() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b']' | b',' if depth == 0 => {
                let el = trim(rest.get(..i)?);
                return (!el.is_empty()).then_some(el);
            }
            _ => {}
        }
    }
    None
}

/// `json` without whitespace outside strings: `JSON.stringify`'s spacing, key order kept.
pub fn minify(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut in_str = false;
    let mut escaped = false;
    for &c in json {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
            }
            out.push(c);
        } else if !is_ws(c) {
            if c == b'"' {
                in_str = true;
            }
            out.push(c);
        }
    }
    out
}

/// The `X-Signature` a Segment Webhooks destination sends for `signed` (the whole body, or
/// `JSON.stringify(body[0])` for a batch): hex HMAC-SHA1 with `shared_secret`.
pub fn sign(shared_secret: &str, signed: &[u8]) -> String {
    hex::encode(cartback_kit::hmac_sha1(shared_secret.as_bytes(), &[signed]))
}

/// The `Authorization` header value Segment libraries send for `write_key`.
pub fn basic_auth(write_key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{write_key}:"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_element() {
        assert_eq!(
            first_array_element(br#" [ {"a":"x,]\"}"} , {"b":2}]"#),
            Some(&br#"{"a":"x,]\"}"}"#[..])
        );
        assert_eq!(first_array_element(b"[[1,2],3]"), Some(&b"[1,2]"[..]));
        assert_eq!(first_array_element(b"[7]"), Some(&b"7"[..]));
        assert_eq!(first_array_element(b"[]"), None);
        assert_eq!(first_array_element(b"{}"), None);
        assert_eq!(first_array_element(b"[{\"a\":1"), None);
    }

    #[test]
    fn minifies_outside_strings() {
        assert_eq!(
            minify(b"{ \"a b\" : [1, 2],\n \"c\":\"\\\" x\" }"),
            b"{\"a b\":[1,2],\"c\":\"\\\" x\"}".to_vec()
        );
    }

    #[test]
    fn paths() {
        assert_eq!(request_path("https://hub/v1/batch?x=1"), "/v1/batch");
        assert_eq!(request_path("https://hub/v1/track/"), "/v1/track");
        assert_eq!(request_path("/webhooks/seg"), "/webhooks/seg");
        assert_eq!(basic_auth("abc123"), "Basic YWJjMTIzOg==");
    }
}
