//! Standard Webhooks signing: `v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`.

use base64::Engine as _;
use cartback_kit::{hmac_sha256, Encoding, Secret};

/// The prefix of a Standard Webhooks secret; the rest is the base64 key.
pub const SECRET_PREFIX: &str = "whsec_";

/// The key bytes: the decoded base64 after `whsec_`, or the secret's raw bytes otherwise.
/// An error when a `whsec_` secret does not carry valid, non-empty base64.
pub fn signing_key(secret: &Secret) -> Result<Vec<u8>, String> {
    match secret.expose().strip_prefix(SECRET_PREFIX) {
        Some(b64) => {
            let key = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| {
                    "secret starts with \"whsec_\" but the rest is not base64".to_string()
                })?;
            if key.is_empty() {
                return Err("secret \"whsec_\" carries an empty key".into());
            }
            Ok(key)
        }
        None if secret.expose().is_empty() => Err("secret must not be empty".into()),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// The `webhook-signature` value for one delivery. A `whsec_` secret whose key does not decode
/// (refused by validation) is used as raw bytes.
pub fn sign(secret: &Secret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = signing_key(secret).unwrap_or_else(|_| secret.as_bytes().to_vec());
    let ts = timestamp.to_string();
    let digest = hmac_sha256(&key, &[msg_id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", Encoding::Base64.encode(&digest))
}
