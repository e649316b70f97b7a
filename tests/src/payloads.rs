//! Realistic Shopify payloads (field names as in the Admin REST `abandoned_checkout` and `order`
//! resources), built so tests can vary ids, timestamps and quantities.

use serde_json::{json, Value};

/// A `checkouts/create|update` body.
pub fn shopify_checkout(token: &str, email: &str, updated_at: &str, quantity: u32) -> Value {
    json!({
        "id": 9_007_199_254_740_993u64,
        "token": token,
        "cart_token": format!("cart-{token}"),
        "email": email,
        "phone": null,
        "buyer_accepts_marketing": true,
        "created_at": "2026-11-20T10:00:00-05:00",
        "updated_at": updated_at,
        "completed_at": null,
        "currency": "USD",
        "presentment_currency": "USD",
        "customer_locale": "en-US",
        "abandoned_checkout_url": format!("https://test-shop.myshopify.com/123/checkouts/{token}/recover?key=abc"),
        "subtotal_price": format!("{}.00", 25 * quantity),
        "total_price": format!("{}.00", 25 * quantity),
        "total_tax": "0.00",
        "line_items": [{
            "key": "li-1",
            "product_id": 7_513_594_167_512u64,
            "variant_id": 42_617_381_109_976u64,
            "sku": "MUG-BLUE",
            "title": "Blue Mug",
            "variant_title": "Large",
            "quantity": quantity,
            "price": "25.00",
            "line_price": format!("{}.00", 25 * quantity),
            "vendor": "Test Shop"
        }],
        "customer": {
            "id": 6_987_654_321_012u64,
            "email": email,
            "first_name": "Ann",
            "last_name": "Lee",
            "email_marketing_consent": { "state": "subscribed", "opt_in_level": "single_opt_in" }
        },
        "billing_address": { "country_code": "US", "first_name": "Ann", "last_name": "Lee" }
    })
}

/// An `orders/create` body for the checkout `token`.
pub fn shopify_order(order_id: u64, checkout_token: &str, email: &str) -> Value {
    json!({
        "id": order_id,
        "name": "#1001",
        "email": email,
        "checkout_token": checkout_token,
        "cart_token": format!("cart-{checkout_token}"),
        "currency": "USD",
        "presentment_currency": "USD",
        "total_price": "50.00",
        "subtotal_price": "50.00",
        "created_at": "2026-11-20T12:00:00-05:00",
        "processed_at": "2026-11-20T12:00:00-05:00",
        "test": false,
        "line_items": [{
            "product_id": 7_513_594_167_512u64,
            "variant_id": 42_617_381_109_976u64,
            "sku": "MUG-BLUE",
            "title": "Blue Mug",
            "variant_title": "Large",
            "quantity": 2,
            "price": "25.00"
        }],
        "customer": { "id": 6_987_654_321_012u64, "email": email, "first_name": "Ann", "last_name": "Lee" }
    })
}
