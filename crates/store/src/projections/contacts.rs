//! The contact projection: matching a report to a contact (email, phone, platform id), claims
//! and vouches (a public key's report only fills gaps and stays unverified), opt-outs (the hub's
//! own unsubscribe is kept), and erasure.

use crate::exec::{query, query_scalar, Exec};
use crate::StoreResult;
use cartback_core::{Consent, ContactInfo, Erasure, OptOut, OptOutChannel, Trust};

use crate::exec::new_id;

#[derive(Clone)]
pub(crate) struct ExistingContact {
    id: String,
    email_norm: Option<String>,
    updated_at: i64,
}

pub(crate) async fn find_contact(
    tx: &mut dyn Exec,
    column: &str,
    value: &str,
    source_id: &str,
) -> StoreResult<Option<ExistingContact>> {
    let sql = if column == "external_id" {
        "SELECT id, email_norm, updated_at FROM contacts WHERE external_id = $1 AND source_id = $2 LIMIT 1"
            .to_string()
    } else {
        format!("SELECT id, email_norm, updated_at FROM contacts WHERE {column} = $1 LIMIT 1")
    };
    let mut q = query(&sql).bind(value);
    if column == "external_id" {
        q = q.bind(source_id);
    }
    let row = q.fetch_optional(&mut *tx).await?;
    row.map(|r| {
        Ok(ExistingContact {
            id: r.get("id")?,
            email_norm: r.get("email_norm")?,
            updated_at: r.get("updated_at")?,
        })
    })
    .transpose()
}

/// Creates or updates the contact `info` describes; returns its id, or `None` if `info`
/// identifies nobody. Newer reports overwrite; older ones only fill in what is missing.
///
/// A [`Trust::Claimed`] report (a public key) is never believed over what is known: it only fills
/// gaps, its consent is ignored, and an address it adds stays unverified (never sent to) until a
/// verified source reports the same address. Consent never overrides an opt-out the shopper made
/// through the hub's own unsubscribe link.
pub(crate) async fn upsert_contact(
    tx: &mut dyn Exec,
    source_id: &str,
    info: &ContactInfo,
    at: i64,
    trust: Trust,
) -> StoreResult<Option<String>> {
    let email_norm = info.email_norm();
    let mut existing = None;
    if let Some(e) = &email_norm {
        existing = find_contact(tx, "email_norm", e, source_id).await?;
    }
    // Who holds the phone, once looked up (`None`: not looked up yet).
    let mut phone_holder: Option<Option<String>> = None;
    if existing.is_none() {
        if let Some(p) = &info.phone {
            let found = find_contact(tx, "phone", p, source_id).await?;
            phone_holder = Some(found.as_ref().map(|c| c.id.clone()));
            // A phone match belongs to someone else if they already have another email.
            existing = found.filter(|c| {
                email_norm.is_none() || c.email_norm.is_none() || c.email_norm == email_norm
            });
        }
    }
    // The platform's id for the visitor (`anon:<id>`, a user id): an anonymous contact the
    // visitor's clicks made. Found by it, it takes the address it did not have: an identify that
    // follows the clicks makes their cart the known shopper's.
    let by_external = match &info.external_id {
        Some(x) => find_contact(tx, "external_id", x, source_id).await?,
        None => None,
    };
    if existing.is_none() {
        if let Some(found) = &by_external {
            if email_norm.is_none() && info.phone.is_none() || found.email_norm.is_none() {
                existing = by_external.clone();
            }
        }
    }
    // Never take an email or phone that another contact holds.
    let phone = match &info.phone {
        Some(p) => {
            let holder: Option<String> = match phone_holder {
                Some(h) => h,
                None => {
                    query_scalar("SELECT id FROM contacts WHERE phone = $1")
                        .bind(p)
                        .fetch_optional(&mut *tx)
                        .await?
                }
            };
            match (&holder, &existing) {
                (Some(h), Some(e)) if *h != e.id => None,
                (Some(_), None) => None,
                _ => Some(p.clone()),
            }
        }
        None => None,
    };
    let email_norm_free = match (&email_norm, &existing) {
        (Some(e), Some(ex)) if ex.email_norm.as_deref() != Some(e.as_str()) => {
            let holder: Option<String> =
                query_scalar("SELECT id FROM contacts WHERE email_norm = $1")
                    .bind(e)
                    .fetch_optional(&mut *tx)
                    .await?;
            holder.is_none()
        }
        _ => true,
    };
    let (email, email_norm) = if email_norm_free {
        (info.email.clone(), email_norm)
    } else {
        (None, None)
    };
    let verified = i64::from(trust == Trust::Verified);
    let (email_consent, sms_consent) = match trust {
        Trust::Verified => (info.email_consent, info.sms_consent),
        Trust::Claimed => (Consent::Unknown, Consent::Unknown),
    };
    // A known shopper (found by address) who was an anonymous visitor a moment ago: the
    // visitor's carts become theirs. Only on a verified report: a claim (a public key) must not
    // be able to hand its carts, and their reminders, to someone else's address.
    if let (Some(known), Some(anon), Trust::Verified) = (&existing, &by_external, trust) {
        if known.id != anon.id && anon.email_norm.is_none() {
            query("UPDATE carts SET contact_id = $1 WHERE contact_id = $2")
                .bind(&known.id)
                .bind(&anon.id)
                .execute(&mut *tx)
                .await?;
        }
    }
    match existing {
        None => {
            if email_norm.is_none() && phone.is_none() && info.external_id.is_none() {
                return Ok(None);
            }
            let id = new_id();
            query(
                "INSERT INTO contacts (id, source_id, email, email_norm, phone, first_name, last_name,
                    locale, time_zone, email_consent, sms_consent, external_id, updated_at, created_at,
                    email_verified, phone_verified)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
            )
            .bind(&id)
            .bind(source_id)
            .bind(&email)
            .bind(&email_norm)
            .bind(&phone)
            .bind(&info.first_name)
            .bind(&info.last_name)
            .bind(&info.locale)
            .bind(&info.time_zone)
            .bind(email_consent.as_str())
            .bind(sms_consent.as_str())
            .bind(&info.external_id)
            .bind(at)
            .bind(at)
            .bind(verified)
            .execute(&mut *tx)
            .await?;
            Ok(Some(id))
        }
        Some(ex) if at >= ex.updated_at && trust == Trust::Verified => {
            let email_consent = (email_consent != Consent::Unknown).then(|| email_consent.as_str());
            let sms_consent = (sms_consent != Consent::Unknown).then(|| sms_consent.as_str());
            query(
                "UPDATE contacts SET
                    email = COALESCE($1, email), email_norm = COALESCE($2, email_norm),
                    email_verified = CASE WHEN $2 IS NOT NULL THEN 1 ELSE email_verified END,
                    phone = COALESCE($3, phone),
                    phone_verified = CASE WHEN $3 IS NOT NULL THEN 1 ELSE phone_verified END,
                    first_name = COALESCE($4, first_name),
                    last_name = COALESCE($5, last_name), locale = COALESCE($6, locale),
                    time_zone = COALESCE($7, time_zone),
                    email_consent = CASE WHEN email_optout_hub = 1 THEN email_consent
                        ELSE COALESCE($8, email_consent) END,
                    sms_consent = CASE WHEN sms_optout_hub = 1 THEN sms_consent
                        ELSE COALESCE($9, sms_consent) END,
                    external_id = COALESCE($10, external_id),
                    updated_at = $11
                 WHERE id = $12",
            )
            .bind(&email)
            .bind(&email_norm)
            .bind(&phone)
            .bind(&info.first_name)
            .bind(&info.last_name)
            .bind(&info.locale)
            .bind(&info.time_zone)
            .bind(email_consent)
            .bind(sms_consent)
            .bind(&info.external_id)
            .bind(at)
            .bind(&ex.id)
            .execute(&mut *tx)
            .await?;
            Ok(Some(ex.id))
        }
        Some(ex) => {
            // An older report, or a claim: fill gaps only; consent only where nothing is known
            // yet. An address filled in is verified only if the report is.
            query(
                "UPDATE contacts SET
                    email_verified = CASE WHEN $2 IS NULL THEN email_verified
                        WHEN email_norm IS NULL THEN $12
                        WHEN email_norm = $2 AND $12 = 1 THEN 1
                        ELSE email_verified END,
                    phone_verified = CASE WHEN $3 IS NULL THEN phone_verified
                        WHEN phone IS NULL THEN $12
                        WHEN phone = $3 AND $12 = 1 THEN 1
                        ELSE phone_verified END,
                    email = COALESCE(email, $1), email_norm = COALESCE(email_norm, $2),
                    phone = COALESCE(phone, $3), first_name = COALESCE(first_name, $4),
                    last_name = COALESCE(last_name, $5), locale = COALESCE(locale, $6),
                    time_zone = COALESCE(time_zone, $7),
                    email_consent = CASE WHEN email_consent = 'unknown' THEN $8 ELSE email_consent END,
                    sms_consent = CASE WHEN sms_consent = 'unknown' THEN $9 ELSE sms_consent END,
                    external_id = COALESCE(external_id, $10)
                 WHERE id = $11",
            )
            .bind(&email)
            .bind(&email_norm)
            .bind(&phone)
            .bind(&info.first_name)
            .bind(&info.last_name)
            .bind(&info.locale)
            .bind(&info.time_zone)
            .bind(email_consent.as_str())
            .bind(sms_consent.as_str())
            .bind(&info.external_id)
            .bind(&ex.id)
            .bind(verified)
            .execute(&mut *tx)
            .await?;
            Ok(Some(ex.id))
        }
    }
}

/// Applies an opt-out or a resubscribe. An opt-out the shopper made through the hub's own
/// unsubscribe link (`by_hub`) is remembered, and no provider's resubscribe overrides it.
pub(crate) async fn apply_opt_out(
    tx: &mut dyn Exec,
    opt: &OptOut,
    by_hub: bool,
) -> StoreResult<u64> {
    let (consent, sticky, address) = match opt.channel {
        OptOutChannel::Email => (
            "email_consent",
            "email_optout_hub",
            cartback_core::normalize_email(&opt.address),
        ),
        OptOutChannel::Sms => ("sms_consent", "sms_optout_hub", opt.address.clone()),
    };
    let key = match opt.channel {
        OptOutChannel::Email => "email_norm",
        OptOutChannel::Sms => "phone",
    };
    let sql = match (opt.resubscribe, by_hub) {
        (true, _) => format!(
            "UPDATE contacts SET {consent} = 'subscribed' WHERE {key} = $1 AND {sticky} = 0"
        ),
        (false, true) => {
            format!("UPDATE contacts SET {consent} = 'unsubscribed', {sticky} = 1 WHERE {key} = $1")
        }
        (false, false) => {
            format!("UPDATE contacts SET {consent} = 'unsubscribed' WHERE {key} = $1")
        }
    };
    let result = query(&sql).bind(address).execute(&mut *tx).await?;
    Ok(result.rows_affected())
}

/// Erases personal data; anonymous aggregates (cart totals, order totals, counts) stay.
pub(crate) async fn erase(
    tx: &mut dyn Exec,
    source_id: &str,
    erasure: &Erasure,
    keep_seq: i64,
) -> StoreResult<u64> {
    let contact_ids: Vec<String> = match erasure {
        Erasure::Contact {
            email,
            phone,
            external_id,
            order_ids,
        } => {
            let mut ids: Vec<String> = query_scalar(
                "SELECT id FROM contacts WHERE (email_norm IS NOT NULL AND email_norm = $1)
                    OR (phone IS NOT NULL AND phone = $2) OR (external_id IS NOT NULL AND external_id = $3 AND source_id = $4)",
            )
            .bind(email.as_deref().map(cartback_core::normalize_email))
            .bind(phone)
            .bind(external_id)
            .bind(source_id)
            .fetch_all(&mut *tx)
            .await?;
            for order_id in order_ids {
                let c: Option<String> = query_scalar(
                    "SELECT contact_id FROM orders WHERE source_id = $1 AND order_id = $2 AND contact_id IS NOT NULL",
                )
                .bind(source_id)
                .bind(order_id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
                ids.extend(c);
                query("UPDATE orders SET email_norm = NULL, contact_id = NULL WHERE source_id = $1 AND order_id = $2")
                    .bind(source_id)
                    .bind(order_id)
                    .execute(&mut *tx)
                    .await?;
            }
            ids.sort();
            ids.dedup();
            ids
        }
        Erasure::Source => {
            query("DELETE FROM events WHERE source_id = $1 AND seq <> $2")
                .bind(source_id)
                .bind(keep_seq)
                .execute(&mut *tx)
                .await?;
            query("UPDATE carts SET contact_id = NULL, recovery_url = NULL, cart_token = NULL, checkout_token = NULL WHERE source_id = $1")
                .bind(source_id)
                .execute(&mut *tx)
                .await?;
            query("UPDATE orders SET email_norm = NULL, contact_id = NULL, cart_token = NULL, checkout_token = NULL WHERE source_id = $1")
                .bind(source_id)
                .execute(&mut *tx)
                .await?;
            query_scalar("SELECT id FROM contacts WHERE source_id = $1")
                .bind(source_id)
                .fetch_all(&mut *tx)
                .await?
        }
    };
    for id in &contact_ids {
        query(
            "DELETE FROM events WHERE seq <> $1 AND (contact_id = $2 OR cart_id IN (SELECT id FROM carts WHERE contact_id = $3))",
        )
        .bind(keep_seq)
        .bind(id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        query("UPDATE carts SET contact_id = NULL, recovery_url = NULL WHERE contact_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        query("UPDATE orders SET contact_id = NULL, email_norm = NULL WHERE contact_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        crate::surveys::erase_contact(&mut *tx, id).await?;
        // What the hub sent them: nothing more goes, and what went keeps no trace of them
        // (the rows stay, so reports keep their counts).
        query(
            "UPDATE outbox SET status = 'cancelled', last_error = 'contact erased'
             WHERE contact_id = $1 AND status IN ('queued', 'claimed')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        crate::privacy::scrub_messages(
            &mut *tx,
            "SELECT id, message FROM outbox WHERE contact_id = $1",
            &[crate::exec::Val::Text(id.clone())],
        )
        .await?;
        query("UPDATE outbox SET contact_id = NULL WHERE contact_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        query("UPDATE flow_runs SET contact_id = NULL WHERE contact_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        query("DELETE FROM contact_tags WHERE contact_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        query("DELETE FROM contacts WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(contact_ids.len() as u64)
}
