//! HubSpot's request signatures (developers.hubspot.com/docs/api/webhooks/validating-requests;
//! HubSpot/hubspot-api-python `hubspot/utils/signature.py`):
//!
//! ```text
//! v1  X-HubSpot-Signature    = hex(SHA-256(client_secret + body))
//! v2  X-HubSpot-Signature    = hex(SHA-256(client_secret + method + uri + body))
//! v3  X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client_secret, method + uri + body + timestamp))
//! ```
//!
//! v3 is used when its header is present, and its `X-HubSpot-Request-Timestamp` (epoch
//! milliseconds) must be within `max_age` of receipt. Otherwise `X-HubSpot-Signature-Version`
//! picks v1 (the default when absent, as CRM webhook subscriptions send) or v2. The `uri` is the
//! full public URL the platform called ([`InboundRequest::url`]); for v3 only the escapes HubSpot
//! lists (`%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B`) are decoded first.

use crate::config::HubSpotSettings;
use cartback_core::{InboundRequest, VerifyError};
use cartback_kit::{constant_time_eq, Encoding};
use chrono::DateTime;
use sha2::{Digest, Sha256};

pub const SIGNATURE_HEADER: &str = "x-hubspot-signature";
pub const SIGNATURE_V3_HEADER: &str = "x-hubspot-signature-v3";
pub const VERSION_HEADER: &str = "x-hubspot-signature-version";
pub const TIMESTAMP_HEADER: &str = "x-hubspot-request-timestamp";

fn header<'a>(req: &'a InboundRequest, name: &str) -> Option<&'a str> {
    req.header(name).map(str::trim).filter(|v| !v.is_empty())
}

/// Decodes only the percent-escapes HubSpot decodes before signing v3 (either hex case).
pub fn decode_v3_uri(uri: &str) -> String {
    const DECODED: [(&str, char); 12] = [
        ("3A", ':'),
        ("2F", '/'),
        ("3F", '?'),
        ("40", '@'),
        ("21", '!'),
        ("24", '$'),
        ("27", '\''),
        ("28", '('),
        ("29", ')'),
        ("2A", '*'),
        ("2C", ','),
        ("3B", ';'),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let hit = after.get(..2).and_then(|hex| {
            DECODED
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(hex))
                .map(|(_, c)| *c)
        });
        match hit {
            Some(c) => {
                out.push(c);
                rest = &after[2..];
            }
            None => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// The v1 `X-HubSpot-Signature`: `hex(SHA-256(secret + body))`.
pub fn signature_v1(secret: &str, body: &[u8]) -> String {
    sha256_hex(&[secret.as_bytes(), body])
}

/// The v2 `X-HubSpot-Signature`: `hex(SHA-256(secret + method + uri + body))`.
pub fn signature_v2(secret: &str, method: &str, uri: &str, body: &[u8]) -> String {
    sha256_hex(&[secret.as_bytes(), method.as_bytes(), uri.as_bytes(), body])
}

/// The v3 `X-HubSpot-Signature-v3`: `base64(HMAC-SHA256(secret, method + uri + body +
/// timestamp))`, `uri` as HubSpot signs it (after [`decode_v3_uri`]), `timestamp` as the header
/// text.
pub fn signature_v3(secret: &str, method: &str, uri: &str, body: &[u8], timestamp: &str) -> String {
    Encoding::Base64.encode(&cartback_kit::hmac_sha256(
        secret.as_bytes(),
        &[
            method.as_bytes(),
            decode_v3_uri(uri).as_bytes(),
            body,
            timestamp.as_bytes(),
        ],
    ))
}

/// Verifies a delivery with whichever signature version it carries. Never parses the body.
pub fn verify(settings: &HubSpotSettings, req: &InboundRequest) -> Result<(), VerifyError> {
    let method = req.method.as_str();
    if let Some(given) = header(req, SIGNATURE_V3_HEADER) {
        let ts = header(req, TIMESTAMP_HEADER)
            .ok_or_else(|| VerifyError::MissingHeader("X-HubSpot-Request-Timestamp".into()))?;
        let uri = decode_v3_uri(&req.url);
        cartback_kit::verify_base64(
            &settings.client_secret,
            "X-HubSpot-Signature-v3",
            given,
            &[method.as_bytes(), uri.as_bytes(), &req.body, ts.as_bytes()],
        )?;
        let at = ts
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| VerifyError::MalformedHeader("X-HubSpot-Request-Timestamp".into()))?;
        return cartback_kit::check_timestamp_window(at, req.received_at, settings.max_age());
    }
    let given = header(req, SIGNATURE_HEADER)
        .ok_or_else(|| VerifyError::MissingHeader("X-HubSpot-Signature".into()))?;
    let given = hex::decode(given.to_ascii_lowercase())
        .map_err(|_| VerifyError::MalformedHeader("X-HubSpot-Signature".into()))?;
    let v2 = match header(req, VERSION_HEADER)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("v1") => false,
        Some("v2") => true,
        Some(_) => {
            return Err(VerifyError::MalformedHeader(
                "X-HubSpot-Signature-Version".into(),
            ))
        }
    };
    // Every secret is tried (no early exit), so timing does not reveal which one matched.
    let mut ok = false;
    for s in settings.client_secret.iter() {
        let expected = if v2 {
            signature_v2(s.expose(), method, &req.url, &req.body)
        } else {
            signature_v1(s.expose(), &req.body)
        };
        let expected = hex::decode(expected).unwrap_or_default();
        ok |= constant_time_eq(&expected, &given);
    }
    if ok {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}
