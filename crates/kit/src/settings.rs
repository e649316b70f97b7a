//! Checks that connectors' settings tables share, each giving a [`Problem`] at the key it is
//! told (relative to the table), and the bridge from "every problem" to "the first one".
//!
//! A settings type writes `problems(&self) -> Vec<Problem>` (every problem, in the order a
//! reader meets the keys) with these, and keeps `validate(&self) -> Result<(), String>` as
//! [`first`] of them. The checks return `Option<Problem>`, so a list grows with
//! `out.extend(settings::secrets("secret", &self.secret))`.

use crate::{Secret, SecretList};
use cartback_core::Problem;
use std::time::Duration;

/// `problems` as `validate` reports them: `Ok` when there are none, else the first as one line
/// (see [`line()`]).
pub fn first(problems: Vec<Problem>) -> Result<(), String> {
    match problems.into_iter().next() {
        None => Ok(()),
        Some(p) => Err(line(&p)),
    }
}

/// A problem as one line of prose with its key in front: `"secret must not be empty"`
/// (`check-config` prints `source.shop.secret: must not be empty` instead). A problem about the
/// whole table (empty path) is its message alone.
pub fn line(problem: &Problem) -> String {
    if problem.path.is_empty() {
        problem.message.clone()
    } else {
        format!("{} {}", problem.path, problem.message)
    }
}

/// The path of `key` inside the table at `table`: `headers.X-Api-Key`; a key that is not bare
/// (letters, digits, `_`, `-`) is quoted as TOML quotes it: `headers."X.Api Key"`.
pub fn key_path(table: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        format!("{table}.{key}")
    } else {
        format!("{table}.{key:?}")
    }
}

/// `must not be empty` when any secret of the list is blank (spaces only count as blank).
pub fn secrets(key: &str, list: &SecretList) -> Option<Problem> {
    list.iter()
        .any(|s| s.expose().trim().is_empty())
        .then(|| Problem::new(key, "must not be empty"))
}

/// `must not be empty` when the secret is blank (spaces only count as blank).
pub fn secret(key: &str, secret: &Secret) -> Option<Problem> {
    secret
        .expose()
        .trim()
        .is_empty()
        .then(|| Problem::new(key, "must not be empty"))
}

/// `must be longer than zero` for a zero duration (a window, an interval).
pub fn positive(key: &str, duration: Duration) -> Option<Problem> {
    duration
        .is_zero()
        .then(|| Problem::new(key, "must be longer than zero"))
}

/// Whether `region` is an ISO 3166 two-letter country code that phone numbers can be read in
/// (`"FR"`, `"us"`): two ASCII letters, known to [`cartback_core::normalize_phone`].
pub fn is_phone_region(region: &str) -> bool {
    let r = region.trim();
    let two_letters = r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic());
    let known = !matches!(
        cartback_core::normalize_phone("1", Some(region)),
        Err(cartback_core::PhoneError::BadRegion(_))
    );
    two_letters && known
}

/// `default_phone_region`-style keys: when set, an ISO 3166 two-letter country code
/// ([`is_phone_region`]).
pub fn phone_region(key: &str, region: Option<&str>) -> Option<Problem> {
    let r = region?;
    (!is_phone_region(r)).then(|| {
        Problem::new(
            key,
            format!("{r:?} is not an ISO 3166 two-letter country code"),
        )
    })
}

/// `default_currency`-style keys: when set, an ISO 4217 code ([`cartback_core::Currency`]).
pub fn currency(key: &str, code: Option<&str>) -> Option<Problem> {
    let code = code?;
    cartback_core::Currency::parse(code)
        .is_err()
        .then(|| Problem::new(key, format!("{code:?} is not an ISO 4217 code")))
}

/// A shop's base URL (`https://shop.example`, maybe with a path): http(s), a host, no query or
/// fragment. The parsed URL, else the problem at `key`.
pub fn site_url(key: &str, raw: &str) -> Result<reqwest::Url, Problem> {
    let parsed = reqwest::Url::parse(raw.trim())
        .map_err(|e| Problem::new(key, format!("{raw:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(Problem::new(
            key,
            format!("{raw:?} must be an http(s) URL such as \"https://shop.example\""),
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Problem::new(
            key,
            format!("{raw:?} must not have a query or fragment"),
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_and_line_read_as_the_old_messages() {
        assert_eq!(first(Vec::new()), Ok(()));
        let two = vec![
            Problem::new("secret", "must not be empty"),
            Problem::new("max_age", "must be longer than zero"),
        ];
        assert_eq!(first(two), Err("secret must not be empty".to_string()));
        assert_eq!(
            first(vec![Problem::new("", "give a secret or a key")]),
            Err("give a secret or a key".to_string())
        );
    }

    #[test]
    fn key_paths_quote_what_is_not_bare() {
        assert_eq!(key_path("headers", "X-Api-Key"), "headers.X-Api-Key");
        assert_eq!(key_path("headers", "X.Key"), "headers.\"X.Key\"");
        assert_eq!(key_path("headers", "a b"), "headers.\"a b\"");
        assert_eq!(key_path("headers", ""), "headers.\"\"");
    }

    #[test]
    fn secrets_and_durations() {
        let list = SecretList::new(vec![Secret::new("a"), Secret::new(" ")]);
        assert_eq!(
            secrets("secret", &list).map(|p| line(&p)).as_deref(),
            Some("secret must not be empty")
        );
        assert_eq!(
            secrets("secret", &SecretList::new(vec![Secret::new("a")])),
            None
        );
        assert_eq!(
            secret("token", &Secret::new("\t"))
                .map(|p| p.path)
                .as_deref(),
            Some("token")
        );
        assert_eq!(secret("token", &Secret::new("t")), None);
        assert_eq!(
            positive("max_age", Duration::ZERO)
                .map(|p| line(&p))
                .as_deref(),
            Some("max_age must be longer than zero")
        );
        assert_eq!(positive("max_age", Duration::from_secs(1)), None);
    }

    #[test]
    fn phone_regions() {
        for ok in ["FR", "us", " GB "] {
            assert!(is_phone_region(ok), "{ok}");
            assert_eq!(phone_region("default_phone_region", Some(ok)), None);
        }
        assert_eq!(phone_region("default_phone_region", None), None);
        for bad in ["USA", "France", "F1", "", "ZZ"] {
            assert!(!is_phone_region(bad), "{bad}");
            let p = phone_region("default_phone_region", Some(bad)).expect(bad);
            assert_eq!(
                line(&p),
                format!("default_phone_region {bad:?} is not an ISO 3166 two-letter country code")
            );
        }
    }

    #[test]
    fn currencies() {
        assert_eq!(currency("default_currency", None), None);
        assert_eq!(currency("default_currency", Some("eur")), None);
        assert_eq!(
            currency("default_currency", Some("dollars"))
                .map(|p| line(&p))
                .as_deref(),
            Some("default_currency \"dollars\" is not an ISO 4217 code")
        );
    }

    #[test]
    fn site_urls() {
        assert_eq!(
            site_url("store_url", " https://shop.example/ ")
                .unwrap()
                .host_str(),
            Some("shop.example")
        );
        assert!(site_url("store_url", "http://shop.example/fr").is_ok());
        for (bad, says) in [
            ("shop.example", "is not a URL"),
            ("ftp://shop.example", "must be an http(s) URL"),
            (
                "https://shop.example/?a=1",
                "must not have a query or fragment",
            ),
            (
                "https://shop.example/#top",
                "must not have a query or fragment",
            ),
        ] {
            let p = site_url("store_url", bad).unwrap_err();
            assert_eq!(p.path, "store_url");
            assert!(p.message.contains(says), "{bad}: {}", p.message);
        }
    }
}
