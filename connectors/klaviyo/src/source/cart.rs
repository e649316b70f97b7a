//! A flow webhook from an `Added to Cart` (or `Removed from Cart`) flow: the product it names
//! becomes a [`CartChange`] of the shopper's cart (`cart_id`, else `klaviyo:<external id or
//! email>`), applied by the hub in the order of `occurred_at`, so a shop that tracks its cart in
//! Klaviyo gets carts as Segment's `Product Added` builds them.

use crate::payload::CartProduct;
use cartback_core::{CartChange, ContactInfo, Currency, LineItem, LineOp, Money};
use chrono::{DateTime, Utc};

/// Which change a flow's metric means, when it concerns the cart.
pub fn op(metric: Option<&str>) -> Option<LineOp> {
    match metric?.trim().to_ascii_lowercase().as_str() {
        "added to cart" | "add to cart" | "product added" => Some(LineOp::Add),
        "removed from cart" | "remove from cart" | "product removed" => Some(LineOp::Remove),
        _ => None,
    }
}

fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The change, or the reason the product cannot be read (a schema error naming the field).
pub fn change(
    op: LineOp,
    p: &CartProduct,
    contact: &ContactInfo,
    at: DateTime<Utc>,
) -> Result<CartChange, String> {
    let title = text(&p.product_name)
        .or(text(&p.sku))
        .or(text(&p.product_id))
        .ok_or("product_id, sku or product_name is required with an Added to Cart metric")?;
    let currency = match text(&p.currency) {
        Some(c) => Currency::parse(c).map_err(|e| format!("currency: {e}"))?,
        None if text(&p.price).is_some() => return Err("currency is required with a price".into()),
        None => Currency::parse("USD").map_err(|e| e.to_string())?,
    };
    let unit = match text(&p.price) {
        Some(price) => Money::parse_decimal(price, currency)
            .or_else(|_| Money::parse_decimal_rounded(price, currency))
            .map_err(|e| format!("price: {e}"))?,
        None => Money::zero(currency),
    };
    let quantity = match text(&p.quantity) {
        Some(q) => q
            .strip_suffix(".0")
            .unwrap_or(q)
            .parse::<u32>()
            .map_err(|_| format!("quantity {q:?} is not a whole number"))?,
        None if op == LineOp::Add => 1,
        None => 0,
    };
    let line_price = unit
        .checked_mul(i64::from(quantity))
        .ok_or("price is out of range")?;
    let key = text(&p.cart_id)
        .map(str::to_string)
        .or_else(|| contact.external_id.clone().map(|x| format!("klaviyo:{x}")))
        .or_else(|| {
            contact
                .email
                .as_ref()
                .map(|e| format!("klaviyo:{}", e.to_lowercase()))
        })
        .ok_or("cart_id, external_id or email is required to key the cart")?;
    Ok(CartChange {
        key,
        cart_token: text(&p.cart_id).map(str::to_string),
        contact: Some(contact.clone()),
        op,
        line: LineItem {
            product_id: text(&p.product_id).map(str::to_string),
            variant_id: None,
            sku: text(&p.sku).map(str::to_string),
            title: title.to_string(),
            variant_title: text(&p.variant).map(str::to_string),
            quantity,
            unit_price: unit,
            line_price,
            url: text(&p.product_url).map(str::to_string),
            image_url: text(&p.image_url).map(str::to_string),
        },
        currency,
        recovery_url: text(&p.checkout_url).map(str::to_string),
        at,
    })
}
