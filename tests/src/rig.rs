//! A rig for engine-level tests: a real store in a temporary folder, a manual clock, the engine
//! with recording sinks for an `email` and an `sms` channel, and helpers that ingest carts and
//! orders and move time.
#![allow(clippy::unwrap_used)]

use cartback_core::{
    CartSnapshot, Consent, ContactInfo, Currency, Event, EventKind, LineItem, ManualClock, Money,
    Order,
};
use cartback_engine::{AddressKind, Arrival, Channel, Engine};
use cartback_store::{SqliteStore, Store};
use cartback_testkit::RecordingSink;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const H: u64 = 3600;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

pub struct Rig {
    pub store: Arc<dyn Store>,
    pub clock: ManualClock,
    pub engine: Engine,
    pub email: RecordingSink,
    pub sms: RecordingSink,
    pub dir: tempfile::TempDir,
    pub seq: u64,
}

pub const CHANNELS: &str = r#"
[channel.email]
type = "console"
[channel.sms]
type = "console"
address = "sms"
[template.cart_email]
subject = "{{ contact.first_name }}, you left {{ cart.item_count }} items"
text = "{% for i in cart.items %}{{ i.quantity }} x {{ i.title }}{% if i.variant %} ({{ i.variant }}){% endif %} @ {{ i.unit_price }} = {{ i.line_price }}\n{% endfor %}Total {{ cart.total }} {{ cart.recovery_url }}{% if discount %} code {{ discount.code }}{% endif %}"
html = "<ul>{% for i in cart.items %}<li><a href=\"{{ i.url }}\">{{ i.title }}</a></li>{% endfor %}</ul>"
[template.cart_sms]
text = "Still thinking? {{ cart.recovery_url }}"
"#;

pub async fn rig_in(dir: tempfile::TempDir, flows: &str, clock: ManualClock) -> Rig {
    rig_with(dir, flows, clock, RecordingSink::new()).await
}

/// A rig whose `email` channel is the given sink (a batching one, say).
pub async fn rig_with(
    dir: tempfile::TempDir,
    flows: &str,
    clock: ManualClock,
    email: RecordingSink,
) -> Rig {
    let toml = format!("{CHANNELS}\n{flows}");
    let cfg = cartback_cli::config::load_str(&toml, dir.path(), &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}", dir.path().join("engine.db").display());
    let flows = cartback_engine::flows::compile(&cfg.flows).unwrap();
    let rules = Arc::new(cartback_engine::rules::Rules::new(&flows));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap().with_rules(rules));
    let sms = RecordingSink::new();
    let mut channels = BTreeMap::new();
    channels.insert(
        "email".to_string(),
        Channel::new("email", Arc::new(email.clone()), AddressKind::Email),
    );
    channels.insert(
        "sms".to_string(),
        Channel::new("sms", Arc::new(sms.clone()), AddressKind::Phone),
    );
    let templates = cartback_engine::template::Templates::load(&cfg.templates, dir.path()).unwrap();
    let engine = Engine::new(
        store.clone(),
        Arc::new(clock.clone()),
        flows,
        templates,
        cartback_engine::flows::compile_limits(&cfg.limits).unwrap(),
        channels,
        "http://hub.test",
    )
    .with_link_policy(cartback_core::LinkPolicy::new(&["shop.test".into()], None).unwrap());
    Rig {
        store,
        clock,
        engine,
        email,
        sms,
        dir,
        seq: 0,
    }
}

pub async fn rig(flows: &str) -> Rig {
    rig_in(tempfile::tempdir().unwrap(), flows, ManualClock::new(t0())).await
}

pub fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::parse("USD").unwrap())
}

pub fn item(title: &str, qty: u32, unit: Money) -> LineItem {
    LineItem {
        product_id: Some("1".into()),
        variant_id: None,
        sku: None,
        title: title.into(),
        variant_title: None,
        quantity: qty,
        unit_price: unit,
        line_price: unit.checked_mul(i64::from(qty)).unwrap(),
        url: Some(format!(
            "https://shop.test/products/{}",
            title.to_lowercase().replace(' ', "-")
        )),
        image_url: None,
    }
}

pub fn contact(email: &str) -> ContactInfo {
    ContactInfo {
        email: Some(email.into()),
        phone: None,
        first_name: Some("Ann".into()),
        email_consent: Consent::Subscribed,
        ..Default::default()
    }
}

pub fn snapshot(
    key: &str,
    c: ContactInfo,
    items: Vec<LineItem>,
    at: DateTime<Utc>,
) -> CartSnapshot {
    let currency = items
        .first()
        .map(|i| i.unit_price.currency)
        .unwrap_or(Currency::parse("USD").unwrap());
    let total = items.iter().fold(Money::zero(currency), |acc, i| {
        acc.checked_add(&i.line_price).unwrap()
    });
    CartSnapshot {
        key: key.into(),
        cart_token: Some(key.into()),
        checkout_token: Some(format!("chk-{key}")),
        platform_id: None,
        contact: Some(c),
        items,
        currency,
        subtotal: Some(total),
        total,
        recovery_url: Some(format!("https://shop.test/recover/{key}")),
        updated_at: at,
        completed_at: None,
    }
}

impl Rig {
    pub async fn ingest(&mut self, kind: EventKind) {
        self.seq += 1;
        let ev = Event {
            source_id: "shop".into(),
            event_id: format!("e{}-{}", self.clock_now().timestamp_millis(), self.seq),
            topic: "t".into(),
            occurred_at: self.clock_now(),
            kind,
        };
        let ids = vec![format!(
            "d{}-{}",
            self.clock_now().timestamp_millis(),
            self.seq
        )];
        self.engine
            .accept(Arrival {
                source_id: "shop",
                delivery_ids: &ids,
                events: vec![ev],
                received_at: self.clock_now(),
                trust: cartback_core::Trust::Verified,
            })
            .await
            .unwrap();
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        use cartback_core::Clock;
        self.clock.now()
    }

    pub async fn cart(&mut self, key: &str, email: &str, qty: u32) {
        let at = self.clock_now();
        self.ingest(EventKind::CheckoutStarted(snapshot(
            key,
            contact(email),
            vec![item("Blue Mug", qty, usd(2500))],
            at,
        )))
        .await;
    }

    /// Moves the clock, fires every due timer and delivers every due message.
    pub async fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
        self.engine.run_due().await.unwrap();
        self.engine.deliver_due().await.unwrap();
    }

    pub async fn order(&mut self, key: &str) {
        let at = self.clock_now();
        self.ingest(EventKind::OrderPlaced(Order {
            order_id: format!("o-{key}"),
            name: None,
            checkout_token: Some(format!("chk-{key}")),
            cart_token: None,
            contact: None,
            total: usd(2500),
            items: vec![],
            placed_at: at,
            test: false,
        }))
        .await;
    }

    pub async fn cart_id(&self, email: &str) -> String {
        let carts = self
            .store
            .carts(&cartback_store::CartFilter {
                email: Some(email.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        carts[0].cart.id.clone()
    }
}
