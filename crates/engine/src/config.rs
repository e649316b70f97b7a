//! The `[flow.*]`, `[template.*]` and `[limits]` tables: their shape (serde) and their pure
//! validation. Loading the file is the binary's job; nothing here does I/O.

use cartback_core::duration::HumanDuration;
use serde::Deserialize;
use std::collections::BTreeMap;

pub use crate::conditions::{parse_condition, Condition, Trigger};

/// `max_cart_age` when a flow does not say: a cart whose last activity is older is never
/// reminded (a late or replayed webhook, an import).
pub const DEFAULT_MAX_CART_AGE: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

fn default_max_cart_age() -> HumanDuration {
    HumanDuration(DEFAULT_MAX_CART_AGE)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReenterSettings {
    /// At most this many runs per contact...
    pub max: u32,
    /// ...within this period.
    pub within: HumanDuration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, local time of the contact.
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendSettings {
    pub channel: String,
    /// Required for message channels (email, SMS); hand-off channels send the cart itself.
    #[serde(default)]
    pub template: Option<String>,
}

/// A discount offered in a step: a fixed code, or one taken from a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountSettings {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub codes: Vec<String>,
    /// Free text for the template ("free shipping and 5% off").
    #[serde(default)]
    pub description: Option<String>,
    /// How long the offer holds, shown in the template.
    #[serde(default)]
    pub expires_after: Option<HumanDuration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSettings {
    /// What the shop calls this step ("first reminder"): shown with its number in the runs and
    /// messages APIs, the report and the dashboard. Without it the step is described by what it
    /// does ("cart_email via sendgrid").
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub wait: Option<HumanDuration>,
    /// Skip the send when any of these holds.
    #[serde(default)]
    pub unless: Vec<String>,
    /// Send only when all of these hold.
    #[serde(default, rename = "if")]
    pub if_all: Vec<String>,
    #[serde(default)]
    pub send: Option<SendSettings>,
    #[serde(default)]
    pub discount: Option<DiscountSettings>,
    /// A `[survey.<id>]` this step's message asks ("why they left"): `{{ links.survey }}`.
    #[serde(default)]
    pub survey: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSettings {
    pub name: String,
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default, alias = "steps")]
    pub step: Vec<StepSettings>,
}

fn one() -> u32 {
    1
}

/// `holdout_percent`: a whole number from 0 to 100. What people write instead (`"50%"`, `"50"`,
/// `12.5`, `150`) is refused with a sentence that says what to write.
fn percent<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    use serde::de::Error as _;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Whole(i64),
        Fraction(f64),
        Text(String),
    }
    const RULE: &str =
        "a whole number from 0 to 100, without quotes or %, like holdout_percent = 50";
    match Written::deserialize(d).map_err(|_| D::Error::custom(format!("must be {RULE}")))? {
        // 101 to 255 pass here so that `validate` reports them with the flow's other problems.
        Written::Whole(n) => u8::try_from(n)
            .map_err(|_| D::Error::custom(format!("{n} is out of range: it must be {RULE}"))),
        Written::Fraction(f) => Err(D::Error::custom(format!(
            "{f} has a fraction: it must be {RULE}"
        ))),
        Written::Text(t) => {
            let number = t.trim().trim_end_matches('%').trim();
            Err(D::Error::custom(match number.parse::<u8>() {
                Ok(n) if n <= 100 => format!(
                    "{t:?} is text: write the number without quotes or %: holdout_percent = {n}"
                ),
                _ => format!("{t:?} is not a number: it must be {RULE}"),
            }))
        }
    }
}

fn default_attribution() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(7 * 86_400))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSettings {
    pub trigger: Trigger,
    /// A cart untouched this long (and unbought) is abandoned. Required for `cart_abandoned` and
    /// `checkout_abandoned`; a `tag:` or `event:` flow starts when its trigger arrives.
    #[serde(default)]
    pub abandon_after: Option<HumanDuration>,
    /// A cart whose last activity (as the platform dates it) is older than this is stored and
    /// reported but never enrolled: an import or a replay never reminds about last month's cart.
    #[serde(default = "default_max_cart_age")]
    pub max_cart_age: HumanDuration,
    /// A whole number from 0 to 100; `"50%"` and `12.5` are refused with a sentence saying so.
    #[serde(default, deserialize_with = "percent")]
    pub holdout_percent: u8,
    #[serde(default)]
    pub reenter: Option<ReenterSettings>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// Time zone for contacts that have none (IANA name).
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default = "default_attribution")]
    pub attribution_window: HumanDuration,
    /// Require marketing consent (subscribed) before sending; otherwise only opt-outs block.
    #[serde(default)]
    pub require_consent: bool,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub step: Vec<StepSettings>,
    #[serde(default)]
    pub variants: Vec<VariantSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub html_file: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub text_file: Option<String>,
}

/// Cross-flow caps per channel: `email = "1/16h"`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct LimitsSettings(pub BTreeMap<String, String>);

/// A parsed `N/period` cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub max: u32,
    pub per: std::time::Duration,
}

pub fn parse_cap(s: &str) -> Result<Cap, String> {
    let (n, period) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not a cap like \"1/16h\""))?;
    let max = n
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("{s:?}: {n:?} is not a whole number"))?;
    // "20/s" and "600/m" mean one second, one minute.
    let period = period.trim();
    let period = if period.starts_with(|c: char| c.is_ascii_digit()) {
        period.to_string()
    } else {
        format!("1{period}")
    };
    let per = cartback_core::duration::parse_duration(&period).map_err(|e| e.to_string())?;
    if per.is_zero() {
        return Err(format!("{s:?}: the period must be longer than zero"));
    }
    Ok(Cap { max, per })
}

fn parse_hhmm(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (h < 24 && m < 60 && s.trim().len() == 5).then_some((h, m))
}

pub use crate::survey::{ReasonSettings, SurveySettings};

/// A problem found while validating, with the key path below the table (`step[1].send.channel`):
/// the one problem type of the whole configuration.
pub use cartback_core::Problem;

impl FlowSettings {
    /// Every step list of the flow with its key path: `step`, or each variant's
    /// `variants[i].steps`.
    pub fn step_lists(&self) -> Vec<(String, &[StepSettings])> {
        std::iter::once(("step".to_string(), self.step.as_slice()))
            .chain(
                self.variants
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("variants[{i}].steps"), v.step.as_slice())),
            )
            .collect()
    }

    /// Pure validation: every problem, with its path relative to the flow table. `channels` and
    /// `templates` are the ids the configuration declares (a channel whose own table has a
    /// problem is still declared: that problem is reported there, not again here).
    pub fn validate(&self, channels: &[String], templates: &[String]) -> Vec<Problem> {
        let declared = |ids: &[String]| {
            if ids.is_empty() {
                "none is configured".to_string()
            } else {
                format!("configured: {}", ids.join(", "))
            }
        };
        let mut out = Vec::new();
        let mut p = |path: String, message: String| out.push(Problem { path, message });
        if self.holdout_percent > 100 {
            p("holdout_percent".into(), "must be between 0 and 100".into());
        }
        match (&self.abandon_after, self.trigger.on_abandonment()) {
            (None, true) => p(
                "abandon_after".into(),
                "a cart_abandoned or checkout_abandoned flow needs it (\"1h\", say)".into(),
            ),
            (Some(a), true) if a.0.is_zero() => {
                p("abandon_after".into(), "must be longer than zero".into())
            }
            (Some(_), false) => p(
                "abandon_after".into(),
                "a tag: or event: flow starts when its trigger arrives; delay it with the first step's `wait`".into(),
            ),
            _ => {}
        }
        if let Some(a) = &self.abandon_after {
            if self.trigger.on_abandonment() && self.max_cart_age.0 <= a.0 {
                p(
                    "max_cart_age".into(),
                    "must be longer than abandon_after, or no cart would ever be reminded".into(),
                );
            }
        }
        if let Some(r) = &self.reenter {
            if r.within.0.is_zero() && r.max > 0 {
                p("reenter.within".into(), "must be longer than zero".into());
            }
        }
        if let Some(q) = &self.quiet_hours {
            for (k, v) in [("from", &q.from), ("to", &q.to)] {
                if parse_hhmm(v).is_none() {
                    p(
                        format!("quiet_hours.{k}"),
                        format!("{v:?} is not a time like \"21:00\""),
                    );
                }
            }
        }
        if let Some(tz) = &self.timezone {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                p(
                    "timezone".into(),
                    format!("{tz:?} is not an IANA time zone"),
                );
            }
        }
        if self.step.is_empty() && self.variants.is_empty() {
            p(
                "step".into(),
                "a flow needs at least one step (or variants with steps)".into(),
            );
        }
        if !self.step.is_empty() && !self.variants.is_empty() {
            p(
                "variants".into(),
                "give either steps or variants, not both".into(),
            );
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, v) in self.variants.iter().enumerate() {
            if !names.insert(v.name.clone()) {
                p(
                    format!("variants[{i}].name"),
                    format!("duplicate variant {:?}", v.name),
                );
            }
            if v.weight == 0 {
                p(format!("variants[{i}].weight"), "must be at least 1".into());
            }
            if v.step.is_empty() {
                p(
                    format!("variants[{i}].steps"),
                    "a variant needs at least one step".into(),
                );
            }
        }
        if !self.variants.is_empty() && self.variants.iter().map(|v| v.weight).sum::<u32>() == 0 {
            p("variants".into(), "weights sum to zero".into());
        }
        for (prefix, steps) in self.step_lists() {
            let mut step_names = std::collections::BTreeSet::new();
            for (i, s) in steps.iter().enumerate() {
                let at = format!("{prefix}[{i}]");
                if let Some(name) = &s.name {
                    if name.trim().is_empty() || name.chars().count() > 80 {
                        p(
                            format!("{at}.name"),
                            "a step's name is 1 to 80 characters".into(),
                        );
                    } else if !step_names.insert(name.trim().to_string()) {
                        p(
                            format!("{at}.name"),
                            format!("another step of this list is already called {name:?}"),
                        );
                    }
                }
                for (key, list) in [("unless", &s.unless), ("if", &s.if_all)] {
                    for (j, c) in list.iter().enumerate() {
                        if let Err(e) = parse_condition(c) {
                            p(format!("{at}.{key}[{j}]"), e);
                        }
                    }
                }
                if s.send.is_none() && s.wait.is_none() {
                    p(at.clone(), "a step needs `wait`, `send` or both".into());
                }
                if let Some(send) = &s.send {
                    if !channels.contains(&send.channel) {
                        p(
                            format!("{at}.send.channel"),
                            format!(
                                "no channel {:?} is configured ({})",
                                send.channel,
                                declared(channels)
                            ),
                        );
                    }
                    if let Some(t) = &send.template {
                        if !templates.contains(t) {
                            p(
                                format!("{at}.send.template"),
                                format!(
                                    "no template {t:?} is configured ({})",
                                    declared(templates)
                                ),
                            );
                        }
                    }
                }
                if let Some(d) = &s.discount {
                    if d.code.is_none() && d.codes.is_empty() {
                        p(format!("{at}.discount"), "give `code` or `codes`".into());
                    }
                }
            }
        }
        out
    }
}

impl TemplateSettings {
    pub fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.html.is_some() && self.html_file.is_some() {
            out.push(Problem {
                path: "html_file".into(),
                message: "give `html` or `html_file`, not both".into(),
            });
        }
        if self.text.is_some() && self.text_file.is_some() {
            out.push(Problem {
                path: "text_file".into(),
                message: "give `text` or `text_file`, not both".into(),
            });
        }
        if self.html.is_none()
            && self.html_file.is_none()
            && self.text.is_none()
            && self.text_file.is_none()
        {
            out.push(Problem {
                path: "text".into(),
                message: "a template needs a body: `html`, `text`, `html_file` or `text_file`"
                    .into(),
            });
        }
        out
    }
}

pub fn validate_limits(limits: &LimitsSettings) -> Vec<Problem> {
    limits
        .0
        .iter()
        .filter_map(|(k, v)| {
            parse_cap(v).err().map(|e| Problem {
                path: k.clone(),
                message: e,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_parse_and_abandon_after_goes_with_abandonment() {
        assert_eq!(
            Trigger::parse("checkout_abandoned"),
            Ok(Trigger::CheckoutAbandoned)
        );
        assert_eq!(
            Trigger::parse("tag:AB CART"),
            Ok(Trigger::Tag("AB CART".into()))
        );
        assert_eq!(
            Trigger::parse("event:Wishlist Product Added"),
            Ok(Trigger::Event("Wishlist Product Added".into()))
        );
        assert!(Trigger::parse("tag: ").unwrap_err().contains("tag name"));
        assert!(Trigger::parse("cart_viewed")
            .unwrap_err()
            .contains("checkout_abandoned"));
        let flow = |extra: serde_json::Value| -> FlowSettings {
            let mut v = serde_json::json!({ "step": [{ "wait": "1h" }] });
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            serde_json::from_value(v).unwrap()
        };
        let paths = |f: FlowSettings| {
            f.validate(&[], &[])
                .into_iter()
                .map(|p| p.path)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            paths(flow(serde_json::json!({ "trigger": "cart_abandoned" }))),
            ["abandon_after"]
        );
        assert_eq!(
            paths(flow(
                serde_json::json!({ "trigger": "tag:VIP", "abandon_after": "1h" })
            )),
            ["abandon_after"]
        );
        assert!(paths(flow(serde_json::json!({ "trigger": "event:x" }))).is_empty());
        assert_eq!(
            paths(flow(
                serde_json::json!({ "trigger": "cart_abandoned", "abandon_after": "8d" })
            )),
            ["max_cart_age"],
            "the default 7 days is shorter than 8"
        );
        let f = flow(serde_json::json!({ "trigger": "cart_abandoned", "abandon_after": "1h" }));
        assert_eq!(f.max_cart_age.0, DEFAULT_MAX_CART_AGE);
    }

    #[test]
    fn caps_parse() {
        assert_eq!(parse_cap("1/16h").unwrap().max, 1);
        assert_eq!(
            parse_cap("20/s").unwrap(),
            Cap {
                max: 20,
                per: std::time::Duration::from_secs(1)
            }
        );
        assert_eq!(
            parse_cap("600/m").unwrap().per,
            std::time::Duration::from_secs(60)
        );
        assert!(parse_cap("x/1h").is_err());
        assert!(parse_cap("1/0s").is_err());
        assert!(parse_cap("1").is_err());
    }
}

fn default_concurrency() -> usize {
    4
}

fn default_max_attempts() -> u32 {
    6
}

fn default_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}

/// Settings every channel has, whatever its `type`: the outbox's knobs for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelCommon {
    /// Sends per period (`"20/s"`, `"600/m"`); unlimited when absent.
    #[serde(default)]
    pub rate: Option<String>,
    /// Deliveries in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Attempts before a retryable failure becomes `failed`.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// One delivery taking longer is abandoned as `unknown`.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// How long a claimed message is held; must exceed `timeout` plus a margin. Default: timeout + 30s.
    #[serde(default)]
    pub lease: Option<HumanDuration>,
    /// Send again a message whose outcome is unknown (timeout after the request went out).
    #[serde(default)]
    pub resend_unknown: bool,
    /// The wait before the first retry; it doubles with each attempt (±20% jitter).
    #[serde(default = "default_backoff")]
    pub backoff: HumanDuration,
    /// The longest wait between two attempts.
    #[serde(default = "default_backoff_max")]
    pub backoff_max: HumanDuration,
}

fn default_backoff() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(2))
}

fn default_backoff_max() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(3600))
}

impl Default for ChannelCommon {
    fn default() -> Self {
        ChannelCommon {
            rate: None,
            concurrency: default_concurrency(),
            max_attempts: default_max_attempts(),
            timeout: default_timeout(),
            lease: None,
            resend_unknown: false,
            backoff: default_backoff(),
            backoff_max: default_backoff_max(),
        }
    }
}

/// The margin a lease must leave past the send timeout.
pub const LEASE_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

impl ChannelCommon {
    pub const KEYS: &'static [&'static str] = &[
        "rate",
        "concurrency",
        "max_attempts",
        "timeout",
        "lease",
        "resend_unknown",
        "backoff",
        "backoff_max",
    ];

    pub fn lease(&self) -> std::time::Duration {
        self.lease
            .map(|l| l.0)
            .unwrap_or(self.timeout.0 + std::time::Duration::from_secs(30))
    }

    pub fn cap(&self) -> Option<Cap> {
        self.rate.as_deref().and_then(|r| parse_cap(r).ok())
    }

    pub fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut p = |path: &str, message: String| {
            out.push(Problem {
                path: path.into(),
                message,
            })
        };
        if let Some(r) = &self.rate {
            match parse_cap(r) {
                Ok(c) if c.max == 0 => p("rate", "must allow at least one send".into()),
                Ok(_) => {}
                Err(e) => p("rate", e),
            }
        }
        if self.concurrency == 0 || self.concurrency > 256 {
            p("concurrency", "must be between 1 and 256".into());
        }
        if self.max_attempts == 0 {
            p("max_attempts", "must be at least 1".into());
        }
        if self.timeout.0.is_zero() {
            p("timeout", "must be longer than zero".into());
        }
        if self.backoff.0.is_zero() {
            p("backoff", "must be longer than zero".into());
        }
        if self.backoff_max.0 < self.backoff.0 {
            p(
                "backoff_max",
                format!(
                    "must be at least backoff ({})",
                    humantime_fmt(self.backoff.0)
                ),
            );
        }
        if self.lease() < self.timeout.0 + LEASE_MARGIN {
            p(
                "lease",
                format!(
                    "must exceed timeout ({}) plus {}s, or a slow send could be claimed twice",
                    humantime_fmt(self.timeout.0),
                    LEASE_MARGIN.as_secs()
                ),
            );
        }
        out
    }
}

fn humantime_fmt(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs())
}

fn default_timer_lease() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(60))
}

fn default_poll() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(200))
}

fn default_timer_batch() -> u32 {
    512
}

/// The `[engine]` table: how the workers pace themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    /// How long a claimed timer is held before another worker (or instance) may fire it.
    #[serde(default = "default_timer_lease")]
    pub timer_lease: HumanDuration,
    /// How long an idle worker waits before looking for due work again.
    #[serde(default = "default_poll")]
    pub poll_interval: HumanDuration,
    /// Timers claimed per round.
    #[serde(default = "default_timer_batch")]
    pub timer_batch: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            timer_lease: default_timer_lease(),
            poll_interval: default_poll(),
            timer_batch: default_timer_batch(),
        }
    }
}

impl EngineSettings {
    pub fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.timer_lease.0 < std::time::Duration::from_secs(1) {
            out.push(Problem {
                path: "timer_lease".into(),
                message: "must be at least 1s".into(),
            });
        }
        if self.poll_interval.0.is_zero()
            || self.poll_interval.0 > std::time::Duration::from_secs(60)
        {
            out.push(Problem {
                path: "poll_interval".into(),
                message: "must be between 1ms and 60s".into(),
            });
        }
        if self.timer_batch == 0 || self.timer_batch > 10_000 {
            out.push(Problem {
                path: "timer_batch".into(),
                message: "must be between 1 and 10000".into(),
            });
        }
        out
    }
}
