//! Composing a message: the template context, tracked links (only to the shop's hosts), the
//! unsubscribe header and the open pixel.

use crate::flows::{Flow, Step};
use crate::front::*;
use crate::links::Tracker;
use crate::template::format_money;
use cartback_core::{Cart, ContactInfo, OutboundMessage, Recipient};
use cartback_kit::token::LinkKind;
use cartback_store::{ContactRecord, RunRecord, StoreResult};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

impl Engine {
    /// Renders a step's message with tracked links. `Ok(Err(reason))` when the template fails.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn compose(
        &self,
        flow: &Flow,
        run: &RunRecord,
        idx: usize,
        step: &Step,
        channel: &Channel,
        cart: &Cart,
        contact: &ContactRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<Result<(OutboundMessage, Vec<String>), String>> {
        let message_id = new_id();
        let discount = match &step.discount {
            None => None,
            Some(d) => {
                let code = match &d.code {
                    Some(c) => Some(c.clone()),
                    None => {
                        self.store
                            .allocate_discount(&flow.id, &d.codes, &run.id, run.step)
                            .await?
                    }
                };
                code.map(|code| {
                    json!({
                        "code": code,
                        "description": d.description,
                        "expires_at": d.expires_after.map(|e| (now + chrono_dur(e.0)).format("%Y-%m-%d %H:%M UTC").to_string())})
                })
            }
        };
        // Every URL the shopper can click goes through the hub: product pages, the cart, anything else.
        // Checked again here, whatever was stored: only the shop's own hosts (docs/SECURITY.md).
        let policy = &self.link_policy;
        let mut tracker = Tracker::new(&self.links, &self.public_url, &message_id, policy);
        let mut tracked = cart.clone();
        let recovery = policy
            .keep(cart.recovery_url.as_deref())
            .or_else(|| policy.fallback().map(str::to_string));
        tracked.recovery_url = recovery.map(|r| tracker.track(&r, LinkKind::Recover));
        for item in tracked.items.iter_mut() {
            policy.scrub_item(item);
            if let Some(u) = &item.url {
                item.url = Some(tracker.track(u, LinkKind::Click));
            }
        }
        let unsubscribe = tracker.url(LinkKind::Unsubscribe, 0);
        let discount_code = discount
            .as_ref()
            .and_then(|d| d["code"].as_str())
            .map(str::to_string);
        let mut ctx = context(
            &tracked,
            &contact.info,
            discount,
            &flow.id,
            idx,
            run,
            &message_id,
            &self.public_url,
        );
        ctx["links"]["unsubscribe"] = json!(unsubscribe);
        ctx["event"] = self.trigger_event(flow, run).await?;
        // `{{ links.survey }}`: only for a step that asks one (check-config refuses it elsewhere).
        if self.survey_of_step(step, &channel.id).is_some() {
            ctx["links"]["survey"] = json!(tracker.url(LinkKind::Survey, 0));
        }
        let rendered = match step.send.as_ref().and_then(|s| s.template.as_deref()) {
            Some(t) => match self.live().templates.render(t, &ctx) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e.to_string())),
            },
            None => Default::default(),
        };
        let text = rendered.text.map(|t| tracker.rewrite_text(&t));
        let mut html = rendered.html.map(|h| tracker.rewrite_html(&h));
        let mut headers = BTreeMap::new();
        if channel.address == AddressKind::Email {
            // RFC 8058 one-click unsubscribe, and the open pixel.
            headers.insert("List-Unsubscribe".to_string(), format!("<{unsubscribe}>"));
            headers.insert(
                "List-Unsubscribe-Post".to_string(),
                "List-Unsubscribe=One-Click".to_string(),
            );
            if let Some(h) = html.as_mut() {
                let pixel = format!(
                    r#"<img src="{}" width="1" height="1" alt="" style="display:none">"#,
                    tracker.url(LinkKind::Open, 0)
                );
                match h.rfind("</body>") {
                    Some(i) => h.insert_str(i, &pixel),
                    None => h.push_str(&pixel),
                }
            }
        }
        let to = Recipient {
            email: (channel.address == AddressKind::Email || channel.address.any_identity())
                .then(|| contact.info.email.clone())
                .flatten(),
            phone: (channel.address == AddressKind::Phone || channel.address.any_identity())
                .then(|| contact.info.phone.clone())
                .flatten(),
            name: full_name(&contact.info),
        };
        let mut metadata = BTreeMap::new();
        metadata.insert("flow_id".to_string(), flow.id.clone());
        metadata.insert("run_id".to_string(), run.id.clone());
        // Numbered as people count steps (from 1), as everywhere the hub shows a step.
        metadata.insert(
            "step".to_string(),
            crate::flows::step_number(run.step).to_string(),
        );
        metadata.insert("cart_id".to_string(), cart.id.clone());
        metadata.insert("contact_id".to_string(), contact.id.clone());
        if let Some(v) = &run.variant {
            metadata.insert("variant".to_string(), v.clone());
        }
        if run.test {
            // Carried to the provider (SendGrid's custom_args, a hand-off's properties).
            metadata.insert("test".to_string(), "true".to_string());
        }
        let links = tracker.links;
        Ok(Ok((
            OutboundMessage {
                id: message_id,
                channel_id: channel.id.clone(),
                to,
                subject: rendered.subject,
                html,
                text,
                headers,
                metadata,
                contact: Some(contact.info.clone()),
                cart: Some(tracked),
                test: run.test,
                discount_code,
                purpose: Default::default(),
            },
            links,
        )))
    }
}

impl Engine {
    /// The event that started an `event:` flow's run, as templates and conditions read it:
    /// `{"name", "properties"}`; null for any other run.
    pub(crate) async fn trigger_event(&self, flow: &Flow, run: &RunRecord) -> StoreResult<Value> {
        if !matches!(flow.settings.trigger, crate::config::Trigger::Event(_)) {
            return Ok(Value::Null);
        }
        let seq = self
            .store
            .run_trigger(&run.id)
            .await?
            .and_then(|t| t.strip_prefix("event:").and_then(|s| s.parse::<i64>().ok()));
        let Some(seq) = seq else {
            return Ok(Value::Null);
        };
        Ok(match self.store.logged_event(seq).await? {
            Some(cartback_store::LoggedEvent {
                kind: cartback_core::EventKind::Tracked(t),
                ..
            }) => json!({ "name": t.name, "properties": t.properties }),
            _ => Value::Null,
        })
    }
}

pub(crate) fn full_name(c: &ContactInfo) -> Option<String> {
    match (&c.first_name, &c.last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.clone()),
        (None, Some(l)) => Some(l.clone()),
        (None, None) => None,
    }
}

/// The template context (see docs/CONFIG.md for every key).
#[allow(clippy::too_many_arguments)]
pub fn context(
    cart: &Cart,
    contact: &ContactInfo,
    discount: Option<Value>,
    flow_id: &str,
    step: usize,
    run: &RunRecord,
    message_id: &str,
    public_url: &str,
) -> Value {
    let items: Vec<Value> = cart
        .items
        .iter()
        .map(|i| {
            json!({
                "title": i.title, "variant": i.variant_title, "sku": i.sku, "quantity": i.quantity,
                "unit_price": format_money(&i.unit_price), "line_price": format_money(&i.line_price),
                "url": i.url, "image_url": i.image_url, "product_id": i.product_id, "variant_id": i.variant_id})
        })
        .collect();
    let item_count: u64 = cart.items.iter().map(|i| u64::from(i.quantity)).sum();
    json!({
        "contact": {
            "email": contact.email, "phone": contact.phone, "first_name": contact.first_name,
            "last_name": contact.last_name, "name": full_name(contact), "locale": contact.locale},
        "cart": {
            "id": cart.id, "items": items, "item_count": item_count, "total": format_money(&cart.total),
            "subtotal": cart.subtotal.as_ref().map(format_money), "currency": cart.currency.code(),
            "recovery_url": cart.recovery_url},
        "links": {
            "recovery": cart.recovery_url,
            "items": cart.items.iter().map(|i| i.url.clone()).collect::<Vec<_>>(),
            "unsubscribe": Value::Null},
        "discount": discount,
        "shop": { "id": cart.source_id, "hub_url": public_url },
        "flow": { "id": flow_id, "step": crate::flows::step_number(u32::try_from(step).unwrap_or(u32::MAX)), "variant": run.variant },
        "message": { "id": message_id }})
}
