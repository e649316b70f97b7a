//! Twilio's wire types: the `Messages.json` create response, the REST error body, and the form
//! fields of status callbacks and inbound messages.

use serde::Deserialize;

/// The Message resource returned by `POST .../Messages.json` (only what the hub reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageResource {
    /// `SM...` (or `MM...` for MMS): the id status callbacks carry as `MessageSid`.
    pub sid: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    #[serde(default)]
    pub num_segments: Option<String>,
}

/// Twilio's REST error body: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct ErrorBody {
    /// Twilio's error code; a number, though tolerated as text.
    #[serde(default)]
    pub code: Option<serde_json::Value>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub more_info: Option<String>,
    #[serde(default)]
    pub status: Option<serde_json::Value>,
}

impl ErrorBody {
    /// Parses an error body; `None` when the body is not Twilio's JSON error.
    pub fn parse(body: &str) -> Option<ErrorBody> {
        serde_json::from_str::<ErrorBody>(body)
            .ok()
            .filter(|e| e.code().is_some() || e.message.is_some())
    }

    /// The numeric Twilio error code.
    pub fn code(&self) -> Option<u32> {
        match self.code.as_ref()? {
            serde_json::Value::Number(n) => n.as_u64().and_then(|c| u32::try_from(c).ok()),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// Twilio error codes the hub gives a name to.
pub mod codes {
    /// Too many concurrent requests: never processed, always safe to retry.
    pub const TOO_MANY_CONCURRENT_REQUESTS: u32 = 20429;
    /// The `To` number is not a valid phone number.
    pub const INVALID_TO: u32 = 21211;
    /// Permission to send to this region is not enabled.
    pub const REGION_NOT_ENABLED: u32 = 21408;
    /// The recipient replied STOP: unsubscribed from this sender.
    pub const UNSUBSCRIBED_RECIPIENT: u32 = 21610;
    /// Unverified recipient on a trial account.
    pub const TRIAL_UNVERIFIED: u32 = 21608;
    /// The `From`/`To` pair cannot be routed.
    pub const CANNOT_ROUTE: u32 = 21612;
    /// The `To` number is not SMS-capable (a landline).
    pub const NOT_SMS_CAPABLE: u32 = 21614;
}

/// A short description of a known Twilio error code, for delivery-error reasons.
pub fn describe(code: u32) -> Option<&'static str> {
    Some(match code {
        codes::TOO_MANY_CONCURRENT_REQUESTS => "too many concurrent requests",
        codes::INVALID_TO => "invalid To number",
        codes::REGION_NOT_ENABLED => "sending to this region is not enabled",
        codes::UNSUBSCRIBED_RECIPIENT => "recipient unsubscribed (replied STOP)",
        codes::TRIAL_UNVERIFIED => "unverified recipient on a trial account",
        codes::CANNOT_ROUTE => "the From/To pair cannot be routed",
        codes::NOT_SMS_CAPABLE => "To number is not SMS-capable",
        _ => return None,
    })
}

/// The form fields of a Twilio messaging webhook: a status callback (has `MessageStatus`) or an
/// inbound message (has `Body` and `From`). Fields the hub does not read are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Callback {
    pub message_sid: Option<String>,
    pub sms_sid: Option<String>,
    pub message_status: Option<String>,
    pub sms_status: Option<String>,
    pub error_code: Option<String>,
    pub account_sid: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub body: Option<String>,
    /// `STOP`, `START` or `HELP`, set by Messaging Services with Advanced Opt-Out.
    pub opt_out_type: Option<String>,
}

impl Callback {
    /// Reads the fields from decoded form pairs; the first non-empty value of each key wins.
    pub fn from_params(params: &[(String, String)]) -> Callback {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, v)| k == name && !v.trim().is_empty())
                .map(|(_, v)| v.clone())
        };
        Callback {
            message_sid: get("MessageSid"),
            sms_sid: get("SmsSid"),
            message_status: get("MessageStatus"),
            sms_status: get("SmsStatus"),
            error_code: get("ErrorCode"),
            account_sid: get("AccountSid"),
            messaging_service_sid: get("MessagingServiceSid"),
            from: get("From"),
            to: get("To"),
            body: params
                .iter()
                .find(|(k, _)| k == "Body")
                .map(|(_, v)| v.clone()),
            opt_out_type: get("OptOutType"),
        }
    }

    /// `MessageSid`, else the legacy `SmsSid`.
    pub fn sid(&self) -> Option<&str> {
        self.message_sid
            .as_deref()
            .or(self.sms_sid.as_deref())
            .map(str::trim)
    }

    /// `ErrorCode` as a number.
    pub fn error_code(&self) -> Option<u32> {
        self.error_code.as_deref()?.trim().parse().ok()
    }
}

/// Decodes an `application/x-www-form-urlencoded` body into its pairs, in order.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_codes() {
        let e = ErrorBody::parse(
            r#"{"code": 21211, "message": "The 'To' number is not valid.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#,
        )
        .expect("error body");
        assert_eq!(e.code(), Some(21211));
        let e = ErrorBody::parse(r#"{"code": "20429", "message": "Too many"}"#).expect("text");
        assert_eq!(e.code(), Some(20429));
        assert_eq!(ErrorBody::parse("<html>oops</html>"), None);
        assert_eq!(ErrorBody::parse("{}"), None);
    }

    #[test]
    fn callback_fields() {
        let c = Callback::from_params(&form_pairs(
            b"MessageSid=SM1&SmsSid=SM1&MessageStatus=failed&ErrorCode=21610&To=%2B14155550100",
        ));
        assert_eq!(c.sid(), Some("SM1"));
        assert_eq!(c.error_code(), Some(21610));
        assert_eq!(c.to.as_deref(), Some("+14155550100"));
        assert_eq!(
            Callback::from_params(&form_pairs(b"SmsSid=SM2")).sid(),
            Some("SM2")
        );
    }
}
