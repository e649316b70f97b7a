//! "One captured Shopify delivery erases every shopper": Shopify signs the body, not the
//! `X-Shopify-Topic` header, so a genuine body re-sent under another topic still verifies. These
//! tests replay genuine (correctly signed) bodies under the privacy topics and the other way
//! round, and show that none of them becomes an erasure.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, EventKind, Source, TranslateError, Translation};
use cartback_shopify::{ShopifySettings, ShopifySource};
use common::{fixture, request, settings, unpinned, SHOP};

/// The bodies of the topics that are not privacy requests, as Shopify sends them.
const NON_PRIVACY: [&str; 4] = [
    "checkouts_create.json",
    "orders_create.json",
    "customers_update.json",
    "carts_update.json",
];

const PRIVACY_TOPICS: [&str; 3] = ["customers/redact", "shop/redact", "customers/data_request"];

/// Verifies (the signature is genuine, so this passes) and translates with `s`.
fn deliver(
    s: ShopifySettings,
    topic: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Result<Translation, TranslateError> {
    let src = ShopifySource::new(s);
    let req = request(topic, body, headers);
    let verified = verify(&src, &req).expect("a genuine signature verifies");
    src.translate(verified)
}

/// The reason of a `Schema` refusal; anything else fails the test.
fn refused(result: Result<Translation, TranslateError>) -> String {
    match result {
        Err(TranslateError::Schema { reason, .. }) => reason,
        other => panic!("expected a 400 refusal, got {other:?}"),
    }
}

fn is_erasure(t: &Translation) -> bool {
    t.events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Erasure(_)))
}

#[test]
fn checkout_order_customer_and_cart_bodies_are_not_privacy_requests() {
    for name in NON_PRIVACY {
        let body = fixture(name);
        for topic in PRIVACY_TOPICS {
            for s in [settings(), unpinned()] {
                let reason = refused(deliver(s, topic, &body, &[]));
                assert!(!reason.contains('\n'), "{reason}");
            }
        }
    }
}

#[test]
fn checkout_replayed_as_customers_redact_names_the_foreign_field() {
    let reason = refused(deliver(
        settings(),
        "customers/redact",
        &fixture("checkouts_create.json"),
        &[],
    ));
    assert!(reason.contains("unknown field"), "{reason}");
}

#[test]
fn other_privacy_bodies_are_not_a_shop_redact() {
    // Every privacy body carries shop_id and shop_domain; only shop/redact has nothing else.
    for name in ["customers_redact.json", "customers_data_request.json"] {
        let reason = refused(deliver(settings(), "shop/redact", &fixture(name), &[]));
        assert!(reason.contains("unknown field"), "{name}: {reason}");
    }
    // A data request is not a customer redaction, nor the other way round.
    refused(deliver(
        settings(),
        "customers/redact",
        &fixture("customers_data_request.json"),
        &[],
    ));
    refused(deliver(
        settings(),
        "customers/data_request",
        &fixture("customers_redact.json"),
        &[],
    ));
}

#[test]
fn redact_bodies_with_missing_or_foreign_fields_are_refused() {
    let full = serde_json::json!({
        "shop_id": 954889,
        "shop_domain": SHOP,
        "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
        "orders_to_redact": [299938]
    });
    let body = serde_json::to_vec(&full).unwrap();
    assert!(is_erasure(
        &deliver(settings(), "customers/redact", &body, &[]).unwrap()
    ));
    for missing in ["shop_id", "shop_domain", "customer", "orders_to_redact"] {
        let mut j = full.clone();
        j.as_object_mut().unwrap().remove(missing);
        let reason = refused(deliver(
            settings(),
            "customers/redact",
            &serde_json::to_vec(&j).unwrap(),
            &[],
        ));
        assert!(reason.contains(missing), "{missing}: {reason}");
    }
    for foreign in [
        "line_items",
        "token",
        "cart_token",
        "abandoned_checkout_url",
        "total_price",
    ] {
        let mut j = full.clone();
        j[foreign] = serde_json::json!("x");
        let reason = refused(deliver(
            settings(),
            "customers/redact",
            &serde_json::to_vec(&j).unwrap(),
            &[],
        ));
        assert!(reason.contains(foreign), "{foreign}: {reason}");
    }
    let shop = serde_json::json!({"shop_id": 954889, "shop_domain": SHOP, "token": "t"});
    refused(deliver(
        settings(),
        "shop/redact",
        &serde_json::to_vec(&shop).unwrap(),
        &[],
    ));
    refused(deliver(
        settings(),
        "shop/redact",
        br#"{"shop_domain": "test-shop.myshopify.com"}"#,
        &[],
    ));
}

#[test]
fn privacy_bodies_are_not_checkouts_orders_carts_or_customers() {
    for name in [
        "customers_redact.json",
        "shop_redact.json",
        "customers_data_request.json",
    ] {
        let body = fixture(name);
        for topic in [
            "checkouts/create",
            "checkouts/update",
            "orders/create",
            "orders/paid",
            "carts/create",
            "carts/update",
            "customers/create",
            "customers/update",
        ] {
            refused(deliver(settings(), topic, &body, &[]));
        }
    }
}

#[test]
fn shop_redact_needs_a_configured_shop_domain() {
    let reason = refused(deliver(
        unpinned(),
        "shop/redact",
        &fixture("shop_redact.json"),
        &[],
    ));
    assert!(reason.contains("shop_domain"), "{reason}");
    // A shopper's own redaction still works without the pin.
    let t = deliver(
        unpinned(),
        "customers/redact",
        &fixture("customers_redact.json"),
        &[],
    )
    .unwrap();
    assert!(is_erasure(&t));
    // With the pin, the genuine shop/redact of this shop erases the source.
    let t = deliver(settings(), "shop/redact", &fixture("shop_redact.json"), &[]).unwrap();
    assert!(is_erasure(&t));
}

#[test]
fn privacy_bodies_must_name_the_configured_shop() {
    // One app secret signs every shop that installed the app: another shop's genuine privacy
    // delivery, with a forged X-Shopify-Shop-Domain header, must not touch this source.
    let cases = [
        ("shop/redact", "shop_redact.json"),
        ("customers/redact", "customers_redact.json"),
        ("customers/data_request", "customers_data_request.json"),
    ];
    for (topic, name) in cases {
        let other = String::from_utf8(fixture(name))
            .unwrap()
            .replace(SHOP, "other-shop.myshopify.com");
        let reason = refused(deliver(settings(), topic, other.as_bytes(), &[]));
        assert!(reason.contains("other-shop.myshopify.com"), "{reason}");
        // The same shop in another letter case is the same shop.
        let upper = String::from_utf8(fixture(name))
            .unwrap()
            .replace(SHOP, &SHOP.to_ascii_uppercase());
        deliver(settings(), topic, upper.as_bytes(), &[]).unwrap();
    }
}

#[test]
fn a_replay_without_triggered_at_is_refused_before_translation() {
    let src = ShopifySource::new(settings());
    let req = request(
        "shop/redact",
        &fixture("shop_redact.json"),
        &[("x-shopify-triggered-at", "")],
    );
    assert!(matches!(
        src.verify(&req),
        Err(cartback_core::VerifyError::MissingHeader(h)) if h == "X-Shopify-Triggered-At"
    ));
}
