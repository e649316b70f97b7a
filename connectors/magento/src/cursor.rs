//! Where polling stands: a [`Cursor`] holds the quotes' and the orders' [`Position`] (records at
//! or after a time, a page), stored as one string; [`advance`] moves a position past a page.
//! Magento's times are `2026-11-20 15:04:05`, UTC.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::time::Duration;

/// How far back a source without a cursor starts.
pub const INITIAL_LOOKBACK: Duration = Duration::from_secs(24 * 3600);
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Where one kind (quotes or orders) stands: records at or after `since`, page `page`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub since: DateTime<Utc>,
    pub page: u32,
}

/// Both positions, stored as one string (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub quotes: Position,
    pub orders: Position,
}

impl Cursor {
    /// Where a source without a cursor starts: [`INITIAL_LOOKBACK`] before `now`, page 1.
    pub fn start(now: DateTime<Utc>) -> Cursor {
        let since = now - chrono::Duration::from_std(INITIAL_LOOKBACK).unwrap_or_default();
        let since = parse_time(&format_time(since)).unwrap_or(since);
        let p = Position { since, page: 1 };
        Cursor {
            quotes: p,
            orders: p,
        }
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        let (mut q, mut qp, mut o, mut op) = (None, 1, None, 1);
        for part in s.split(';') {
            let (k, v) = part.split_once('=')?;
            match k.trim() {
                "q" => q = Some(parse_time(v)?),
                "o" => o = Some(parse_time(v)?),
                "qp" => qp = v.trim().parse::<u32>().ok().filter(|p| *p >= 1)?,
                "op" => op = v.trim().parse::<u32>().ok().filter(|p| *p >= 1)?,
                _ => return None,
            }
        }
        Some(Cursor {
            quotes: Position {
                since: q?,
                page: qp,
            },
            orders: Position {
                since: o?,
                page: op,
            },
        })
    }

    pub fn render(&self) -> String {
        format!(
            "q={};qp={};o={};op={}",
            format_time(self.quotes.since),
            self.quotes.page,
            format_time(self.orders.since),
            self.orders.page
        )
    }
}

/// The next position after a page: see the module doc.
pub fn advance(pos: Position, last: Option<DateTime<Utc>>, full: bool) -> Position {
    match last {
        Some(t) if full && t > pos.since => Position { since: t, page: 1 },
        _ if full => Position {
            since: pos.since,
            page: pos.page.saturating_add(1),
        },
        Some(t) => Position {
            since: t.max(pos.since),
            page: 1,
        },
        None => Position {
            since: pos.since,
            page: 1,
        },
    }
}

/// Magento's time format (`2026-11-20 15:04:05`, UTC).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format(TIME_FORMAT).to_string()
}

/// Reads `2026-11-20 15:04:05` (Magento, UTC), also with `T`, fractions or an offset.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
