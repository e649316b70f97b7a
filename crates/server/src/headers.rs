//! Security headers on the pages the hub renders for browsers: the dashboard and the
//! unsubscribe page (`/u/`). Neither runs a script, loads anything, or may be framed:
//!
//! - `Content-Security-Policy: default-src 'none'; style-src 'sha256-…'; form-action 'self';
//!   frame-ancestors 'none'; base-uri 'none'`: only the page's own `<style>` block applies (by its
//!   hash; no inline `style=` attributes), forms post only to the hub, no script runs. The
//!   dashboard adds `img-src data:` for its inline icon (`<link rel="icon" href="data:,">`, so the
//!   browser asks for no `/favicon.ico`); its style hash is computed once from the embedded CSS.
//! - `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//!   and `Cache-Control: no-store` (the dashboard shows customer data; `/u/` pages are per person).

use axum::body::{Body, HttpBody as _};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The dashboard's stylesheet: embedded once here, where its CSP hash is computed, and in the page.
pub(crate) const STYLE: &str = include_str!("../templates/dashboard.css");

/// `'sha256-…'` of a `<style>` block's text, as CSP spells it.
fn style_hash(css: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css.as_bytes()))
    )
}

/// `data_images`: allow `data:` images (the dashboard's inline icon), nothing else.
fn policy(style_hashes: &[String], data_images: bool) -> String {
    let styles = if style_hashes.is_empty() {
        "'none'".to_string()
    } else {
        style_hashes.join(" ")
    };
    let images = if data_images { " img-src data:;" } else { "" };
    format!(
        "default-src 'none';{images} style-src {styles}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

fn apply(resp: &mut Response, csp: &str) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The dashboard's policy: its one stylesheet, by hash; its inline icon.
pub fn dashboard_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| policy(&[style_hash(STYLE)], true))
}

/// Middleware (`map_response`) for every dashboard route.
pub async fn dashboard(mut resp: Response) -> Response {
    apply(&mut resp, dashboard_policy());
    resp
}

/// The text of every `<style>` block of an HTML page.
fn style_blocks(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<style>") {
        let after = &rest[start + "<style>".len()..];
        let Some(end) = after.find("</style>") else {
            break;
        };
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

/// Middleware (`map_response`) for `/u/` pages: the policy allows the page's own `<style>` blocks
/// (the page is built from constants; nothing a shopper sends is echoed).
pub async fn unsubscribe_page(resp: Response) -> Response {
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    // The page is a few hundred bytes, its size known; anything else gets no style at all.
    let small = resp
        .body()
        .size_hint()
        .upper()
        .is_some_and(|n| n <= 64 * 1024);
    if !(html && small) {
        let mut resp = resp;
        apply(&mut resp, &policy(&[], false));
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let hashes: Vec<String> = style_blocks(&String::from_utf8_lossy(&bytes))
        .into_iter()
        .map(style_hash)
        .collect();
    let mut resp = Response::from_parts(parts, Body::from(bytes));
    apply(&mut resp, &policy(&hashes, false));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_blocks_are_found_and_hashed() {
        let html = "<html><head><style>a{b:c}</style></head><body><style>d{}</style></body>";
        assert_eq!(style_blocks(html), ["a{b:c}", "d{}"]);
        assert_eq!(
            style_hash("a{b:c}"),
            "'sha256-0cRUVYRKwNwnl1hkfkPGjkht16b039TjFdJzmXfFK2o='"
        );
        assert_eq!(
            policy(&[], false),
            "default-src 'none'; style-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        );
        assert_eq!(
            dashboard_policy(),
            format!(
                "default-src 'none'; img-src data:; style-src {}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                style_hash(STYLE)
            )
        );
    }
}
