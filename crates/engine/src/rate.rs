//! A channel's `rate` (`"100/s"`) for the whole deployment. Every send waits for the
//! [`SharedLimiter`]: first this process's pacing (at most the full rate, with a burst of one
//! period's worth, as a single process always had), then one token of a block this process took
//! from the channel's bucket in the store ([`Outbox::take_send_tokens`]), which every instance
//! shares. A block is about a twentieth of a second's worth, so the deployment asks the database
//! some twenty times a second per busy channel however many messages go, never once per message.
//! Tokens of a block an instance still holds when it stops are lost: the provider sees fewer,
//! never more. On SQLite the store grants every block at once (one process owns the database:
//! the pacing is already the deployment's).
//!
//! [`Outbox::take_send_tokens`]: cartback_store::Outbox::take_send_tokens

use crate::config::Cap;
use cartback_store::{Outbox, SendRate, SendTokens, StoreResult};
use std::time::Duration;
use tokio::time::Instant;

/// Where the shared tokens come from: the store, or a test's bucket.
#[async_trait::async_trait]
pub(crate) trait TokenSource: Send + Sync {
    async fn take(&self, channel_id: &str, want: u32, rate: SendRate) -> StoreResult<SendTokens>;
}

#[async_trait::async_trait]
impl<T: Outbox + ?Sized> TokenSource for T {
    async fn take(&self, channel_id: &str, want: u32, rate: SendRate) -> StoreResult<SendTokens> {
        self.take_send_tokens(channel_id, want, rate).await
    }
}

/// One channel's rate: local pacing in front of the deployment's shared bucket.
#[derive(Debug)]
pub struct SharedLimiter {
    channel_id: String,
    rate: SendRate,
    /// Tokens taken from the shared bucket at a time.
    block: u32,
    pace: std::sync::Mutex<Pacer>,
    /// Tokens of the last block not yet handed out; held across a request to the store, so the
    /// sends waiting behind it queue here and one asks.
    held: tokio::sync::Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    tokens: u32,
    /// The earliest moment asking the shared bucket again can be worth it.
    next_ask: Option<Instant>,
}

impl SharedLimiter {
    /// The limiter of `rate` (a `rate = "N/period"` with N of at least one; zero is taken as one).
    pub fn new(channel_id: impl Into<String>, cap: Cap) -> Self {
        let max = cap.max.max(1);
        let burst = max.min(1000);
        let per_second = f64::from(max) / cap.per.as_secs_f64().max(1e-9);
        let rate = SendRate { per_second, burst };
        SharedLimiter {
            channel_id: channel_id.into(),
            rate,
            block: block_size(rate),
            pace: std::sync::Mutex::new(Pacer::new(cap.per / max, burst)),
            held: tokio::sync::Mutex::new(Held::default()),
        }
    }

    /// Tokens taken from the shared bucket at a time.
    pub fn block(&self) -> u32 {
        self.block
    }

    /// Waits until one more send may go: this process's pacing, then a token of the shared
    /// bucket. Fails only when the store cannot be asked.
    pub(crate) async fn until_ready<S: TokenSource + ?Sized>(&self, store: &S) -> StoreResult<()> {
        loop {
            let now = Instant::now();
            let wait = self
                .pace
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(now);
            match wait {
                Ok(()) => break,
                Err(d) => tokio::time::sleep(d).await,
            }
        }
        let mut held = self.held.lock().await;
        loop {
            if held.tokens > 0 {
                held.tokens -= 1;
                return Ok(());
            }
            // Not before the bucket can hold a block again, as far as this process knows (others
            // only take from it: it can hold no more than that).
            if let Some(at) = held.next_ask.filter(|at| *at > Instant::now()) {
                tokio::time::sleep_until(at).await;
            }
            let got = store.take(&self.channel_id, self.block, self.rate).await?;
            let outcome = if got.granted > 0 { "granted" } else { "empty" };
            metrics::counter!("cartback_rate_blocks_total", "channel" => self.channel_id.clone(), "outcome" => outcome)
                .increment(1);
            let refill = refill_wait(self.block, got.left, self.rate.per_second);
            if got.granted > 0 {
                held.tokens = got.granted - 1;
                held.next_ask = Some(Instant::now() + refill);
                return Ok(());
            }
            // Empty (another instance took it first, or it was drained): ask again once a block
            // has refilled, and not sooner than half a block's time (asking later loses nothing:
            // the bucket keeps what it refills, up to the burst).
            let half_block = refill_wait(self.block, 0.0, self.rate.per_second) / 2;
            held.next_ask = Some(Instant::now() + refill.max(half_block));
        }
    }

    /// Whether this process's pacing lets one send go now (taking it if so); tests.
    #[cfg(test)]
    pub(crate) fn pace_now(&self) -> bool {
        self.pace
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(Instant::now())
            .is_ok()
    }
}

/// Tokens taken from the shared bucket at a time: a twentieth of a second's worth, at least one and
/// at most the burst (the bucket never holds more).
pub fn block_size(rate: SendRate) -> u32 {
    let twentieth = (rate.per_second / 20.0).round();
    let block = if twentieth >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        twentieth as u32
    };
    block.clamp(1, rate.burst.max(1))
}

/// How far short of a whole block the bucket may be and still grant it: the refill arithmetic in
/// floating point (`rate_buckets` uses the same).
pub const GRANT_SLACK: f64 = 1e-6;

/// How long until a bucket holding `left` tokens holds `want`, at `per_second`: the wait before
/// asking again (none when they are there; else at least a millisecond and at most an hour).
/// Another instance may take them first: then it asks again.
pub fn refill_wait(want: u32, left: f64, per_second: f64) -> Duration {
    let missing = f64::from(want) - left;
    if missing <= GRANT_SLACK {
        return Duration::ZERO;
    }
    let secs = if per_second > 0.0 {
        missing / per_second
    } else {
        1.0
    };
    Duration::from_secs_f64(secs.clamp(0.001, 3600.0))
}

/// This process's pacing: a generic cell rate (one send per `interval`, up to `burst` at once
/// after a pause), on tokio's clock.
#[derive(Debug)]
struct Pacer {
    interval: Duration,
    /// How far ahead of now the theoretical arrival time may run: `interval × (burst − 1)`.
    tolerance: Duration,
    tat: Option<Instant>,
}

impl Pacer {
    fn new(interval: Duration, burst: u32) -> Self {
        Pacer {
            interval,
            tolerance: interval.saturating_mul(burst.max(1) - 1),
            tat: None,
        }
    }

    /// Takes one send at `now`, or says how long until one may go.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let tat = self.tat.map_or(now, |t| t.max(now));
        let earliest = tat.checked_sub(self.tolerance).unwrap_or(now);
        if earliest <= now {
            self.tat = Some(tat + self.interval);
            Ok(())
        } else {
            Err(earliest - now)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    fn cap(max: u32, per_ms: u64) -> Cap {
        Cap {
            max,
            per: Duration::from_millis(per_ms),
        }
    }

    /// The bucket `rate_buckets` keeps, on tokio's clock: refilled by the time elapsed, capped at
    /// the burst, all or nothing.
    #[derive(Default)]
    struct Bucket {
        state: Mutex<Option<(f64, Instant)>>,
        asks: AtomicU32,
    }

    #[async_trait::async_trait]
    impl TokenSource for Bucket {
        async fn take(&self, _: &str, want: u32, rate: SendRate) -> StoreResult<SendTokens> {
            self.asks.fetch_add(1, Ordering::SeqCst);
            let now = Instant::now();
            let mut s = self.state.lock().unwrap();
            let (tokens, at) = s.unwrap_or((f64::from(rate.burst), now));
            let avail =
                (tokens + (now - at).as_secs_f64() * rate.per_second).min(f64::from(rate.burst));
            let granted = if avail >= f64::from(want) - GRANT_SLACK {
                want
            } else {
                0
            };
            let left = avail - f64::from(granted);
            *s = Some((left, now));
            Ok(SendTokens { granted, left })
        }
    }

    #[test]
    fn blocks_are_a_twentieth_of_a_second_within_one_and_the_burst() {
        let r = |per_second, burst| SendRate { per_second, burst };
        assert_eq!(block_size(r(100.0, 100)), 5);
        assert_eq!(block_size(r(1000.0, 1000)), 50);
        assert_eq!(block_size(r(10.0, 10)), 1);
        assert_eq!(block_size(r(1.0 / 57_600.0, 1)), 1, "1/16h");
        assert_eq!(
            block_size(r(1e6, 1000)),
            1000,
            "never more than the bucket holds"
        );
        assert_eq!(SharedLimiter::new("sms", cap(100, 1000)).block(), 5);
    }

    #[test]
    fn the_wait_is_the_refill_of_what_is_missing() {
        assert_eq!(refill_wait(5, 0.0, 100.0), Duration::from_millis(50));
        assert_eq!(refill_wait(5, 4.0, 100.0), Duration::from_millis(10));
        assert_eq!(refill_wait(5, 7.5, 100.0), Duration::ZERO);
        assert_eq!(
            refill_wait(5, 4.9999999, 100.0),
            Duration::ZERO,
            "within the slack"
        );
        assert_eq!(refill_wait(5, 4.99999, 100.0), Duration::from_millis(1));
        assert_eq!(refill_wait(1, 0.0, 0.0), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn pacing_allows_the_burst_then_the_rate() {
        let l = SharedLimiter::new("email", cap(10, 1000));
        let allowed = (0..50).filter(|_| l.pace_now()).count();
        assert_eq!(allowed, 10, "burst of one period's worth");
        tokio::time::advance(Duration::from_millis(99)).await;
        assert!(!l.pace_now());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(l.pace_now(), "then one per tenth of a second");
        assert!(!l.pace_now());
    }

    /// Takes one token per call from a bucket the test owns; counts the round trips.
    #[tokio::test(start_paused = true)]
    async fn one_instance_asks_once_per_block() {
        let bucket = Bucket::default();
        let l = SharedLimiter::new("sms", cap(100, 1000));
        for _ in 0..200 {
            l.until_ready(&bucket).await.unwrap();
        }
        assert_eq!(
            bucket.asks.load(Ordering::SeqCst),
            40,
            "200 sends in blocks of 5"
        );
    }

    /// Two instances (two limiters, each with eight sends in flight) on one bucket at 100/s:
    /// after the first second's burst, 100 a second between them (±5%), each doing some, in about
    /// twenty round trips a second.
    #[tokio::test(start_paused = true)]
    async fn two_instances_hold_the_rate_between_them() {
        let bucket = Arc::new(Bucket::default());
        let start = Instant::now();
        let sends: Arc<Mutex<Vec<(usize, Duration)>>> = Arc::default();
        let mut tasks = Vec::new();
        for instance in 0..2 {
            let l = Arc::new(SharedLimiter::new("sms", cap(100, 1000)));
            for _ in 0..8 {
                let (l, bucket, sends) = (l.clone(), bucket.clone(), sends.clone());
                tasks.push(tokio::spawn(async move {
                    while start.elapsed() < Duration::from_secs(7) {
                        l.until_ready(&*bucket).await.unwrap();
                        sends.lock().unwrap().push((instance, start.elapsed()));
                        // A send takes a few milliseconds.
                        tokio::time::sleep(Duration::from_millis(3)).await;
                    }
                }));
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        let sends = sends.lock().unwrap();
        let window = |a: u64, b: u64| {
            sends.iter().filter(move |(_, at)| {
                *at >= Duration::from_secs(a) && *at < Duration::from_secs(b)
            })
        };
        let first = window(0, 1).count();
        assert!(first <= 200 + 10, "the burst and one second: {first}");
        let steady = window(2, 7).count() as f64 / 5.0;
        assert!(
            (95.0..=105.0).contains(&steady),
            "{steady}/s between two instances"
        );
        for s in 2..7 {
            let n = window(s, s + 1).count();
            assert!((90..=110).contains(&n), "second {s}: {n}");
        }
        for i in 0..2 {
            assert!(
                window(2, 7).filter(|(who, _)| *who == i).count() > 100,
                "instance {i} did its share"
            );
        }
        let asks = bucket.asks.load(Ordering::SeqCst);
        // The burst's twenty blocks, then twenty grants a second and at most one miss per block
        // per instance (about 300 here).
        assert!(asks <= 20 + 7 * 20 * 3, "{asks} round trips in 7 s");
    }
}
