//! Translation of HubSpot batches, compared with a reviewed golden file.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{verify, Consent, Erasure, EventKind, Source, TranslateError, Translation};
use cartback_hubspot::HubSpotSource;
use common::{fixture, request, settings};

fn translate(body: &[u8]) -> Result<Translation, TranslateError> {
    let src = HubSpotSource::new(settings());
    let req = request(body);
    let verified = verify(&src, &req).unwrap();
    src.translate(verified)
}

fn golden(name: &str) -> Translation {
    let t = translate(&fixture(&format!("{name}.json"))).unwrap();
    let actual = serde_json::to_string_pretty(&t.events).unwrap() + "\n";
    let path = format!(
        "{}/tests/fixtures/{name}.expected.json",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {path}; run with UPDATE_GOLDEN=1 and review"));
    assert_eq!(actual, expected, "{name} differs from its golden file");
    t
}

fn contact(t: &Translation, i: usize) -> &cartback_core::ContactInfo {
    match &t.events[i].kind {
        EventKind::ContactUpdated(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn contact_batch() {
    let t = golden("contact_batch");
    assert!(t.delivery_ids.is_empty(), "events dedupe on their own ids");
    assert_eq!(t.topic, "batch");
    let ids: Vec<&str> = t.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "1802370701",
            "1802370702",
            "1802370703",
            "1802370705",
            "1802370706",
            "1802370708"
        ],
        "national mobilephone, lifecyclestage and deal.creation are skipped"
    );
    assert_eq!(
        t.events[0].occurred_at.to_rfc3339(),
        "2025-11-20T16:00:00.123+00:00"
    );
    let created = contact(&t, 0);
    assert_eq!(created.external_id.as_deref(), Some("51001"));
    assert!(created.email.is_none());
    assert_eq!(contact(&t, 1).email.as_deref(), Some("Ann.Lee@Example.com"));
    assert_eq!(contact(&t, 2).phone.as_deref(), Some("+14158675309"));
    assert_eq!(contact(&t, 3).first_name.as_deref(), Some("Ann"));
    let opt_out = contact(&t, 4);
    assert_eq!(opt_out.email_consent, Consent::Unsubscribed);
    assert_eq!(opt_out.external_id.as_deref(), Some("51002"));
    assert_eq!(
        t.events[5].kind,
        EventKind::Erasure(Erasure::Contact {
            email: None,
            phone: None,
            external_id: Some("51003".into()),
            order_ids: vec![],
        })
    );
    assert_eq!(t.events[5].topic, "contact.privacyDeletion");
}

#[test]
fn single_type_batches_and_opt_in() {
    let body = br#"[{"eventId": "77", "occurredAt": 1763654400000, "subscriptionType": "contact.propertyChange",
        "objectId": "9", "propertyName": "hs_email_optout", "propertyValue": "false"},
        {"eventId": 78, "occurredAt": 1763654400000, "subscriptionType": "contact.propertyChange",
        "objectId": 9, "propertyName": "lastname", "propertyValue": " Lee "}]"#;
    let t = translate(body).unwrap();
    assert_eq!(t.topic, "contact.propertyChange");
    assert_eq!(contact(&t, 0).email_consent, Consent::Subscribed);
    assert_eq!(contact(&t, 1).last_name.as_deref(), Some("Lee"));
    let deletion = br#"[{"eventId": 5, "occurredAt": 1763654400000, "subscriptionType": "contact.deletion", "objectId": 12}]"#;
    let t = translate(deletion).unwrap();
    assert!(matches!(
        &t.events[0].kind,
        EventKind::Erasure(Erasure::Contact { external_id: Some(id), .. }) if id == "12"
    ));
}

#[test]
fn nothing_used_is_ignored() {
    for body in [
        &b"[]"[..],
        br#"[{"eventId": 1, "occurredAt": 1763654400000, "subscriptionType": "company.creation", "objectId": 3}]"#,
        br#"[{"eventId": 2, "occurredAt": 1763654400000, "subscriptionType": "contact.propertyChange",
              "objectId": 3, "propertyName": "email", "propertyValue": "not-an-email"}]"#,
        br#"[{"eventId": 3, "occurredAt": 1763654400000, "subscriptionType": "contact.propertyChange",
              "objectId": 3, "propertyName": "phone", "propertyValue": "call me"}]"#,
        br#"[{"eventId": 4, "occurredAt": 1763654400000, "subscriptionType": "contact.propertyChange",
              "objectId": 3, "propertyName": "firstname", "propertyValue": ""}]"#,
    ] {
        let t = translate(body).unwrap();
        assert!(t.events.is_empty(), "{}", String::from_utf8_lossy(body));
        assert_eq!(t.ignored.as_deref(), Some("no event the hub uses"));
    }
}

#[test]
fn bad_bodies_are_400_class_errors() {
    assert!(matches!(
        translate(b"{not json"),
        Err(TranslateError::Json(_))
    ));
    for body in [
        &br#"{"eventId": 1, "subscriptionType": "contact.creation"}"#[..],
        br#""events""#,
        br#"[{"subscriptionType": "contact.creation", "objectId": 1}]"#,
        br#"[{"eventId": 1, "objectId": 1}]"#,
        br#"[1]"#,
    ] {
        let r = translate(body);
        assert!(
            matches!(r, Err(TranslateError::Schema { .. })),
            "{}: {r:?}",
            String::from_utf8_lossy(body)
        );
    }
}
