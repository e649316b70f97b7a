//! Test fixtures for the stages' decisions, which need no database: flows compiled from JSON
//! shaped like their TOML tables, an `email` and an `sms` channel, a cart with its contact.
#![allow(clippy::unwrap_used)]

use crate::flows::Flow;
use crate::front::{AddressKind, Channel};
use cartback_core::{
    Cart, CartStatus, Consent, ContactInfo, Currency, DeliveryError, LineItem, Money,
    OutboundMessage, Receipt, Sink,
};
use cartback_store::{CartRecord, ContactRecord, RunRecord, RunStatus};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

pub const H: i64 = 3600;

/// Flows from `{ "<id>": { ...the flow's table... } }`.
pub fn flows(json: serde_json::Value) -> BTreeMap<String, Flow> {
    let settings = serde_json::from_value(json).unwrap();
    crate::flows::compile(&settings).unwrap()
}

/// One flow `recover`: abandoned after 1 h, an email now and an SMS a day later.
pub fn recover(extra: serde_json::Value) -> BTreeMap<String, Flow> {
    let mut flow = serde_json::json!({
        "trigger": "cart_abandoned",
        "abandon_after": "1h",
        "step": [
            { "send": { "channel": "email", "template": "e" } },
            { "wait": "1d", "send": { "channel": "sms", "template": "s" } }
        ]
    });
    if let (Some(f), Some(x)) = (flow.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            f.insert(k.clone(), v.clone());
        }
    }
    flows(serde_json::json!({ "recover": flow }))
}

#[derive(Debug)]
struct Nothing;

#[async_trait::async_trait]
impl Sink for Nothing {
    fn kind(&self) -> &'static str {
        "nothing"
    }
    async fn deliver(&self, _: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        Ok(Receipt::default())
    }
}

pub fn channels() -> BTreeMap<String, Channel> {
    BTreeMap::from([
        (
            "email".to_string(),
            Channel::new("email", Arc::new(Nothing), AddressKind::Email),
        ),
        (
            "sms".to_string(),
            Channel::new("sms", Arc::new(Nothing), AddressKind::Phone),
        ),
        (
            "platform".to_string(),
            Channel::new("platform", Arc::new(Nothing), AddressKind::HandOff),
        ),
    ])
}

pub fn contact() -> ContactRecord {
    ContactRecord {
        id: "contact-1".into(),
        info: ContactInfo {
            email: Some("ann@example.com".into()),
            phone: Some("+14155550100".into()),
            email_consent: Consent::Subscribed,
            sms_consent: Consent::Subscribed,
            ..Default::default()
        },
        email_verified: true,
        phone_verified: true,
        created_at: t(0),
        updated_at: t(0),
    }
}

pub fn cart(updated_at: DateTime<Utc>) -> CartRecord {
    let usd = Currency::parse("USD").unwrap();
    let price = Money::new(2500, usd);
    CartRecord {
        cart: Cart {
            id: "cart-1".into(),
            source_id: "shop".into(),
            key: "k1".into(),
            cart_token: None,
            checkout_token: None,
            platform_id: None,
            status: CartStatus::Open,
            contact_id: Some("contact-1".into()),
            items: vec![LineItem {
                product_id: None,
                variant_id: None,
                sku: None,
                title: "Mug".into(),
                variant_title: None,
                quantity: 1,
                unit_price: price,
                line_price: price,
                url: None,
                image_url: None,
            }],
            currency: usd,
            subtotal: None,
            total: price,
            recovery_url: None,
            updated_at,
            completed_at: None,
            converted_at: None,
            order_id: None,
            created_at: updated_at,
        },
        contact: Some(contact()),
    }
}

/// An outbox row of `run-recover` on `channel` at `step`, with its status.
pub fn outbox_row(
    channel: &str,
    step: u32,
    status: cartback_store::OutboxStatus,
    created_at: DateTime<Utc>,
) -> cartback_store::OutboxRow {
    cartback_store::OutboxRow {
        id: format!("m-{channel}-{step}"),
        run_id: "run-recover".into(),
        step,
        channel_id: channel.into(),
        contact_id: Some("contact-1".into()),
        cart_id: Some("cart-1".into()),
        status,
        message: OutboundMessage {
            id: format!("m-{channel}-{step}"),
            channel_id: channel.into(),
            to: Default::default(),
            subject: Some("s".into()),
            html: None,
            text: Some("t".into()),
            headers: Default::default(),
            metadata: BTreeMap::from([("step".to_string(), step.to_string())]),
            contact: Some(contact().info),
            cart: Some(cart(created_at).cart),
            test: false,
            discount_code: Some("SAVE10".into()),
            purpose: Default::default(),
        },
        attempts: 1,
        next_attempt_at: created_at,
        lease_until: None,
        provider_message_id: None,
        last_error: None,
        test: false,
        created_at,
        sent_at: Some(created_at),
    }
}

pub fn run(flow_id: &str, step: u32, enrolled_at: DateTime<Utc>) -> RunRecord {
    RunRecord {
        id: format!("run-{flow_id}"),
        flow_id: flow_id.into(),
        cart_id: "cart-1".into(),
        contact_id: Some("contact-1".into()),
        variant: None,
        holdout: false,
        status: RunStatus::Running,
        step,
        test: false,
        enrolled_at,
        updated_at: enrolled_at,
        exit_reason: None,
    }
}
