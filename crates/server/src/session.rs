//! Dashboard sessions and the same-origin rule for its forms.
//!
//! Signing in with the admin token creates a session: a random 32-byte id (hex in the cookie),
//! valid for [`LIFETIME`] from sign-in, kept in this process's memory only. Signing out deletes
//! it, so a copied cookie stops working too; a restart signs everyone out. At most
//! [`MAX_SESSIONS`] live at once: the oldest is dropped to make room.
//!
//! A `POST` to `/dashboard/login` or `/dashboard/logout` must come from the hub's own pages:
//! `Sec-Fetch-Site: same-origin` (or `none`: typed by the user), else an `Origin` equal to
//! `server.public_url`'s or the one the request was addressed to (`Host`). Requests with neither
//! header (not a browser) pass; anything else is refused with `403`.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a dashboard session lasts from sign-in.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Sessions alive at once.
pub const MAX_SESSIONS: usize = 1024;

/// Live sessions by id.
#[derive(Debug)]
pub struct Sessions {
    live: Mutex<HashMap<[u8; 32], Instant>>,
    lifetime: Duration,
    max: usize,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(LIFETIME, MAX_SESSIONS)
    }
}

impl Sessions {
    pub fn new(lifetime: Duration, max: usize) -> Sessions {
        Sessions {
            live: Mutex::new(HashMap::new()),
            lifetime,
            max: max.max(1),
        }
    }

    /// How long a session lasts (the cookie's `Max-Age`).
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new session; its id, hex-encoded, goes in the cookie.
    pub fn create(&self) -> String {
        let mut id = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.len() >= self.max {
            live.retain(|_, expires| *expires > now);
        }
        while live.len() >= self.max {
            let Some(oldest) = live.iter().min_by_key(|(_, e)| **e).map(|(k, _)| *k) else {
                break;
            };
            live.remove(&oldest);
        }
        live.insert(id, now + self.lifetime);
        hex::encode(id)
    }

    /// Whether `id` (from the cookie) is a live session.
    pub fn valid(&self, id: &str) -> bool {
        let Some(key) = parse(id) else {
            return false;
        };
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        match live.get(&key) {
            Some(expires) if *expires > now => true,
            Some(_) => {
                live.remove(&key);
                false
            }
            None => false,
        }
    }

    /// Ends the session `id` (sign-out).
    pub fn revoke(&self, id: &str) {
        if let Some(key) = parse(id) {
            self.live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
    }

    pub fn len(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn parse(id: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(id, &mut key).ok()?;
    Some(key)
}

/// Every value of cookie `name` in the request.
pub fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `scheme://host[:port]` of a URL, lower-cased.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}").to_ascii_lowercase())
}

/// Whether a state-changing request comes from the hub's own pages (see the module docs).
pub fn same_origin(public_url: &str, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim().to_ascii_lowercase();
    if origin_of(public_url).is_some_and(|o| o == origin) {
        return true;
    }
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            let host = host.trim().to_ascii_lowercase();
            origin == format!("http://{host}") || origin == format!("https://{host}")
        })
}

/// Middleware: refuses a cross-site `POST` (any method but `GET`/`HEAD`) with `403`.
pub async fn same_origin_only(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !matches!(*req.method(), Method::GET | Method::HEAD)
        && !same_origin(&state.settings.public_url, req.headers())
    {
        tracing::info!(path = %req.uri().path(), "Refused a cross-site dashboard request.");
        return Err(ApiError::Forbidden(
            "cross-site request refused: use the hub's own sign-in page".into(),
        ));
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn sessions_are_random_revocable_and_bounded() {
        let s = Sessions::new(Duration::from_secs(60), 3);
        let a = s.create();
        let b = s.create();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(s.valid(&a) && s.valid(&b));
        s.revoke(&a);
        assert!(!s.valid(&a) && s.valid(&b));
        for _ in 0..10 {
            s.create();
        }
        assert_eq!(s.len(), 3);
        assert!(!s.valid("not hex") && !s.valid(&"0".repeat(64)));
    }

    #[test]
    fn sessions_expire() {
        let s = Sessions::new(Duration::ZERO, 3);
        let a = s.create();
        assert!(!s.valid(&a));
        assert!(s.is_empty());
    }

    #[test]
    fn only_the_hubs_own_pages_pass() {
        let public = "https://hub.example.com/";
        assert!(same_origin(
            public,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(same_origin(public, &headers(&[("sec-fetch-site", "none")])));
        assert!(!same_origin(
            public,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(!same_origin(
            public,
            &headers(&[("sec-fetch-site", "same-site")])
        ));
        assert!(same_origin(
            public,
            &headers(&[("origin", "https://hub.example.com")])
        ));
        assert!(same_origin(
            public,
            &headers(&[
                ("origin", "http://10.0.0.5:8080"),
                ("host", "10.0.0.5:8080")
            ])
        ));
        assert!(!same_origin(
            public,
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "hub.example.com")
            ])
        ));
        assert!(!same_origin(public, &headers(&[("origin", "null")])));
        // Not a browser.
        assert!(same_origin(public, &headers(&[])));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let h = headers(&[(
            "cookie",
            "a=1; cartback_session=abc; b=2; cartback_session=def",
        )]);
        let found: Vec<&str> = cookies(&h, "cartback_session").collect();
        assert_eq!(found, ["abc", "def"]);
        assert_eq!(cookies(&h, "c").count(), 0);
    }
}
