//! Which URLs the hub may redirect to or render: [`LinkPolicy`].
//!
//! Every URL in a cart (its recovery URL, each item's page and image) came from whoever sent the
//! cart, and a public key lets anyone send one. The hub only ever redirects to, renders or hands
//! on an `http(s)` URL whose host the shop configured (`[server] link_hosts`); anything else is
//! dropped when the cart is stored, and checked again when a message is composed. A message whose
//! recovery link was dropped points at the shop's own recovery page (`[server] recovery_page`).

use crate::cart::{CartSnapshot, LineItem};
use crate::event::{Event, EventKind};

/// The hosts links may point to, and where a dropped recovery link falls back to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkPolicy {
    /// Lower-case host names; `*.shop.example` also allows every subdomain of `shop.example`.
    hosts: Vec<String>,
    /// The shop's recovery page (on one of `hosts`).
    fallback: Option<String>,
}

impl LinkPolicy {
    /// A policy over `hosts` (see [`LinkPolicy::check_host`]) with an optional fallback page.
    /// Returns the first problem found, worded for the config key it came from.
    pub fn new(hosts: &[String], fallback: Option<&str>) -> Result<Self, String> {
        let mut clean = Vec::with_capacity(hosts.len());
        for h in hosts {
            clean.push(Self::check_host(h)?);
        }
        let policy = LinkPolicy {
            hosts: clean,
            fallback: None,
        };
        let fallback = match fallback {
            Some(f) if policy.allows(f) => Some(f.trim().to_string()),
            Some(f) => {
                return Err(format!(
                    "recovery_page {f:?} must be an http(s) URL on one of link_hosts"
                ))
            }
            None => None,
        };
        Ok(LinkPolicy { fallback, ..policy })
    }

    /// A host as configured (`shop.example`, `*.shop.example`), lower-cased, or why it is not one.
    pub fn check_host(host: &str) -> Result<String, String> {
        let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
        if h.parse::<std::net::IpAddr>().is_ok() {
            return Ok(h);
        }
        let bare = h.strip_prefix("*.").unwrap_or(&h);
        let ok = !bare.is_empty()
            && bare.len() <= 253
            && bare.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if ok {
            Ok(h)
        } else {
            Err(format!(
                "link host {host:?} must be a host name such as \"shop.example\" or \"*.shop.example\" (no scheme, port or path)"
            ))
        }
    }

    /// True when nothing is allowed (no `link_hosts` configured).
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The shop's recovery page, when configured.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Is `url` an absolute `http` or `https` URL on an allowed host? No credentials in it, no
    /// other scheme (`javascript:`, `data:`), nothing relative.
    pub fn allows(&self, url: &str) -> bool {
        let Ok(u) = url::Url::parse(url.trim()) else {
            return false;
        };
        if !matches!(u.scheme(), "http" | "https")
            || !u.username().is_empty()
            || u.password().is_some()
        {
            return false;
        }
        let host = match u.host() {
            Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_string(),
            // An address only when listed as such (a shop on `127.0.0.1` while trying things out).
            Some(url::Host::Ipv4(ip)) => return self.hosts.iter().any(|h| *h == ip.to_string()),
            Some(url::Host::Ipv6(ip)) => return self.hosts.iter().any(|h| *h == ip.to_string()),
            None => return false,
        };
        let host = host.as_str();
        self.hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(parent) => {
                    host == parent
                        || host
                            .strip_suffix(parent)
                            .is_some_and(|sub| sub.ends_with('.'))
                }
                None => host == allowed,
            })
    }

    /// `url` if allowed, else `None`.
    pub fn keep(&self, url: Option<&str>) -> Option<String> {
        url.filter(|u| self.allows(u)).map(|u| u.trim().to_string())
    }

    /// Drops every URL of a line item that is not allowed; returns how many were dropped.
    pub fn scrub_item(&self, item: &mut LineItem) -> usize {
        let mut dropped = 0;
        for slot in [&mut item.url, &mut item.image_url] {
            if slot.as_deref().is_some_and(|u| !self.allows(u)) {
                *slot = None;
                dropped += 1;
            }
        }
        dropped
    }

    /// Drops every URL of a cart snapshot that is not allowed; returns how many were dropped.
    pub fn scrub_cart(&self, snap: &mut CartSnapshot) -> usize {
        let mut dropped = 0;
        if snap
            .recovery_url
            .as_deref()
            .is_some_and(|u| !self.allows(u))
        {
            snap.recovery_url = None;
            dropped += 1;
        }
        for item in snap.items.iter_mut() {
            dropped += self.scrub_item(item);
        }
        dropped
    }

    /// Drops every URL the events' carts and orders carry that is not allowed; returns how many.
    pub fn scrub_events(&self, events: &mut [Event]) -> usize {
        let mut dropped = 0;
        for e in events.iter_mut() {
            match &mut e.kind {
                EventKind::CartUpdated(snap) | EventKind::CheckoutStarted(snap) => {
                    dropped += self.scrub_cart(snap)
                }
                EventKind::OrderPlaced(order) => {
                    for item in order.items.iter_mut() {
                        dropped += self.scrub_item(item);
                    }
                }
                EventKind::CartChanged(change) => {
                    dropped += self.scrub_item(&mut change.line);
                    if change
                        .recovery_url
                        .as_deref()
                        .is_some_and(|u| !self.allows(u))
                    {
                        change.recovery_url = None;
                        dropped += 1;
                    }
                }
                _ => {}
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LinkPolicy {
        LinkPolicy::new(
            &["shop.example".into(), "*.cdn.example".into()],
            Some("https://shop.example/cart"),
        )
        .unwrap()
    }

    #[test]
    fn only_http_urls_on_configured_hosts() {
        let p = policy();
        for ok in [
            "https://shop.example/recover/1",
            "http://shop.example",
            "https://SHOP.example./x?y=1#z",
            "https://cdn.example/i.png",
            "https://img.eu.cdn.example/i.png",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "http://evil.example/login",
            "javascript:alert(document.cookie)",
            "JavaScript://shop.example/%0aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "//shop.example/x",
            "/recover/1",
            "https://shop.example@evil.example/",
            "https://user:pw@shop.example/",
            "https://shop.example.evil.example/",
            "https://evilshop.example/",
            "https://xcdn.example/",
            "https://127.0.0.1/",
            "ftp://shop.example/",
            "",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
        assert_eq!(p.fallback(), Some("https://shop.example/cart"));
        assert!(!LinkPolicy::default().allows("https://shop.example/"));
        let local = LinkPolicy::new(&["127.0.0.1".into()], None).unwrap();
        assert!(local.allows("http://127.0.0.1:8081/cart"));
        assert!(!local.allows("http://127.0.0.2/cart"));
    }

    #[test]
    fn configuration_is_checked() {
        assert!(LinkPolicy::check_host("https://shop.example").is_err());
        assert!(LinkPolicy::check_host("shop.example/x").is_err());
        assert!(LinkPolicy::check_host("shop.example:443").is_err());
        assert!(LinkPolicy::check_host("").is_err());
        assert_eq!(
            LinkPolicy::check_host(" Shop.Example ").unwrap(),
            "shop.example"
        );
        let err = LinkPolicy::new(&["shop.example".into()], Some("https://evil.example/"));
        assert!(err.unwrap_err().contains("recovery_page"));
    }
}
