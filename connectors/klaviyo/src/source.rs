//! [`KlaviyoSource`]: routing and translation of Klaviyo system webhooks and cartback-shaped
//! flow webhooks into `ContactUpdated` and `OptOut` events.
//!
//! System webhook topics (with or without the `event:klaviyo.` prefix, any case):
//! - `unsubscribed_from_email_marketing`, `marked_email_as_spam` → `OptOut { Email }`;
//!   `subscribed_to_email_marketing` → `OptOut { Email, resubscribe: true }`.
//! - `unsubscribed_from_sms_marketing` → `OptOut { Sms }`; `subscribed_to_sms_marketing` →
//!   `OptOut { Sms, resubscribe: true }`.
//! - `updated_email_preferences` and profile topics (`profile.created`, `profile.updated`,
//!   `profile:…`) → `ContactUpdated` with the consent the profile's `subscriptions` state.
//! - Everything else is skipped; an opt-out without an address is skipped too (nothing to
//!   match). A request where all are skipped is answered as ignored.
//!
//! A flow webhook becomes one `ContactUpdated` (its consent as given) plus an `OptOut` per
//! channel it reports unsubscribed, so the opt-out reaches contacts of every source.

use crate::config::KlaviyoSettings;
use crate::payload::{FlowWebhook, ProfileView, SystemEvent, SystemWebhook};
use crate::verify::{header, parse_timestamp, TIMESTAMP_HEADER, WEBHOOK_ID_HEADER};

mod cart;
use cartback_core::contact::clean_email;
use cartback_core::{
    normalize_phone, Consent, ContactInfo, Event, EventKind, InboundRequest, OptOut, OptOutChannel,
    Source, TranslateError, Translation, Verified, VerifyError,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The Klaviyo source.
#[derive(Debug)]
pub struct KlaviyoSource {
    settings: KlaviyoSettings,
}

impl KlaviyoSource {
    pub fn new(settings: KlaviyoSettings) -> Self {
        KlaviyoSource { settings }
    }
}

/// What a system webhook topic translates into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    OptOut {
        channel: OptOutChannel,
        resubscribe: bool,
    },
    Profile,
}

impl Route {
    fn of(topic: &str) -> Option<Route> {
        let t = topic.trim().to_ascii_lowercase();
        let name = t.strip_prefix("event:klaviyo.").unwrap_or(&t);
        let opt_out = |channel, resubscribe| {
            Some(Route::OptOut {
                channel,
                resubscribe,
            })
        };
        match name {
            "unsubscribed_from_email_marketing" | "marked_email_as_spam" => {
                opt_out(OptOutChannel::Email, false)
            }
            "subscribed_to_email_marketing" => opt_out(OptOutChannel::Email, true),
            "unsubscribed_from_sms_marketing" => opt_out(OptOutChannel::Sms, false),
            "subscribed_to_sms_marketing" => opt_out(OptOutChannel::Sms, true),
            "updated_email_preferences" => Some(Route::Profile),
            _ if name.starts_with("profile") => Some(Route::Profile),
            _ => None,
        }
    }
}

impl Source for KlaviyoSource {
    fn scheme(&self, _url: &str) -> String {
        "Klaviyo-Signature: hex HMAC-SHA256 of the raw body followed by Klaviyo-Timestamp \
         (within `max_age`) keyed with the source's `secret`, or, from a flow's Webhook action, \
         X-Cartback-Secret: <the source's `secret`>"
            .into()
    }

    fn kind(&self) -> &'static str {
        "klaviyo"
    }

    fn verify(&self, request: &InboundRequest) -> Result<(), VerifyError> {
        crate::verify::verify(&self.settings, request)
    }

    fn translate(&self, request: Verified<'_>) -> Result<Translation, TranslateError> {
        let req = request.request();
        let body: Value =
            serde_json::from_slice(&req.body).map_err(|e| TranslateError::Json(e.to_string()))?;
        let Some(obj) = body.as_object() else {
            return Err(schema("klaviyo", "body is not a JSON object"));
        };
        let (system, flow) = (obj.contains_key("data"), obj.contains_key("event_id"));
        let (topic, events) = if system {
            let hook: SystemWebhook =
                serde_json::from_value(body).map_err(|e| schema("system", e))?;
            ("system", self.system(req, hook)?)
        } else if flow {
            let flow: FlowWebhook = serde_json::from_value(body).map_err(|e| schema("flow", e))?;
            (
                "flow",
                flow_events(req, flow).map_err(|e| schema("flow", e))?,
            )
        } else {
            return Err(schema(
                "klaviyo",
                "body is neither a system webhook (data[]) nor a flow webhook (event_id)",
            ));
        };
        if events.is_empty() {
            return Ok(Translation::ignored(
                topic,
                "no consent or profile change the hub uses",
            ));
        }
        Ok(Translation {
            delivery_ids: Vec::new(),
            topic: topic.to_string(),
            events,
            ignored: None,
        })
    }
}

fn schema(topic: &str, reason: impl std::fmt::Display) -> TranslateError {
    TranslateError::Schema {
        topic: topic.to_string(),
        reason: reason.to_string(),
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn email(raw: Option<&str>) -> Option<String> {
    non_empty(raw).and_then(clean_email)
}

/// Klaviyo phones are E.164; anything unreadable is dropped.
fn phone(raw: Option<&str>) -> Option<String> {
    non_empty(raw).and_then(|p| normalize_phone(p, None).ok())
}

/// Klaviyo's consent states (`SUBSCRIBED`, `UNSUBSCRIBED`, `NEVER_SUBSCRIBED`), any case.
fn consent(raw: Option<&str>) -> Consent {
    match non_empty(raw).map(str::to_ascii_lowercase).as_deref() {
        Some("subscribed") => Consent::Subscribed,
        Some("unsubscribed") => Consent::Unsubscribed,
        Some("never_subscribed" | "not_subscribed") => Consent::NotSubscribed,
        _ => Consent::Unknown,
    }
}

impl KlaviyoSource {
    fn system(
        &self,
        req: &InboundRequest,
        hook: SystemWebhook,
    ) -> Result<Vec<Event>, TranslateError> {
        let meta = hook.meta.unwrap_or_default();
        if let (Some(in_body), Some(in_header)) = (
            non_empty(meta.klaviyo_webhook_id.as_deref()),
            header(req, WEBHOOK_ID_HEADER),
        ) {
            if in_body != in_header {
                return Err(TranslateError::Invalid(
                    "meta.klaviyo_webhook_id does not match the Klaviyo-Webhook-Id header".into(),
                ));
            }
        }
        let fallback_time = non_empty(meta.timestamp.as_deref())
            .or(header(req, TIMESTAMP_HEADER))
            .and_then(parse_timestamp)
            .unwrap_or(req.received_at);
        let mut events = Vec::new();
        for (i, item) in hook.data.into_iter().enumerate() {
            let e: SystemEvent = serde_json::from_value(item)
                .map_err(|e| schema("system", format!("data[{i}]: {e}")))?;
            let topic = e.topic.clone().unwrap_or_default();
            let Some(route) = Route::of(&topic) else {
                continue;
            };
            let event_id = non_empty(e.external_id.as_deref())
                .ok_or_else(|| schema(&topic, format!("data[{i}].external_id is missing")))?
                .to_string();
            let profile = ProfileView::of(&e.payload);
            let occurred_at = crate::payload::payload_time(&e.payload)
                .as_deref()
                .and_then(parse_timestamp)
                .unwrap_or(fallback_time);
            let kind = match route {
                Route::OptOut {
                    channel,
                    resubscribe,
                } => {
                    let address = match channel {
                        OptOutChannel::Email => email(profile.email.as_deref()),
                        OptOutChannel::Sms => phone(profile.phone_number.as_deref()),
                    };
                    let Some(address) = address else {
                        continue;
                    };
                    EventKind::OptOut(OptOut {
                        channel,
                        address,
                        resubscribe,
                    })
                }
                Route::Profile => {
                    let info = ContactInfo {
                        email: email(profile.email.as_deref()),
                        phone: phone(profile.phone_number.as_deref()),
                        first_name: profile.first_name.clone(),
                        last_name: profile.last_name.clone(),
                        locale: profile.locale.clone(),
                        time_zone: profile.time_zone.clone(),
                        email_consent: consent(profile.email_consent.as_deref()),
                        sms_consent: consent(profile.sms_consent.as_deref()),
                        external_id: profile.external_id.clone(),
                    };
                    if !info.is_identified() && info.external_id.is_none() {
                        continue;
                    }
                    EventKind::ContactUpdated(info)
                }
            };
            events.push(Event {
                source_id: req.source_id.clone(),
                event_id,
                topic,
                occurred_at,
                kind,
            });
        }
        Ok(events)
    }
}

fn flow_events(req: &InboundRequest, flow: FlowWebhook) -> Result<Vec<Event>, String> {
    let occurred_at: DateTime<Utc> = non_empty(flow.occurred_at.as_deref())
        .and_then(parse_timestamp)
        .unwrap_or(req.received_at);
    let info = ContactInfo {
        email: email(flow.email.as_deref()),
        phone: phone(flow.phone_number.as_deref()),
        first_name: flow.first_name.clone(),
        last_name: flow.last_name.clone(),
        email_consent: consent(flow.email_consent.as_deref()),
        sms_consent: consent(flow.sms_consent.as_deref()),
        external_id: flow.external_id.clone(),
        ..ContactInfo::default()
    };
    if !info.is_identified() && info.external_id.is_none() {
        return Ok(Vec::new());
    }
    let event = |event_id: String, kind| Event {
        source_id: req.source_id.clone(),
        event_id,
        topic: "flow_webhook".into(),
        occurred_at,
        kind,
    };
    let mut events = Vec::new();
    let opt_outs = [
        (
            OptOutChannel::Email,
            info.email_consent,
            info.email.clone(),
            "email_opt_out",
        ),
        (
            OptOutChannel::Sms,
            info.sms_consent,
            info.phone.clone(),
            "sms_opt_out",
        ),
    ];
    // An `Added to Cart` flow: the product changes the shopper's cart (`cart.rs`).
    let change = match cart::op(flow.metric.as_deref()) {
        Some(op) => Some(cart::change(op, &flow.product, &info, occurred_at)?),
        None => None,
    };
    events.push(event(
        flow.event_id.clone(),
        EventKind::ContactUpdated(info),
    ));
    if let Some(change) = change {
        events.push(event(
            format!("{}:cart", flow.event_id),
            EventKind::CartChanged(change),
        ));
    }
    for (channel, state, address, suffix) in opt_outs {
        if let (Consent::Unsubscribed, Some(address)) = (state, address) {
            events.push(event(
                format!("{}:{suffix}", flow.event_id),
                EventKind::OptOut(OptOut {
                    channel,
                    address,
                    resubscribe: false,
                }),
            ));
        }
    }
    Ok(events)
}
