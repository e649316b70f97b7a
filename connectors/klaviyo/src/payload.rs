//! Klaviyo's wire types.
//!
//! - The system webhook envelope (developers.klaviyo.com "Working with system webhooks"):
//!   `{"data": [{"external_id", "topic", "payload"}], "meta": {"klaviyo_account_id",
//!   "klaviyo_webhook_id", "timestamp"}}`, where `payload` has the shape of a Get Event answer
//!   (`data.attributes.{datetime, timestamp, event_properties}`, the profile in
//!   `data.relationships` and, when included, in `included[]`), or of a Get Profile answer for
//!   profile topics (`data.type = "profile"`, `data.attributes.{email, phone_number,
//!   subscriptions, ...}`).
//! - The flow webhook body cartback defines for Klaviyo flow "Webhook" actions ([`FlowWebhook`]).
//! - Out: the Create Event request (`POST /api/events`, JSON:API, revision 2026-07-15):
//!   [`EventRequest`] with the metric and the profile inside, and Klaviyo's error body
//!   ([`ErrorBody`]: `errors[]` of `{id, code, title, detail, source: {pointer, parameter}}`).
//!
//! Everything optional is read leniently: a shape we do not expect makes the field absent.

use cartback_kit::wire::{lenient_text, text};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The system webhook envelope. `data` items are read one by one (errors name the index).
#[derive(Debug, Clone, Deserialize)]
pub struct SystemWebhook {
    pub data: Vec<Value>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Meta {
    #[serde(default, deserialize_with = "lenient_text")]
    pub klaviyo_account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub klaviyo_webhook_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub timestamp: Option<String>,
}

/// One entry of `data[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct SystemEvent {
    #[serde(default, deserialize_with = "lenient_text")]
    pub external_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub topic: Option<String>,
    #[serde(default)]
    pub payload: Value,
}

/// The body of a Klaviyo flow "Webhook" action, as cartback asks it to be written (Klaviyo lets
/// the flow author compose the JSON; see `tests/fixtures/README.md` for the template).
#[derive(Debug, Clone, Deserialize)]
pub struct FlowWebhook {
    #[serde(deserialize_with = "required_text")]
    pub event_id: String,
    #[serde(default, deserialize_with = "lenient_text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub phone_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub last_name: Option<String>,
    /// `subscribed`, `unsubscribed` or `never_subscribed` (any case); else unknown.
    #[serde(default, deserialize_with = "lenient_text")]
    pub email_consent: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub sms_consent: Option<String>,
    /// ISO-8601 or epoch seconds / milliseconds.
    #[serde(default, deserialize_with = "lenient_text")]
    pub occurred_at: Option<String>,
    /// The shop's own id of the shopper, when the flow has it.
    #[serde(default, deserialize_with = "lenient_text")]
    pub external_id: Option<String>,
    /// The flow's trigger metric when it concerns the cart: `Added to Cart` (Klaviyo's standard
    /// metric) or `Removed from Cart`; with the product below, the cart changes.
    #[serde(default, deserialize_with = "lenient_text")]
    pub metric: Option<String>,
    /// The product of an `Added to Cart` flow (`{{ event.AddedItemProductID }}`, ...).
    #[serde(default, flatten)]
    pub product: CartProduct,
}

/// The product an `Added to Cart` / `Removed from Cart` flow webhook names.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CartProduct {
    #[serde(default, deserialize_with = "lenient_text")]
    pub cart_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub product_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub product_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub variant: Option<String>,
    /// Unit price, decimal text or number.
    #[serde(default, deserialize_with = "lenient_text")]
    pub price: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub quantity: Option<String>,
    /// ISO 4217; required with a price.
    #[serde(default, deserialize_with = "lenient_text")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub product_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub image_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub checkout_url: Option<String>,
}

fn required_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(&Value::deserialize(d)?)
        .ok_or_else(|| serde::de::Error::custom("event_id must be a non-empty string"))
}

/// The profile fields a system webhook payload carries, wherever they sit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileView {
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub external_id: Option<String>,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    /// `subscriptions.email.marketing.consent` (`SUBSCRIBED`, `UNSUBSCRIBED`, `NEVER_SUBSCRIBED`).
    pub email_consent: Option<String>,
    pub sms_consent: Option<String>,
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn at_text(v: &Value, path: &[&str]) -> Option<String> {
    at(v, path).and_then(text)
}

/// The profile `attributes` objects of `payload`, best first: the payload itself when it is a
/// profile (`data.type = "profile"`), then profiles in `included[]`, then an embedded `profile`.
fn profile_attributes(payload: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    if at(payload, &["data", "type"]).and_then(Value::as_str) == Some("profile") {
        found.extend(at(payload, &["data", "attributes"]));
    }
    if let Some(Value::Array(included)) = payload.get("included") {
        found.extend(
            included
                .iter()
                .filter(|i| i.get("type").and_then(Value::as_str) == Some("profile"))
                .filter_map(|i| i.get("attributes")),
        );
    }
    for path in [
        &["data", "attributes", "profile"][..],
        &["profile", "data", "attributes"][..],
        &["profile"][..],
    ] {
        found.extend(at(payload, path).filter(|v| v.is_object()));
    }
    found
}

impl ProfileView {
    /// Reads the profile of a system webhook `payload`; an event's `event_properties`
    /// (`$email`, `$phone_number`, `email`, `phone_number`) fill what no profile object gives.
    pub fn of(payload: &Value) -> ProfileView {
        let profiles = profile_attributes(payload);
        let props = at(payload, &["data", "attributes", "event_properties"]);
        let pick = |paths: &[&[&str]]| {
            profiles
                .iter()
                .find_map(|p| paths.iter().find_map(|path| at_text(p, path)))
        };
        let from_props =
            |keys: &[&str]| props.and_then(|p| keys.iter().find_map(|k| p.get(*k).and_then(text)));
        ProfileView {
            email: pick(&[&["email"]]).or_else(|| from_props(&["$email", "email"])),
            phone_number: pick(&[&["phone_number"]])
                .or_else(|| from_props(&["$phone_number", "phone_number"])),
            first_name: pick(&[&["first_name"]]),
            last_name: pick(&[&["last_name"]]),
            external_id: pick(&[&["external_id"]]),
            locale: pick(&[&["locale"]]),
            time_zone: pick(&[&["location", "timezone"]]),
            email_consent: pick(&[&["subscriptions", "email", "marketing", "consent"]]),
            sms_consent: pick(&[&["subscriptions", "sms", "marketing", "consent"]]),
        }
    }
}

/// When the event happened: `data.attributes.datetime`, else `data.attributes.timestamp`
/// (epoch seconds), else a profile's `updated`; the raw text, parsed by the caller.
pub fn payload_time(payload: &Value) -> Option<String> {
    [
        &["data", "attributes", "datetime"][..],
        &["data", "attributes", "timestamp"][..],
        &["data", "attributes", "updated"][..],
    ]
    .iter()
    .find_map(|p| at_text(payload, p))
}

/// `{"data": ...}`: a JSON:API document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document<T> {
    pub data: T,
}

/// A JSON:API resource object without an id: `{"type": ..., "attributes": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource<A> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: A,
}

impl<A> Resource<A> {
    pub fn document(kind: &'static str, attributes: A) -> Document<Resource<A>> {
        Document {
            data: Resource { kind, attributes },
        }
    }
}

/// The Create Event body: `{"data": {"type": "event", "attributes": {...}}}`.
pub type EventRequest = Document<Resource<EventAttributes>>;

/// `data.attributes` of a Create Event request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventAttributes {
    /// The event's properties (at most 400; top-level scalars are segmentable).
    pub properties: serde_json::Map<String, Value>,
    /// `{"data": {"type": "metric", "attributes": {"name": ...}}}`.
    pub metric: Document<Resource<MetricAttributes>>,
    /// `{"data": {"type": "profile", "attributes": {...}}}`: created or updated with the event.
    pub profile: Document<Resource<ProfileAttributes>>,
    /// ISO-8601; Klaviyo uses the time of receipt when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// A monetary value in decimal units (`59.98`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// ISO 4217.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_currency: Option<String>,
    /// For one profile and metric, only the first event with a given `unique_id` is kept.
    pub unique_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricAttributes {
    pub name: String,
}

/// The profile inside an event: at least one of `email`, `phone_number`, `external_id`.
/// Absent fields are left out (omission leaves Klaviyo's value as it is; `null` would clear it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProfileAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// BCP 47 (`en-US`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// One line of the cart, under Klaviyo's custom-integration property names (`Items[]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Item {
    #[serde(rename = "ProductID", skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(rename = "VariantID", skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    #[serde(rename = "SKU", skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub product_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_name: Option<String>,
    pub quantity: u32,
    /// The price of one unit, decimal.
    pub item_price: f64,
    /// The line's price, decimal.
    pub row_total: f64,
    /// The product page, through the hub's tracked link.
    #[serde(rename = "ProductURL", skip_serializing_if = "Option::is_none")]
    pub product_url: Option<String>,
    #[serde(rename = "ImageURL", skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// Klaviyo's 4xx/5xx body: `{"errors": [{"id", "code", "title", "detail", "source"}]}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiError {
    #[serde(default, deserialize_with = "lenient_text")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub detail: Option<String>,
    #[serde(default)]
    pub source: Option<ErrorSource>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorSource {
    /// A JSON pointer into the request (`/data/attributes/profile/data/attributes/email`).
    #[serde(default, deserialize_with = "lenient_text")]
    pub pointer: Option<String>,
    /// A query parameter or header (`revision`).
    #[serde(default, deserialize_with = "lenient_text")]
    pub parameter: Option<String>,
}

impl ErrorBody {
    /// Each error as `<field>: <detail>` (the field from `source.pointer` or `source.parameter`
    /// when Klaviyo names one; the detail, else the title, else the code), joined with `; `.
    /// `None` when the body is not Klaviyo's error shape or lists no error.
    pub fn summary(body: &str) -> Option<String> {
        let parsed: ErrorBody = serde_json::from_str(body).ok()?;
        let parts: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| {
                let what = e
                    .detail
                    .as_deref()
                    .or(e.title.as_deref())
                    .or(e.code.as_deref())
                    .unwrap_or("rejected");
                let field = e
                    .source
                    .as_ref()
                    .and_then(|s| s.pointer.as_deref().or(s.parameter.as_deref()));
                match field {
                    Some(f) => format!("{f}: {what}"),
                    None => what.to_string(),
                }
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}
