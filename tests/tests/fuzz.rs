//! Property tests over hostile input: parsers and translators never panic and never allocate
//! without bound, whatever they are fed. `PROPTEST_CASES=100000 cargo test -p cartback-e2e --test fuzz`
//! runs the long version (docs/BENCHMARKS.md has the figures); CI runs the default count.
#![allow(clippy::unwrap_used)]

use cartback_core::{normalize_phone, verify, Currency, InboundRequest, Money, Source};
use cartback_shopify::{verify::sign, ShopifySettings, ShopifySource};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    cartback_e2e::proptest_config()
}

fn shopify() -> ShopifySource {
    ShopifySource::new(ShopifySettings::new(cartback_kit::SecretList::new(vec![
        cartback_kit::Secret::new("s"),
    ])))
}

fn request(topic: &str, body: Vec<u8>) -> InboundRequest {
    let mut h = http::HeaderMap::new();
    h.insert(
        "x-shopify-topic",
        http::HeaderValue::from_str(topic).unwrap_or(http::HeaderValue::from_static("x")),
    );
    h.insert(
        "x-shopify-hmac-sha256",
        http::HeaderValue::from_str(&sign("s", &body)).unwrap(),
    );
    h.insert("x-shopify-webhook-id", http::HeaderValue::from_static("w"));
    h.insert(
        "x-shopify-triggered-at",
        http::HeaderValue::from_str(&chrono::Utc::now().to_rfc3339()).unwrap(),
    );
    InboundRequest {
        source_id: "shop".into(),
        method: http::Method::POST,
        url: "http://hub/webhooks/shop".into(),
        headers: h,
        body: body.into(),
        received_at: chrono::Utc::now(),
    }
}

/// JSON that looks like a Shopify checkout, with fields swapped for arbitrary values.
fn checkoutish() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ];
    (value.clone(), value.clone(), value.clone(), value.clone(), value, 0usize..4).prop_map(|(a, b, c, d, e, n)| {
        let item = serde_json::json!({ "title": a, "quantity": b, "price": c, "product_id": d });
        serde_json::to_vec(&serde_json::json!({
            "token": e, "updated_at": "2026-11-20T10:00:00Z", "currency": "USD", "total_price": "1.00",
            "email": "a@b.c", "line_items": vec![item; n]
        }))
        .unwrap()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn money_parsing_never_panics(s in ".{0,64}", code in "[A-Za-z]{3}") {
        let c = Currency::parse(&code).unwrap();
        let _ = Money::parse_decimal(&s, c);
    }

    #[test]
    fn money_round_trips(int in 0i64..1_000_000_000, frac in 0i64..100) {
        let usd = Currency::parse("USD").unwrap();
        let m = Money::parse_decimal(&format!("{int}.{frac:02}"), usd).unwrap();
        prop_assert_eq!(m.minor, int * 100 + frac);
        prop_assert_eq!(Money::parse_decimal(&m.to_decimal_string(), usd).unwrap(), m);
    }

    #[test]
    fn phone_normalization_never_panics(s in ".{0,40}", region in "[A-Za-z]{0,3}") {
        let _ = normalize_phone(&s, Some(&region));
        let _ = normalize_phone(&s, None);
    }

    #[test]
    fn config_loading_never_panics(s in ".{0,200}") {
        let _ = cartback_cli::config::load_str(&s, std::path::Path::new("."), &Default::default());
    }

    #[test]
    fn config_like_toml_never_panics(key in "[a-z_]{1,12}", value in ".{0,30}", section in "(server|store|source\\.x|channel\\.y|flow\\.z|template\\.t|limits|engine)") {
        let toml = format!("[{section}]\n{key} = {value:?}\ntype = {value:?}\n");
        let _ = cartback_cli::config::load_str(&toml, std::path::Path::new("."), &Default::default());
    }

    #[test]
    fn templates_never_panic(body in ".{0,120}") {
        let mut t = std::collections::BTreeMap::new();
        t.insert("t".to_string(), cartback_engine::config::TemplateSettings { subject: Some(body.clone()), html: Some(body.clone()), html_file: None, text: Some(body), text_file: None });
        let _ = cartback_engine::template::Templates::load(&t, std::path::Path::new("."));
    }

    #[test]
    fn shopify_translation_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..512), topic in "(checkouts/create|carts/update|orders/create|customers/update|customers/redact|shop/redact|x)") {
        let src = shopify();
        let req = request(&topic, body);
        let v = verify(&src, &req).unwrap();
        let _ = src.translate(v);
    }

    #[test]
    fn shopify_translation_never_panics_on_shapes(body in checkoutish()) {
        let src = shopify();
        let req = request("checkouts/create", body);
        let v = verify(&src, &req).unwrap();
        let _ = src.translate(v);
    }

    #[test]
    fn signature_checks_never_panic(sig in ".{0,100}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut req = request("checkouts/create", body);
        if let Ok(v) = http::HeaderValue::from_str(&sig) {
            req.headers.insert("x-shopify-hmac-sha256", v);
        }
        let _ = shopify().verify(&req);
    }
}
