//! The admin token: how strong it must be, and how many wrong guesses a client may make.
//!
//! A wrong admin token (a bearer on `/api/v1` or `/dashboard`, or the dashboard's login form) costs
//! its client one attempt from a bucket of [`BURST`], refilled one every [`REFILL`]. An empty
//! bucket answers `429 Too Many Requests` with `Retry-After` to every attempt from that client,
//! right or wrong, without checking it, so guessing gains nothing. Right tokens cost nothing.
//!
//! A client is its IP address (IPv6: its /64). Behind a reverse proxy every client shares the
//! proxy's address: a guesser then also locks the admin out until the bucket refills. At most
//! [`MAX_CLIENTS`] clients are tracked; past that, new ones share one bucket.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens a client may send in a row before it has to wait.
pub const BURST: u32 = 10;
/// One more attempt every this long (ten a minute once the burst is spent).
pub const REFILL: Duration = Duration::from_secs(6);
/// Clients tracked at once.
pub const MAX_CLIENTS: usize = 4096;

pub use crate::settings::weak;

/// Who is guessing: the peer's IP address (IPv6: its /64), or `None` when the app runs without a
/// socket (`router` in tests), where every caller shares one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client(Option<IpAddr>);

impl Client {
    pub fn of(addr: Option<SocketAddr>) -> Client {
        Client(addr.map(|a| match a.ip() {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut seg = v6.segments();
                    seg[4..].fill(0);
                    IpAddr::V6(seg.into())
                }
            },
            v4 => v4,
        }))
    }

    pub fn from_extensions(ext: &http::Extensions) -> Client {
        Client::of(ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Client::from_extensions(&parts.extensions))
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Wrong-token buckets per client (see the module docs).
#[derive(Debug)]
pub struct Limiter {
    buckets: Mutex<HashMap<Client, Bucket>>,
    burst: u32,
    refill: Duration,
    max_clients: usize,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(BURST, REFILL, MAX_CLIENTS)
    }
}

/// The client must wait: `429` with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyAttempts {
    pub retry_after: Duration,
}

impl TooManyAttempts {
    /// Whole seconds to wait, at least 1 (the `Retry-After` value).
    pub fn seconds(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

impl IntoResponse for TooManyAttempts {
    fn into_response(self) -> Response {
        let secs = self.seconds();
        let mut resp = (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("too many wrong admin tokens; retry in {secs} s\n"),
        )
            .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        resp
    }
}

impl Limiter {
    pub fn new(burst: u32, refill: Duration, max_clients: usize) -> Limiter {
        Limiter {
            buckets: Mutex::new(HashMap::new()),
            burst: burst.max(1),
            refill: refill.max(Duration::from_millis(1)),
            max_clients: max_clients.max(1),
        }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> Bucket {
        let gained = now.saturating_duration_since(b.at).as_secs_f64() / self.refill.as_secs_f64();
        Bucket {
            tokens: (b.tokens + gained).min(f64::from(self.burst)),
            at: now,
        }
    }

    /// May `client` try a token now? `Err` while its bucket is empty.
    pub fn check(&self, client: Client) -> Result<(), TooManyAttempts> {
        let now = Instant::now();
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let key = self.key(&buckets, client);
        match buckets.get(&key).map(|b| self.refilled(*b, now)) {
            Some(b) if b.tokens < 1.0 => Err(TooManyAttempts {
                retry_after: self.refill.mul_f64(1.0 - b.tokens),
            }),
            _ => Ok(()),
        }
    }

    /// `client` sent a wrong token: one attempt less.
    pub fn fail(&self, client: Client) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(&client) && buckets.len() >= self.max_clients {
            // Forget clients whose bucket is full again; they would start from full anyway.
            let full = f64::from(self.burst);
            buckets.retain(|_, b| self.refilled(*b, now).tokens < full);
        }
        let key = self.key(&buckets, client);
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: f64::from(self.burst),
            at: now,
        });
        let mut r = self.refilled(*b, now);
        r.tokens = (r.tokens - 1.0).max(0.0);
        *b = r;
    }

    /// The bucket `client` draws from: its own, or the shared overflow one when the map is full.
    fn key(&self, buckets: &HashMap<Client, Bucket>, client: Client) -> Client {
        if buckets.contains_key(&client) || buckets.len() < self.max_clients {
            client
        } else {
            Client(None)
        }
    }
}

/// What the admin checks share, one per app (`router` adds it as an extension).
#[derive(Debug, Default)]
pub struct Guards {
    pub sessions: crate::session::Sessions,
    pub limiter: Limiter,
}

/// The token after `Bearer ` in an `Authorization` header, trimmed.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_tokens_are_named() {
        assert!(weak("password").unwrap().contains("at least 16"));
        assert!(weak("dev-admin-token").unwrap().contains("15 characters"));
        assert!(weak("aaaaaaaaaaaaaaaaaaaa").unwrap().contains("distinct"));
        assert!(weak("abcdefghijklmnopqrst").unwrap().contains("one kind"));
        assert!(weak("0123456789012345678").unwrap().contains("one kind"));
        assert_eq!(weak("test-admin-token"), None);
        assert_eq!(weak("3f9a0c7e2b1d4a6f8e0c2b4d6f8a0c1e"), None);
        assert_eq!(weak("Correct-Horse-Battery"), None);
    }

    #[test]
    fn a_client_gets_the_burst_then_waits() {
        let l = Limiter::new(3, Duration::from_secs(60), 8);
        let a = Client::of(Some("10.0.0.1:1000".parse().unwrap()));
        let b = Client::of(Some("10.0.0.2:1000".parse().unwrap()));
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
            l.fail(a);
        }
        let wait = l.check(a).unwrap_err();
        assert!(wait.retry_after > Duration::ZERO && wait.retry_after <= Duration::from_secs(60));
        // Another client is not affected; the same address on another port is the same client.
        assert!(l.check(b).is_ok());
        let a2 = Client::of(Some("10.0.0.1:2000".parse().unwrap()));
        assert!(l.check(a2).is_err());
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let a = Client::of(Some("[2001:db8:1:2:aaaa::1]:1".parse().unwrap()));
        let b = Client::of(Some("[2001:db8:1:2:bbbb::9]:2".parse().unwrap()));
        let c = Client::of(Some("[2001:db8:1:3::1]:1".parse().unwrap()));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn the_map_is_bounded_and_overflow_is_shared() {
        let l = Limiter::new(1, Duration::from_secs(3600), 4);
        for i in 0..4 {
            l.fail(Client::of(Some(SocketAddr::from(([10, 0, 1, i], 1)))));
        }
        // A fifth client draws from the shared bucket, which a sixth then finds empty.
        let e = Client::of(Some("10.0.2.1:1".parse().unwrap()));
        let f = Client::of(Some("10.0.2.2:1".parse().unwrap()));
        assert!(l.check(e).is_ok());
        l.fail(e);
        assert!(l.check(f).is_err());
        assert!(l.buckets.lock().unwrap().len() <= 5);
    }
}
