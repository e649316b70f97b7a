//! Tracked links: every URL a message carries is replaced by a signed hub link
//! (`/t/` product and other links, `/r/` cart recovery, `/o/` open pixel, `/u/` unsubscribe).
//! The real URLs are stored with the message by index; tokens only name (message, index).
//!
//! A URL in a rendered message that is neither the hub's own nor on the shop's `link_hosts`
//! ([`LinkPolicy`]) is removed: a product title that carries `http://evil.example` never becomes
//! a link, tracked or not.

use cartback_core::LinkPolicy;
use cartback_kit::token::{LinkKind, LinkSigner, LinkToken};

/// Collects a message's redirect targets and hands out tracked URLs for them.
pub struct Tracker<'a> {
    signer: &'a LinkSigner,
    base: &'a str,
    message_id: &'a str,
    policy: &'a LinkPolicy,
    pub links: Vec<String>,
}

impl<'a> Tracker<'a> {
    pub fn new(
        signer: &'a LinkSigner,
        base: &'a str,
        message_id: &'a str,
        policy: &'a LinkPolicy,
    ) -> Self {
        Tracker {
            signer,
            base,
            message_id,
            policy,
            links: Vec::new(),
        }
    }

    /// The tracked URL for `url` (the same URL gets the same index).
    pub fn track(&mut self, url: &str, kind: LinkKind) -> String {
        let index = match self.links.iter().position(|u| u == url) {
            Some(i) => i,
            None => {
                self.links.push(url.to_string());
                self.links.len() - 1
            }
        };
        self.url(kind, u32::try_from(index).unwrap_or(u32::MAX))
    }

    pub fn url(&self, kind: LinkKind, index: u32) -> String {
        self.signer.url(
            self.base,
            &LinkToken {
                kind,
                message_id: self.message_id.to_string(),
                index,
            },
        )
    }

    /// The tracked URL for an allowed `url`; `None` for one on a host the shop did not configure.
    fn track_allowed(&mut self, url: &str) -> Option<String> {
        self.policy
            .allows(url)
            .then(|| self.track(url, LinkKind::Click))
    }

    /// Rewrites every `http(s)://` URL in plain text that is not already a hub link; removes
    /// those on hosts the shop did not configure.
    pub fn rewrite_text(&mut self, text: &str) -> String {
        let base = self.base;
        rewrite(
            text,
            base,
            |u| self.track_allowed(u).unwrap_or_default(),
            false,
        )
    }

    /// Rewrites every `href="http(s)://..."` in HTML that is not already a hub link; one on a
    /// host the shop did not configure becomes `#`.
    pub fn rewrite_html(&mut self, html: &str) -> String {
        let base = self.base;
        rewrite(
            html,
            base,
            |u| self.track_allowed(u).unwrap_or_else(|| "#".into()),
            true,
        )
    }
}

/// Is `url` one of the hub's own links (`base` itself, or a path under it)?
pub fn is_hub_link(url: &str, base: &str) -> bool {
    url.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
}

fn rewrite(s: &str, base: &str, mut track: impl FnMut(&str) -> String, html: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let next = if html {
            find_href(rest)
        } else {
            find_url(rest)
        };
        let Some((start, end)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        let raw = &rest[start..end];
        let url = if html {
            raw.replace("&amp;", "&")
        } else {
            raw.to_string()
        };
        if is_hub_link(&url, base) {
            out.push_str(raw);
        } else {
            out.push_str(&track(&url));
        }
        rest = &rest[end..];
    }
}

/// Does `s` start with `http://` or `https://`, in any case?
fn starts_with_http(s: &str) -> bool {
    let b = s.as_bytes();
    let has = |p: &[u8]| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p);
    has(b"http://") || has(b"https://")
}

/// The next bare URL in text: from `http://` or `https://` (any case) to whitespace or a
/// delimiter, without trailing sentence punctuation.
fn find_url(s: &str) -> Option<(usize, usize)> {
    let start = s
        .char_indices()
        .find(|&(i, c)| (c == 'h' || c == 'H') && starts_with_http(&s[i..]))?
        .0;
    let tail = &s[start..];
    let mut end = tail
        .find(|c: char| {
            c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '(' | ')' | '[' | ']')
        })
        .unwrap_or(tail.len());
    while end > 0 && tail[..end].ends_with(['.', ',', ';', ':', '!', '?']) {
        end -= 1;
    }
    Some((start, start + end))
}

/// The next `href` attribute value in HTML that is an `http(s)` URL: the attribute name in any
/// case, standing alone (`data-href` is another attribute), spaces allowed around `=`, the value
/// in double, single or no quotes. Scans the text once, without copying it.
fn find_href(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i + 4 <= b.len() {
        let is_name =
            b[i..i + 4].eq_ignore_ascii_case(b"href") && i > 0 && b[i - 1].is_ascii_whitespace();
        if !is_name {
            i += 1;
            continue;
        }
        let mut j = i + 4;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= b.len() || b[j] != b'=' {
            i += 4;
            continue;
        }
        j += 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let (vstart, vend) = match b.get(j) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let vstart = j + 1;
                let vend = b[vstart..]
                    .iter()
                    .position(|&c| c == q)
                    .map(|e| vstart + e)?;
                (vstart, vend)
            }
            Some(_) => {
                let vend = b[j..]
                    .iter()
                    .position(|&c| c.is_ascii_whitespace() || c == b'>')
                    .map_or(b.len(), |e| j + e);
                (j, vend)
            }
            None => return None,
        };
        if starts_with_http(&s[vstart..vend]) {
            return Some((vstart, vend));
        }
        i = vend.max(i + 4);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_text_and_hrefs_but_not_hub_links() {
        let signer = LinkSigner::new(b"k".to_vec());
        let policy = LinkPolicy::new(&["shop.test".into()], None).unwrap();
        let mut t = Tracker::new(&signer, "https://hub.test", "m1", &policy);
        let text = t.rewrite_text(
            "See https://shop.test/a?x=1&y=2. Or (http://shop.test/b), https://hub.test/u/keep",
        );
        assert!(text.starts_with("See https://hub.test/t/"), "{text}");
        assert!(text.contains(". Or (https://hub.test/t/"), "{text}");
        assert!(text.ends_with(", https://hub.test/u/keep"), "{text}");
        assert_eq!(
            t.links,
            vec!["https://shop.test/a?x=1&y=2", "http://shop.test/b"]
        );
        let html = t.rewrite_html(r#"<a href="https://shop.test/a?x=1&amp;y=2">A</a><a HREF='https://shop.test/c'>C</a><a href="/rel">R</a><img src="https://cdn/x.png">"#);
        assert_eq!(t.links.len(), 3, "same URL, same index: {:?}", t.links);
        assert!(
            html.contains(r#"src="https://cdn/x.png""#),
            "images untouched: {html}"
        );
        assert!(html.contains(r#"href="/rel""#));
        assert_eq!(html.matches("https://hub.test/t/").count(), 2, "{html}");
    }

    #[test]
    fn urls_on_other_hosts_are_removed_not_tracked() {
        let signer = LinkSigner::new(b"k".to_vec());
        let policy = LinkPolicy::new(&["shop.test".into()], None).unwrap();
        let mut t = Tracker::new(&signer, "https://hub.test", "m1", &policy);
        let text = t.rewrite_text(
            "ACTION REQUIRED http://evil.example/card now; https://hub.test.evil.example/x and https://shop.test/a",
        );
        assert!(!text.contains("evil.example/card"), "{text}");
        assert!(!text.contains("hub.test.evil"), "{text}");
        assert_eq!(t.links, vec!["https://shop.test/a"]);
        let html = t.rewrite_html(r#"<a href="http://evil.example/card">Pay</a>"#);
        assert_eq!(html, r##"<a href="#">Pay</a>"##);
        assert_eq!(t.links.len(), 1);
    }

    #[test]
    fn hrefs_in_every_form_and_only_hrefs() {
        let signer = LinkSigner::new(b"k".to_vec());
        let policy = LinkPolicy::new(&["shop.test".into()], None).unwrap();
        let mut t = Tracker::new(&signer, "https://hub.test", "m1", &policy);
        let html = t.rewrite_html(concat!(
            r#"<a href = "https://shop.test/a">A</a>"#,
            r#"<a HREF='HTTPS://SHOP.TEST/b'>B</a>"#,
            r#"<a href=https://shop.test/c>C</a>"#,
            r#"<div data-href="https://shop.test/d">D</div>"#,
            r#"<a class="x" href="mailto:ann@example.com">E</a>"#,
        ));
        assert_eq!(html.matches("https://hub.test/t/").count(), 3, "{html}");
        assert!(
            html.contains(r#"data-href="https://shop.test/d""#),
            "{html}"
        );
        assert!(html.contains("mailto:ann@example.com"), "{html}");
        assert_eq!(t.links.len(), 3, "{:?}", t.links);
        let text = t.rewrite_text("Back to HTTPS://SHOP.TEST/a, or Http://shop.test/e.");
        assert_eq!(text.matches("https://hub.test/t/").count(), 2, "{text}");
        assert!(text.ends_with('.'), "{text}");
    }
}
