//! Checks every translated event passes before it is stored, whatever source it came from:
//! [`check_events`].
//!
//! - A cart's prices, totals and line prices are never negative (a negative price rendered as
//!   "-$50.00" in a reminder).
//! - An email address is at most 254 characters (RFC 5321's path limit): a cart or contact with a
//!   longer one is refused, never sent to a provider; an order keeps its place and loses the
//!   address (an order is never refused: it is what stops the reminders).
//! - Control characters (CR, LF, NUL, ...) are stripped from names and item titles, so a name can
//!   never add a header line to a provider's `to.name`.

use crate::cart::{CartSnapshot, LineItem};
use crate::contact::ContactInfo;
use crate::event::{Event, EventKind};

pub use crate::contact::MAX_EMAIL_LEN;

/// Checks and cleans `events` in place; the first problem is returned as a reason for a 400.
pub fn check_events(events: &mut [Event]) -> Result<(), String> {
    for (i, e) in events.iter_mut().enumerate() {
        let at = |what: String| format!("event {i} ({}): {what}", e.event_id);
        match &mut e.kind {
            EventKind::CartUpdated(snap) | EventKind::CheckoutStarted(snap) => {
                check_cart(snap).map_err(at)?
            }
            EventKind::OrderPlaced(order) => {
                // An order is never refused (it stops reminders): an over-long address is dropped.
                if let Some(c) = order.contact.as_mut() {
                    if check_contact(c).is_err() {
                        c.email = None;
                    }
                }
                order.items.iter_mut().for_each(clean_item);
            }
            EventKind::CartChanged(change) => {
                let l = &mut change.line;
                if l.unit_price.minor < 0 || l.line_price.minor < 0 {
                    return Err(at("the product has a negative price".into()));
                }
                clean_item(l);
                if let Some(c) = change.contact.as_mut() {
                    check_contact(c).map_err(at)?;
                }
            }
            EventKind::Tracked(t) => {
                if let Some(c) = t.contact.as_mut() {
                    check_contact(c).map_err(at)?;
                }
            }
            EventKind::ContactUpdated(c) => check_contact(c).map_err(at)?,
            EventKind::OptOut(o) if o.address.len() > MAX_EMAIL_LEN => {
                return Err(at(format!(
                    "address is longer than {MAX_EMAIL_LEN} characters"
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_cart(snap: &mut CartSnapshot) -> Result<(), String> {
    if snap.total.minor < 0 {
        return Err("cart total is negative".into());
    }
    if snap.subtotal.is_some_and(|s| s.minor < 0) {
        return Err("cart subtotal is negative".into());
    }
    for (n, item) in snap.items.iter_mut().enumerate() {
        if item.unit_price.minor < 0 || item.line_price.minor < 0 {
            return Err(format!("items[{n}] has a negative price"));
        }
        clean_item(item);
    }
    if let Some(c) = snap.contact.as_mut() {
        check_contact(c)?;
    }
    Ok(())
}

fn check_contact(c: &mut ContactInfo) -> Result<(), String> {
    if c.email.as_ref().is_some_and(|e| e.len() > MAX_EMAIL_LEN) {
        return Err(format!(
            "email is longer than {MAX_EMAIL_LEN} characters (RFC 5321)"
        ));
    }
    for name in [&mut c.first_name, &mut c.last_name] {
        if let Some(n) = name.as_mut() {
            *n = strip_controls(n);
            if n.is_empty() {
                *name = None;
            }
        }
    }
    Ok(())
}

fn clean_item(item: &mut LineItem) {
    item.title = strip_controls(&item.title);
    if let Some(v) = item.variant_title.as_mut() {
        *v = strip_controls(v);
    }
}

/// `s` without control characters (a line break becomes a space), trimmed.
pub fn strip_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.trim().to_string();
    }
    let spaced: String = s
        .chars()
        .filter_map(|c| match c {
            '\r' | '\n' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    spaced.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Money};
    use chrono::Utc;

    fn usd(minor: i64) -> Money {
        Money {
            minor,
            currency: Currency::parse("USD").unwrap(),
        }
    }

    fn cart(price: i64, contact: ContactInfo) -> Event {
        Event {
            source_id: "s".into(),
            event_id: "e1".into(),
            topic: "t".into(),
            occurred_at: Utc::now(),
            kind: EventKind::CheckoutStarted(CartSnapshot {
                key: "k".into(),
                cart_token: None,
                checkout_token: None,
                platform_id: None,
                contact: Some(contact),
                items: vec![LineItem {
                    product_id: None,
                    variant_id: None,
                    sku: None,
                    title: "Mug\r\nBcc: x@evil.example".into(),
                    variant_title: None,
                    quantity: 1,
                    unit_price: usd(price),
                    line_price: usd(price),
                    url: None,
                    image_url: None,
                }],
                currency: Currency::parse("USD").unwrap(),
                subtotal: None,
                total: usd(price.max(0)),
                recovery_url: None,
                updated_at: Utc::now(),
                completed_at: None,
            }),
        }
    }

    #[test]
    fn negative_prices_are_refused() {
        let err = check_events(&mut [cart(-5000, ContactInfo::default())]).unwrap_err();
        assert!(err.contains("negative price"), "{err}");
    }

    #[test]
    fn long_addresses_are_refused_and_names_cleaned() {
        let long = ContactInfo {
            email: Some(format!("{}@example.com", "a".repeat(290))),
            ..Default::default()
        };
        let err = check_events(&mut [cart(100, long)]).unwrap_err();
        assert!(err.contains("254"), "{err}");

        let named = ContactInfo {
            email: Some("ann@example.com".into()),
            first_name: Some("Ann\r\nBcc: victim@example.com".into()),
            last_name: Some("\u{0}\u{7}".into()),
            ..Default::default()
        };
        let mut events = [cart(100, named)];
        check_events(&mut events).unwrap();
        let EventKind::CheckoutStarted(snap) = &events[0].kind else {
            unreachable!()
        };
        let c = snap.contact.as_ref().unwrap();
        assert_eq!(
            c.first_name.as_deref(),
            Some("Ann  Bcc: victim@example.com")
        );
        assert_eq!(c.last_name, None);
        assert_eq!(snap.items[0].title, "Mug  Bcc: x@evil.example");
    }
}
