//! Quiet hours: a send that falls inside the window, in the contact's time zone, waits for its end.

use chrono::{DateTime, Duration, LocalResult, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A daily window `[from, to)` in local time; `from > to` crosses midnight (`21:00`–`09:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietWindow {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl QuietWindow {
    pub fn parse(from: &str, to: &str) -> Option<QuietWindow> {
        Some(QuietWindow {
            from: NaiveTime::parse_from_str(from.trim(), "%H:%M").ok()?,
            to: NaiveTime::parse_from_str(to.trim(), "%H:%M").ok()?,
        })
    }

    fn contains(&self, t: NaiveTime) -> bool {
        if self.from <= self.to {
            self.from <= t && t < self.to
        } else {
            t >= self.from || t < self.to
        }
    }

    /// `None` when `now` is outside the window; else the instant the window ends.
    pub fn defer_until(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.from == self.to {
            return None;
        }
        let local = now.with_timezone(&tz);
        if !self.contains(local.time()) {
            return None;
        }
        // The end is today's `to` if still ahead, else tomorrow's.
        let mut day = local.date_naive();
        if local.time() >= self.to {
            day = day.succ_opt()?;
        }
        let naive_end = day.and_time(self.to);
        let end = match tz.from_local_datetime(&naive_end) {
            LocalResult::Single(t) => t,
            LocalResult::Ambiguous(first, _) => first,
            // The end falls in a DST gap: the first valid instant after it.
            LocalResult::None => tz
                .from_local_datetime(&(naive_end + Duration::hours(1)))
                .earliest()?,
        };
        Some(end.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    #[test]
    fn defers_across_midnight_in_two_zones() {
        let w = QuietWindow::parse("21:00", "09:00").expect("valid");
        // 22:30 in Paris (UTC+1 in winter) → 09:00 Paris next day = 08:00 UTC.
        let paris: Tz = "Europe/Paris".parse().expect("tz");
        assert_eq!(
            w.defer_until(utc("2026-11-23T21:30:00Z"), paris),
            Some(utc("2026-11-24T08:00:00Z"))
        );
        // The same instant is 16:30 in New York: outside the window.
        let ny: Tz = "America/New_York".parse().expect("tz");
        assert_eq!(w.defer_until(utc("2026-11-23T21:30:00Z"), ny), None);
        // 02:00 in New York (07:00 UTC) is after midnight, inside: ends 09:00 NY the same day = 14:00 UTC.
        assert_eq!(
            w.defer_until(utc("2026-11-24T07:00:00Z"), ny),
            Some(utc("2026-11-24T14:00:00Z"))
        );
        // Exactly at the end: outside.
        assert_eq!(w.defer_until(utc("2026-11-24T14:00:00Z"), ny), None);
    }

    #[test]
    fn same_day_window() {
        let w = QuietWindow::parse("12:00", "14:00").expect("valid");
        let tz: Tz = "UTC".parse().expect("tz");
        assert_eq!(
            w.defer_until(utc("2026-11-23T13:00:00Z"), tz),
            Some(utc("2026-11-23T14:00:00Z"))
        );
        assert_eq!(w.defer_until(utc("2026-11-23T11:59:00Z"), tz), None);
    }
}
