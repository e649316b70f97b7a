//! The `[server]` table.

use cartback_kit::Secret;
use serde::{Deserialize, Deserializer};

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_public_url() -> String {
    "http://127.0.0.1:8080".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Base of every link the hub hands out, and of the URL signed by platforms that sign URLs.
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// Bearer token for `/api/v1` and the dashboard. Without it the admin API refuses every call.
    #[serde(default)]
    pub admin_token: Option<Secret>,
    /// Key that signs tracked-link tokens. Default: a random key the store generates once and keeps.
    #[serde(default)]
    pub link_secret: Option<Secret>,
    /// Largest accepted webhook body (`"1MiB"`, `"512KiB"` or a number of bytes).
    #[serde(default)]
    pub max_body: ByteSize,
    /// How long SIGTERM waits for in-flight requests.
    #[serde(default = "default_drain")]
    pub shutdown_grace: cartback_core::duration::HumanDuration,
    /// How long a client may take to send a request's headers, from their first byte
    /// (slow-header clients are closed after it). See `crate::conn`.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: cartback_core::duration::HumanDuration,
    /// How long a connection with no request in flight (and none arriving) stays open.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: cartback_core::duration::HumanDuration,
    /// Connections served at once. Past it the hub accepts no more (they wait in the listen
    /// backlog) and closes its idle connections to make room.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Hosts a link the hub redirects to or renders may point to (`"shop.example"`, or
    /// `"*.shop.example"` for every subdomain): carts' recovery URLs, product pages and images,
    /// and links in templates. Any other URL is dropped (docs/SECURITY.md).
    #[serde(default)]
    pub link_hosts: Vec<String>,
    /// The shop's own recovery page (`https://shop.example/cart`), where a message's recovery link
    /// points when the cart's recovery URL is missing or was dropped. Must be on `link_hosts`.
    #[serde(default)]
    pub recovery_page: Option<String>,
}

fn default_drain() -> cartback_core::duration::HumanDuration {
    cartback_core::duration::HumanDuration(std::time::Duration::from_secs(10))
}

fn default_header_read_timeout() -> cartback_core::duration::HumanDuration {
    cartback_core::duration::HumanDuration(std::time::Duration::from_secs(10))
}

fn default_idle_timeout() -> cartback_core::duration::HumanDuration {
    cartback_core::duration::HumanDuration(std::time::Duration::from_secs(60))
}

fn default_max_connections() -> usize {
    10_000
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: default_listen(),
            public_url: default_public_url(),
            admin_token: None,
            link_secret: None,
            max_body: ByteSize::default(),
            shutdown_grace: default_drain(),
            header_read_timeout: default_header_read_timeout(),
            idle_timeout: default_idle_timeout(),
            max_connections: default_max_connections(),
            link_hosts: Vec::new(),
            recovery_page: None,
        }
    }
}

impl ServerSettings {
    /// Pure validation: `(key, message)` for each problem.
    pub fn validate(&self) -> Vec<cartback_core::Problem> {
        let mut out = Vec::new();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            out.push(cartback_core::Problem::new(
                "listen",
                format!(
                    "{:?} is not an address like \"127.0.0.1:8080\"",
                    self.listen
                ),
            ));
        }
        let url = self.public_url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.contains(char::is_whitespace)
        {
            out.push(cartback_core::Problem::new(
                "public_url",
                format!("{:?} is not an http(s) URL", self.public_url),
            ));
        }
        if let Some(problem) = self.admin_token.as_ref().and_then(|t| weak(t.expose())) {
            out.push(cartback_core::Problem::new("admin_token", problem));
        }
        if self.max_body.bytes() < 1024 {
            out.push(cartback_core::Problem::new(
                "max_body",
                "must be at least 1KiB",
            ));
        }
        if self.shutdown_grace.0.as_secs() > 300 {
            out.push(cartback_core::Problem::new(
                "shutdown_grace",
                "must be at most 5m",
            ));
        }
        for (key, d, max) in [
            ("header_read_timeout", self.header_read_timeout.0, 600),
            ("idle_timeout", self.idle_timeout.0, 3600),
        ] {
            if d < std::time::Duration::from_millis(100) || d.as_secs() > max {
                out.push(cartback_core::Problem::new(
                    key,
                    format!("must be between 100ms and {}m", max / 60),
                ));
            }
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            out.push(cartback_core::Problem::new(
                "max_connections",
                "must be between 1 and 1000000",
            ));
        }
        for (i, h) in self.link_hosts.iter().enumerate() {
            if let Err(e) = cartback_core::LinkPolicy::check_host(h) {
                out.push(cartback_core::Problem::new(format!("link_hosts[{i}]"), e));
            }
        }
        if let Err(e) = self.link_policy() {
            if e.starts_with("recovery_page") {
                out.push(cartback_core::Problem::new("recovery_page", e));
            }
        }
        out
    }

    /// The hosts links may point to, and the recovery page (see [`cartback_core::LinkPolicy`]).
    pub fn link_policy(&self) -> Result<cartback_core::LinkPolicy, String> {
        cartback_core::LinkPolicy::new(&self.link_hosts, self.recovery_page.as_deref())
    }

    pub fn public_base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// A size in bytes, from `1048576`, `"1MiB"`, `"512KiB"`, `"2MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl Default for ByteSize {
    fn default() -> Self {
        ByteSize(1024 * 1024)
    }
}

impl ByteSize {
    pub fn bytes(&self) -> usize {
        self.0
    }

    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: usize = num
            .parse()
            .map_err(|_| format!("{s:?} is not a size like \"1MiB\""))?;
        let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1000,
            "kib" | "k" => 1024,
            "mb" => 1_000_000,
            "mib" | "m" => 1024 * 1024,
            "gb" => 1_000_000_000,
            "gib" | "g" => 1024 * 1024 * 1024,
            other => return Err(format!("{s:?}: unknown unit {other:?} (use B, KiB, MiB)")),
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => usize::try_from(n)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
            Raw::S(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// Why `token` is too weak for `server.admin_token`, if it is: at least 16 characters, 8 of them
/// distinct, of at least two kinds (lower-case, upper-case, digits, others).
pub fn weak(token: &str) -> Option<String> {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() < 16 {
        return Some(format!(
            "is {} characters long; use at least 16 (e.g. `openssl rand -hex 32`)",
            chars.len()
        ));
    }
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 8 {
        return Some(format!(
            "has only {} distinct characters; use at least 8 (e.g. `openssl rand -hex 32`)",
            distinct.len()
        ));
    }
    let kinds = [
        chars.iter().any(char::is_ascii_lowercase),
        chars.iter().any(char::is_ascii_uppercase),
        chars.iter().any(char::is_ascii_digit),
        chars.iter().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if kinds.iter().filter(|k| **k).count() < 2 {
        return Some(
            "uses one kind of character only; mix lower-case, upper-case, digits or symbols \
             (e.g. `openssl rand -hex 32`)"
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("1MiB").unwrap().0, 1 << 20);
        assert_eq!(ByteSize::parse("512KiB").unwrap().0, 512 << 10);
        assert_eq!(ByteSize::parse("2048").unwrap().0, 2048);
        assert!(ByteSize::parse("lots").is_err());
        assert!(ByteSize::parse("1 parsec").is_err());
    }
}
