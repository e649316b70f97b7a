//! Twilio's request signature, after the official validator (twilio-python
//! `twilio/request_validator.py`):
//!
//! ```text
//! data = full public URL (with query)
//!        + for each unique form key, sorted: for each unique value of it, sorted: key + value
//! X-Twilio-Signature = base64(HMAC-SHA1(auth_token, data))
//! ```
//!
//! Twilio is inconsistent about ports, so like the official validator a request is accepted when
//! the signature matches the URL with the port removed, or with the scheme's default port added
//! (`:443` for https, `:80` for http) when it had none.
//!
//! JSON bodies are not form-decoded: Twilio appends `bodySHA256=<hex sha256(body)>` to the URL,
//! signs the URL alone, and the body must hash to that value.

use crate::config::TwilioSettings;
use crate::payload::form_pairs;
use cartback_core::{InboundRequest, VerifyError};
use cartback_kit::{constant_time_eq, hmac_sha1, Encoding};
use sha2::{Digest, Sha256};

pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The `X-Twilio-Signature` Twilio would send for a request to `url` with form `params`
/// (for tests, docs and hand-made `curl` deliveries). Keys are sorted, each key's distinct values
/// are sorted, and duplicates count once, as in the official validator.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    Encoding::Base64.encode(&hmac_sha1(
        auth_token.as_bytes(),
        &[signed_data(url, params).as_bytes()],
    ))
}

/// The text that is signed: `url` followed by every `key + value`, sorted.
pub fn signed_data(url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut data = String::with_capacity(url.len() + pairs.len() * 24);
    data.push_str(url);
    for (k, v) in pairs {
        data.push_str(k);
        data.push_str(v);
    }
    data
}

/// Lower-case hex SHA-256 of a raw body: the `bodySHA256` query value for JSON requests.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The URLs the signature may have been computed over: the URL with its port removed, and the URL
/// with the scheme's default port added when it had none. One of them is always `url` itself.
pub fn url_variants(url: &str) -> [String; 2] {
    let Some(parts) = split_authority(url) else {
        return [url.to_string(), url.to_string()];
    };
    let without = format!("{}{}", parts.before_port, parts.rest);
    let with = match parts.port {
        Some(p) => format!("{}:{p}{}", parts.before_port, parts.rest),
        None => {
            let default = if parts.scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            };
            format!("{}:{default}{}", parts.before_port, parts.rest)
        }
    };
    [without, with]
}

struct UrlParts<'a> {
    scheme: &'a str,
    /// Everything up to the end of the host (scheme, `://`, userinfo, host).
    before_port: &'a str,
    port: Option<&'a str>,
    /// Path, query and fragment.
    rest: &'a str,
}

/// Splits `scheme://[userinfo@]host[:port]rest` textually, so nothing else in the URL is
/// re-encoded or normalized (the signature covers the URL byte for byte).
fn split_authority(url: &str) -> Option<UrlParts<'_>> {
    let scheme_end = url.find("://")?;
    let auth_start = scheme_end + 3;
    let auth_len = url[auth_start..]
        .find(['/', '?', '#'])
        .unwrap_or(url.len() - auth_start);
    let auth_end = auth_start + auth_len;
    let authority = &url[auth_start..auth_end];
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host_and_port = &authority[host_start..];
    // The port follows the last ':' that is not inside an IPv6 literal.
    let port_colon = host_and_port
        .rfind(':')
        .filter(|&i| !host_and_port[i..].contains(']'));
    let (before_port_end, port) = match port_colon {
        Some(i) => {
            let p = &host_and_port[i + 1..];
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                (auth_end, None)
            } else {
                (auth_start + host_start + i, Some(p))
            }
        }
        None => (auth_end, None),
    };
    Some(UrlParts {
        scheme: &url[..scheme_end],
        before_port: &url[..before_port_end],
        port,
        rest: &url[auth_end..],
    })
}

/// The value of `name` in the query string of `url`, if any.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// True when the request's body is form-encoded (or has no declared type, as Twilio's callbacks
/// always are form-encoded).
pub(crate) fn is_form(req: &InboundRequest) -> bool {
    match req.header("content-type") {
        None => true,
        Some(ct) => ct
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded"),
    }
}

/// True when the URL carries Twilio's `bodySHA256` (a JSON body signed by its hash).
pub(crate) fn has_body_hash(req: &InboundRequest) -> bool {
    query_param(&req.url, "bodySHA256").is_some()
}

/// Checks `X-Twilio-Signature` over `request.url` and the form-decoded body (or, with
/// `bodySHA256` in the URL, over the URL alone plus the body's hash). Constant-time comparison.
pub fn verify(settings: &TwilioSettings, req: &InboundRequest) -> Result<(), VerifyError> {
    let given = req
        .header(SIGNATURE_HEADER)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| VerifyError::MissingHeader(SIGNATURE_HEADER.into()))?;
    let params = if let Some(expected_hash) = query_param(&req.url, "bodySHA256") {
        let actual = body_sha256(&req.body);
        if !constant_time_eq(
            actual.as_bytes(),
            expected_hash.trim().to_ascii_lowercase().as_bytes(),
        ) {
            return Err(VerifyError::Mismatch);
        }
        Vec::new()
    } else if is_form(req) {
        form_pairs(&req.body)
    } else if req.body.is_empty() {
        Vec::new()
    } else {
        // A non-form body without a hash in the URL would be signed by nothing.
        return Err(VerifyError::Mismatch);
    };
    let token = settings.auth_token.expose();
    let mut ok = false;
    for url in url_variants(&req.url) {
        ok |= constant_time_eq(signature(token, &url, &params).as_bytes(), given.as_bytes());
    }
    if ok {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants() {
        assert_eq!(
            url_variants("https://a.com/x?y=1"),
            [
                "https://a.com/x?y=1".to_string(),
                "https://a.com:443/x?y=1".into()
            ]
        );
        assert_eq!(
            url_variants("http://a.com:1234/x"),
            ["http://a.com/x".to_string(), "http://a.com:1234/x".into()]
        );
        assert_eq!(
            url_variants("http://u:p@a.com"),
            ["http://u:p@a.com".to_string(), "http://u:p@a.com:80".into()]
        );
        assert_eq!(
            url_variants("https://[::1]:8443/x"),
            ["https://[::1]/x".to_string(), "https://[::1]:8443/x".into()]
        );
        assert_eq!(
            url_variants("nonsense"),
            ["nonsense".to_string(), "nonsense".into()]
        );
    }

    #[test]
    fn query_params() {
        assert_eq!(
            query_param("https://a/x?foo=1&bodySHA256=ab#f", "bodySHA256").as_deref(),
            Some("ab")
        );
        assert_eq!(query_param("https://a/x", "bodySHA256"), None);
    }
}
