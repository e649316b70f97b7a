//! Attacks on the hub's browser pages and admin token, each against a real hub on 127.0.0.1, and
//! what they now get: cross-site sign-in and sign-out refused, sessions that die at sign-out,
//! guessing cut to a handful of tries, strict page headers. Counts are small; nothing asserts
//! how long anything took.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use cartback_kit::token::{LinkKind, LinkSigner, LinkToken};
use cartback_testkit::hub::ADMIN_TOKEN;
use cartback_testkit::{spawn_hub, Hub};
use reqwest::header::{HeaderMap, CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use sha2::{Digest, Sha256};

const LINK_SECRET: &str = "security-test-link-secret";

fn config() -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
admin_token = "${{CARTBACK_ADMIN_TOKEN}}"
link_secret = "{LINK_SECRET}"

[store]
url = "sqlite://hub.db"
"#
    )
}

async fn hub() -> Hub {
    spawn_hub(&config(), &[]).await.unwrap()
}

/// A client that shows redirects instead of following them, and keeps no cookies.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn login(hub: &Hub, token: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut req = browser()
        .post(hub.url("/dashboard/login"))
        .form(&[("token", token)]);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// The session id a sign-in answer sets.
fn session(resp: &reqwest::Response) -> String {
    let cookie = resp.headers()[SET_COOKIE].to_str().unwrap();
    let value = cookie
        .strip_prefix("cartback_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    value.to_string()
}

async fn dashboard(hub: &Hub, session: &str) -> reqwest::Response {
    browser()
        .get(hub.url("/dashboard"))
        .header("cookie", format!("cartback_session={session}"))
        .send()
        .await
        .unwrap()
}

fn signed_in(resp: &reqwest::Response) -> bool {
    resp.status() == 200
}

#[tokio::test]
async fn cross_site_sign_in_and_sign_out_are_refused() {
    let hub = hub().await;
    // A form on another site posting the right token (a login CSRF) or a sign-out.
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[("origin", "null")][..],
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ][..],
        &[("sec-fetch-site", "same-site")][..],
    ] {
        let resp = login(&hub, ADMIN_TOKEN, headers).await;
        assert_eq!(resp.status(), 403, "{headers:?}");
        assert!(resp.headers().get(SET_COOKIE).is_none());
    }
    // From the hub's own page it works.
    let own = login(
        &hub,
        ADMIN_TOKEN,
        &[("origin", &hub.url), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(own.status(), 303);
    let id = session(&own);
    // A cross-site sign-out does nothing.
    let resp = browser()
        .post(hub.url("/dashboard/logout"))
        .header("origin", "https://evil.example")
        .header("cookie", format!("cartback_session={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(signed_in(&dashboard(&hub, &id).await));
}

#[tokio::test]
async fn sessions_are_random_and_die_at_sign_out() {
    let hub = hub().await;
    let a = session(&login(&hub, ADMIN_TOKEN, &[]).await);
    let b = session(&login(&hub, ADMIN_TOKEN, &[]).await);
    assert_ne!(a, b, "a session is not a function of the token");
    assert!(a.len() == 64 && a.bytes().all(|c| c.is_ascii_hexdigit()));
    // The old fixed value (an HMAC of the token) is not a session.
    let fixed = hex_of(&cartback_kit::hmac_sha256(
        ADMIN_TOKEN.as_bytes(),
        &[b"cartback dashboard session v1"],
    ));
    assert!(!signed_in(&dashboard(&hub, &fixed).await));
    assert!(signed_in(&dashboard(&hub, &a).await));
    // Sign out: the cookie is cleared, and a copy of it kept elsewhere no longer works.
    let out = browser()
        .post(hub.url("/dashboard/logout"))
        .header("origin", &hub.url)
        .header("cookie", format!("cartback_session={a}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(out.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let replay = dashboard(&hub, &a).await;
    assert_eq!(replay.status(), 303);
    assert_eq!(replay.headers()[LOCATION], "/dashboard/login");
    // Other sessions live on.
    assert!(signed_in(&dashboard(&hub, &b).await));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn guessing_the_token_at_the_login_form_is_cut_short() {
    let hub = hub().await;
    let mut checked = 0;
    let mut limited = 0;
    for i in 0..200 {
        let resp = login(&hub, &format!("guess-{i:05}-abcdefgh"), &[]).await;
        match resp.status().as_u16() {
            401 => checked += 1,
            429 => {
                limited += 1;
                let wait: u64 = resp.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(wait >= 1);
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(checked <= 20, "{checked} guesses were checked");
    assert!(limited >= 180, "{limited}");
    // While limited, even the right token is not checked: no oracle.
    assert_eq!(login(&hub, ADMIN_TOKEN, &[]).await.status(), 429);
}

#[tokio::test]
async fn guessing_the_bearer_token_is_cut_short() {
    let hub = hub().await;
    let client = browser();
    let mut checked = 0;
    let mut limited = 0;
    for i in 0..200 {
        let path = if i % 2 == 0 {
            "/api/v1/carts"
        } else {
            "/dashboard"
        };
        let resp = client
            .get(hub.url(path))
            .bearer_auth(format!("guess-{i:05}-abcdefgh"))
            .send()
            .await
            .unwrap();
        match resp.status().as_u16() {
            // A wrong bearer: 401 from the API, the sign-in page from the dashboard.
            401 | 303 => checked += 1,
            429 => {
                limited += 1;
                assert!(resp.headers().contains_key("retry-after"));
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(checked <= 20, "{checked} guesses were checked");
    assert!(limited >= 180, "{limited}");
    let right = client
        .get(hub.url("/api/v1/carts"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 429);
}

/// `'sha256-…'` of every `<style>` block in `html`.
fn style_hashes(html: &str) -> Vec<String> {
    html.split("<style>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</style>"))
        .map(|(css, _)| {
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(css.as_bytes()))
            )
        })
        .collect()
}

fn assert_strict(headers: &HeaderMap, html: &str) {
    let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let hashes = style_hashes(html);
    assert!(!hashes.is_empty());
    for h in hashes {
        assert!(csp.contains(&h), "{h} missing from {csp}");
    }
    assert!(
        !html.contains(" style=\""),
        "inline style attributes are blocked by the policy"
    );
    assert!(!html.contains("<script"), "{html}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn the_pages_carry_strict_security_headers() {
    let hub = hub().await;
    let client = browser();
    let form = client
        .get(hub.url("/dashboard/login"))
        .send()
        .await
        .unwrap();
    let headers = form.headers().clone();
    assert_strict(&headers, &form.text().await.unwrap());
    let id = session(&login(&hub, ADMIN_TOKEN, &[]).await);
    let page = dashboard(&hub, &id).await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_strict(&headers, &page.text().await.unwrap());
    // The unsubscribe page a shopper opens from a message.
    let token = LinkSigner::new(LINK_SECRET.as_bytes()).sign(&LinkToken {
        kind: LinkKind::Unsubscribe,
        message_id: "msg-1".into(),
        index: 0,
    });
    let u = client
        .get(hub.url(&format!("/u/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(u.status(), 200);
    let headers = u.headers().clone();
    assert_strict(&headers, &u.text().await.unwrap());
    // A forged link's 404 gets the headers too.
    let bad = client.get(hub.url("/u/forged")).send().await.unwrap();
    assert_eq!(bad.status(), 404);
    assert_eq!(bad.headers()["x-frame-options"], "DENY");
}
