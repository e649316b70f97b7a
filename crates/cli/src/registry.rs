//! The one registry that maps a config `type` to a connector: a plain enum with a `match`, one
//! cargo feature per connector. Adding a platform touches this file, `Cargo.toml` and the docs only.

use crate::config::{typed, Problem};
use cartback_core::Source;
use serde_json::Value;
use std::sync::Arc;

/// Source types this build knows.
pub const SOURCE_TYPES: &[&str] = &[
    #[cfg(feature = "shopify")]
    "shopify",
    #[cfg(feature = "woocommerce")]
    "woocommerce",
    #[cfg(feature = "hubspot")]
    "hubspot",
    #[cfg(feature = "segment")]
    "segment",
    #[cfg(feature = "klaviyo")]
    "klaviyo",
    #[cfg(feature = "magento")]
    "magento",
];

/// Channel types this build knows.
pub const CHANNEL_TYPES: &[&str] = &[
    "console",
    "web",
    #[cfg(feature = "sendgrid")]
    "sendgrid",
    #[cfg(feature = "twilio")]
    "twilio",
    #[cfg(feature = "smtp")]
    "smtp",
    #[cfg(feature = "webhook")]
    "webhook",
];

#[derive(Debug, Clone)]
pub enum SourceSettings {
    #[cfg(feature = "shopify")]
    Shopify(cartback_shopify::ShopifySettings),
    #[cfg(feature = "woocommerce")]
    WooCommerce(cartback_woocommerce::WooSettings),
    #[cfg(feature = "hubspot")]
    HubSpot(cartback_hubspot::HubSpotSettings),
    #[cfg(feature = "segment")]
    Segment(cartback_segment::SegmentSettings),
    #[cfg(feature = "klaviyo")]
    Klaviyo(cartback_klaviyo::KlaviyoSettings),
    #[cfg(feature = "magento")]
    Magento(cartback_magento::MagentoSettings),
}

#[derive(Debug, Clone)]
pub enum ChannelSettings {
    Console(crate::console::ConsoleSettings),
    Web(cartback_server::onsite::WebSettings),
    #[cfg(feature = "sendgrid")]
    SendGrid(cartback_sendgrid::SendGridSettings),
    #[cfg(feature = "twilio")]
    Twilio(cartback_twilio::TwilioSettings),
    #[cfg(feature = "smtp")]
    Smtp(cartback_smtp::SmtpSettings),
    #[cfg(feature = "webhook")]
    Webhook(cartback_webhook::WebhookSettings),
}

fn checked<T>(
    parsed: Option<T>,
    validate: impl Fn(&T) -> Result<(), String>,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let t = parsed?;
    match validate(&t) {
        Ok(()) => Some(t),
        Err(message) => {
            problems.push(Problem {
                path: at.to_string(),
                message,
            });
            None
        }
    }
}

pub fn source_settings(
    kind: &str,
    value: Value,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Option<SourceSettings> {
    match kind {
        #[cfg(feature = "shopify")]
        "shopify" => checked(
            typed(value, at, problems),
            |s: &cartback_shopify::ShopifySettings| s.validate(),
            at,
            problems,
        )
        .map(SourceSettings::Shopify),
        #[cfg(feature = "woocommerce")]
        "woocommerce" => checked(
            typed(value, at, problems),
            cartback_woocommerce::WooSettings::validate,
            at,
            problems,
        )
        .map(SourceSettings::WooCommerce),
        #[cfg(feature = "hubspot")]
        "hubspot" => checked(
            typed(value, at, problems),
            cartback_hubspot::HubSpotSettings::validate,
            at,
            problems,
        )
        .map(SourceSettings::HubSpot),
        #[cfg(feature = "segment")]
        "segment" => checked(
            typed(value, at, problems),
            cartback_segment::SegmentSettings::validate,
            at,
            problems,
        )
        .map(SourceSettings::Segment),
        #[cfg(feature = "klaviyo")]
        "klaviyo" => checked(
            typed(value, at, problems),
            cartback_klaviyo::KlaviyoSettings::validate,
            at,
            problems,
        )
        .map(SourceSettings::Klaviyo),
        #[cfg(feature = "magento")]
        "magento" => checked(
            typed(value, at, problems),
            cartback_magento::MagentoSettings::validate,
            at,
            problems,
        )
        .map(SourceSettings::Magento),
        _ => {
            let _ = value;
            None
        }
    }
}

/// Splits the outbox's own keys (`rate`, `concurrency`, `timeout`, ...) off a channel table.
pub fn channel_common(
    value: &mut Value,
    at: &str,
    problems: &mut Vec<Problem>,
) -> cartback_engine::config::ChannelCommon {
    let mut common = serde_json::Map::new();
    if let Value::Object(m) = value {
        for key in cartback_engine::config::ChannelCommon::KEYS {
            if let Some(v) = m.remove(*key) {
                common.insert((*key).to_string(), v);
            }
        }
    }
    let parsed: cartback_engine::config::ChannelCommon =
        typed(Value::Object(common), at, problems).unwrap_or_default();
    for p in parsed.validate() {
        problems.push(Problem {
            path: format!("{at}.{}", p.path),
            message: p.message,
        });
    }
    parsed
}

pub fn channel_settings(
    kind: &str,
    value: Value,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Option<ChannelSettings> {
    match kind {
        "console" => checked(
            typed(value, at, problems),
            crate::console::ConsoleSettings::validate,
            at,
            problems,
        )
        .map(ChannelSettings::Console),
        "web" => checked(
            typed(value, at, problems),
            cartback_server::onsite::WebSettings::validate,
            at,
            problems,
        )
        .map(ChannelSettings::Web),
        #[cfg(feature = "sendgrid")]
        "sendgrid" => checked(
            typed(value, at, problems),
            cartback_sendgrid::SendGridSettings::validate,
            at,
            problems,
        )
        .map(ChannelSettings::SendGrid),
        #[cfg(feature = "twilio")]
        "twilio" => checked(
            typed(value, at, problems),
            cartback_twilio::TwilioSettings::validate,
            at,
            problems,
        )
        .map(ChannelSettings::Twilio),
        #[cfg(feature = "smtp")]
        "smtp" => checked(
            typed(value, at, problems),
            cartback_smtp::SmtpSettings::validate,
            at,
            problems,
        )
        .map(ChannelSettings::Smtp),
        #[cfg(feature = "webhook")]
        "webhook" => checked(
            typed(value, at, problems),
            cartback_webhook::WebhookSettings::validate,
            at,
            problems,
        )
        .map(ChannelSettings::Webhook),
        _ => None,
    }
}

/// What a working but risky source configuration should hear about: `check-config` prints these
/// and `serve` logs them at warn.
pub fn source_warnings(settings: &SourceSettings) -> Vec<String> {
    match settings {
        #[cfg(feature = "shopify")]
        SourceSettings::Shopify(s) => s.warnings(),
        #[cfg(feature = "segment")]
        SourceSettings::Segment(s)
            if s.server_write_keys.is_none() && s.shared_secret.is_none() =>
        {
            vec!["only browser write_keys are configured: they are public, so shoppers they name are never sent to until a verified source (a server write key, a signed webhook, a platform) reports the same address".into()]
        }
        #[allow(unreachable_patterns)]
        _ => Vec::new(),
    }
}

/// The same for a channel.
pub fn channel_warnings(settings: &ChannelSettings) -> Vec<String> {
    match settings {
        #[cfg(feature = "sendgrid")]
        ChannelSettings::SendGrid(s) => s.warnings(),
        #[allow(unreachable_patterns)]
        _ => Vec::new(),
    }
}

/// The webhook receiver of a source (`None` for sources that are only polled).
pub fn build_source(settings: &SourceSettings) -> Option<Arc<dyn Source>> {
    match settings {
        #[cfg(feature = "shopify")]
        SourceSettings::Shopify(s) => {
            Some(Arc::new(cartback_shopify::ShopifySource::new(s.clone())))
        }
        #[cfg(feature = "woocommerce")]
        SourceSettings::WooCommerce(s) => {
            Some(Arc::new(cartback_woocommerce::WooSource::new(s.clone())))
        }
        #[cfg(feature = "hubspot")]
        SourceSettings::HubSpot(s) => {
            Some(Arc::new(cartback_hubspot::HubSpotSource::new(s.clone())))
        }
        #[cfg(feature = "segment")]
        SourceSettings::Segment(s) => {
            Some(Arc::new(cartback_segment::SegmentSource::new(s.clone())))
        }
        #[cfg(feature = "klaviyo")]
        SourceSettings::Klaviyo(s) => {
            Some(Arc::new(cartback_klaviyo::KlaviyoSource::new(s.clone())))
        }
        #[cfg(feature = "magento")]
        SourceSettings::Magento(_) => None,
    }
}

/// Builds a channel's sink and says what address it sends to.
pub fn build_channel(
    settings: &ChannelSettings,
    common: &cartback_engine::config::ChannelCommon,
    ctx: cartback_core::SinkContext,
) -> anyhow::Result<cartback_engine::Channel> {
    use cartback_engine::{AddressKind, Channel};
    let (sink, address): (Arc<dyn cartback_core::Sink>, AddressKind) = match settings {
        ChannelSettings::Console(s) => {
            let address = match s.address.as_str() {
                "sms" => AddressKind::Phone,
                "any" => AddressKind::Identity,
                _ => AddressKind::Email,
            };
            (
                Arc::new(crate::console::ConsoleSink::new(s.clone())),
                address,
            )
        }
        ChannelSettings::Web(_) => (
            Arc::new(cartback_server::onsite::WebSink),
            AddressKind::Identity,
        ),
        #[cfg(feature = "sendgrid")]
        ChannelSettings::SendGrid(s) => (
            Arc::new(
                cartback_sendgrid::SendGridSink::new(s.clone(), ctx.clone())
                    .map_err(anyhow::Error::msg)?,
            ),
            AddressKind::Email,
        ),
        #[cfg(feature = "twilio")]
        ChannelSettings::Twilio(s) => (
            Arc::new(
                cartback_twilio::TwilioSink::new(s.clone(), ctx.clone())
                    .map_err(anyhow::Error::msg)?,
            ),
            AddressKind::Phone,
        ),
        #[cfg(feature = "smtp")]
        ChannelSettings::Smtp(s) => (
            Arc::new(
                cartback_smtp::SmtpSink::new(s.clone(), ctx.clone()).map_err(anyhow::Error::msg)?,
            ),
            AddressKind::Email,
        ),
        #[cfg(feature = "webhook")]
        ChannelSettings::Webhook(s) => (
            Arc::new(
                cartback_webhook::WebhookSink::new(s.clone(), ctx.clone())
                    .map_err(anyhow::Error::msg)?,
            ),
            AddressKind::Identity,
        ),
    };
    Ok(Channel::with_settings(
        ctx.channel_id,
        sink,
        address,
        common,
    ))
}

/// The webhook receiver of a channel whose provider reports back (delivery events, inbound SMS),
/// served at `/webhooks/{channel id}`.
pub fn build_channel_source(settings: &ChannelSettings) -> Option<Arc<dyn Source>> {
    match settings {
        #[cfg(feature = "sendgrid")]
        ChannelSettings::SendGrid(s) => {
            Some(Arc::new(cartback_sendgrid::SendGridEvents::new(s.clone())))
        }
        #[cfg(feature = "twilio")]
        ChannelSettings::Twilio(s) => Some(Arc::new(cartback_twilio::TwilioEvents::new(s.clone()))),
        _ => None,
    }
}

/// The API reader of a source that is (also) polled, if its settings ask for polling.
pub fn build_poller(settings: &SourceSettings) -> Option<Arc<dyn cartback_core::Poller>> {
    match settings {
        #[cfg(feature = "woocommerce")]
        SourceSettings::WooCommerce(s) if s.store_url.is_some() && s.consumer_key.is_some() => {
            Some(Arc::new(cartback_woocommerce::WooPoller::new(s.clone())))
        }
        #[cfg(feature = "magento")]
        SourceSettings::Magento(s) => {
            Some(Arc::new(cartback_magento::MagentoPoller::new(s.clone())))
        }
        _ => None,
    }
}
