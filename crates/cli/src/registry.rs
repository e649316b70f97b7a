//! The registry: every connector this build knows, one line each (behind its cargo feature).
//! `check-config`, `serve` and the docs' type list all read [`CONNECTORS`]. Adding a platform is
//! its crate under `connectors/`, one line here, its feature in `Cargo.toml`, and its docs.

use cartback_kit::plugin::{Entry, Plugin, Role};

/// Every connector of this build.
pub static CONNECTORS: &[&dyn Plugin] = &[
    #[cfg(feature = "shopify")]
    &Entry::<cartback_shopify::Shopify>::NEW,
    #[cfg(feature = "woocommerce")]
    &Entry::<cartback_woocommerce::WooCommerce>::NEW,
    #[cfg(feature = "hubspot")]
    &Entry::<cartback_hubspot::HubSpot>::NEW,
    #[cfg(feature = "segment")]
    &Entry::<cartback_segment::Segment>::NEW,
    #[cfg(feature = "klaviyo")]
    &Entry::<cartback_klaviyo::Klaviyo>::NEW,
    #[cfg(feature = "magento")]
    &Entry::<cartback_magento::Magento>::NEW,
    &Entry::<cartback_console::Console>::NEW,
    &Entry::<cartback_web::Web>::NEW,
    #[cfg(feature = "sendgrid")]
    &Entry::<cartback_sendgrid::SendGrid>::NEW,
    #[cfg(feature = "twilio")]
    &Entry::<cartback_twilio::Twilio>::NEW,
    #[cfg(feature = "smtp")]
    &Entry::<cartback_smtp::Smtp>::NEW,
    #[cfg(feature = "webhook")]
    &Entry::<cartback_webhook::Webhook>::NEW,
    #[cfg(feature = "klaviyo")]
    &Entry::<cartback_klaviyo::KlaviyoChannel>::NEW,
    #[cfg(feature = "segment")]
    &Entry::<cartback_segment::SegmentChannel>::NEW,
    #[cfg(feature = "hubspot")]
    &Entry::<cartback_hubspot::HubSpotChannel>::NEW,
    #[cfg(feature = "mailchimp")]
    &Entry::<cartback_mailchimp::Mailchimp>::NEW,
    #[cfg(feature = "omnisend")]
    &Entry::<cartback_omnisend::Omnisend>::NEW,
    #[cfg(feature = "drip")]
    &Entry::<cartback_drip::Drip>::NEW,
    #[cfg(feature = "intercom")]
    &Entry::<cartback_intercom::Intercom>::NEW,
    #[cfg(feature = "activecampaign")]
    &Entry::<cartback_activecampaign::ActiveCampaign>::NEW,
    #[cfg(feature = "sfmc")]
    &Entry::<cartback_sfmc::Sfmc>::NEW,
    #[cfg(feature = "moengage")]
    &Entry::<cartback_moengage::MoEngage>::NEW,
    #[cfg(feature = "mailerlite")]
    &Entry::<cartback_mailerlite::MailerLite>::NEW,
    #[cfg(feature = "webengage")]
    &Entry::<cartback_webengage::WebEngage>::NEW,
    #[cfg(feature = "bloomreach")]
    &Entry::<cartback_bloomreach::Bloomreach>::NEW,
];

/// The config `type`s of one role, in registry order.
pub fn types(role: Role) -> Vec<&'static str> {
    CONNECTORS
        .iter()
        .filter(|c| c.role() == role)
        .map(|c| c.kind())
        .collect()
}

/// The source types that can import (`cartback import`).
pub fn importing_types() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = CONNECTORS
        .iter()
        .filter(|c| c.role() == Role::Source && c.imports())
        .map(|c| c.kind())
        .collect();
    out.sort_unstable();
    out
}

/// The connector of one role with this config `type`.
pub fn find(role: Role, kind: &str) -> Option<&'static dyn Plugin> {
    CONNECTORS
        .iter()
        .copied()
        .find(|c| c.role() == role && c.kind() == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_is_listed_once_per_role() {
        for role in [Role::Source, Role::Channel] {
            let mut t = types(role);
            let n = t.len();
            t.sort_unstable();
            t.dedup();
            assert_eq!(t.len(), n, "{role:?}: {t:?}");
        }
        assert!(types(Role::Channel).contains(&"console"));
        assert!(types(Role::Channel).contains(&"web"));
    }
}
