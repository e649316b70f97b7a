//! SendGrid's Signed Event Webhook: `X-Twilio-Email-Event-Webhook-Signature` is a base64 DER
//! ECDSA P-256 / SHA-256 signature over `X-Twilio-Email-Event-Webhook-Timestamp` followed by the
//! raw body, checked with the account's verification key (base64 DER SPKI).
//!
//! Two separate steps: [`verify_signature`] (the cryptography) and [`check_freshness`] (the
//! replay window of [`REPLAY_WINDOW`] between the signed timestamp and `received_at`).
//! [`verify`] runs both. It never parses the body.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cartback_core::{InboundRequest, VerifyError};
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use std::time::Duration;

pub const SIGNATURE_HEADER: &str = "X-Twilio-Email-Event-Webhook-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

/// How far the signed timestamp may be from the time the request was received.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(600);

/// Parses the verification key as SendGrid shows it (base64 DER SPKI), also accepted wrapped in
/// `-----BEGIN PUBLIC KEY-----` lines or with whitespace inside.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let b64: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    if b64.is_empty() {
        return Err("the key is empty".into());
    }
    let der = STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| "the key is not base64".to_string())?;
    VerifyingKey::from_public_key_der(&der)
        .map_err(|_| "the key is not a DER SubjectPublicKeyInfo of an ECDSA P-256 key".to_string())
}

/// Checks `signature_b64` over `timestamp` bytes followed by `body` with `key`.
///
/// A signature that is not base64 DER is [`VerifyError::MalformedHeader`]; a well-formed
/// signature that does not match is [`VerifyError::Mismatch`].
pub fn verify_signature(
    key: &VerifyingKey,
    timestamp: &str,
    body: &[u8],
    signature_b64: &str,
) -> Result<(), VerifyError> {
    let malformed = || VerifyError::MalformedHeader(SIGNATURE_HEADER.to_string());
    let raw = STANDARD
        .decode(signature_b64.trim().as_bytes())
        .map_err(|_| malformed())?;
    let signature = DerSignature::from_bytes(&raw).map_err(|_| malformed())?;
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    key.verify(&message, &signature)
        .map_err(|_| VerifyError::Mismatch)
}

/// Refuses a signed timestamp (unix seconds) further than [`REPLAY_WINDOW`] from `received_at`.
pub fn check_freshness(timestamp: &str, received_at: DateTime<Utc>) -> Result<(), VerifyError> {
    let at = timestamp
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .ok_or_else(|| VerifyError::MalformedHeader(TIMESTAMP_HEADER.to_string()))?;
    cartback_kit::check_timestamp_window(at, received_at, REPLAY_WINDOW)
}

/// Verifies a delivery with `key`: both headers present, the signature over the exact timestamp
/// header bytes and raw body, then the replay window against `request.received_at`.
pub fn verify(key: &VerifyingKey, request: &InboundRequest) -> Result<(), VerifyError> {
    let signature = request
        .header(SIGNATURE_HEADER)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| VerifyError::MissingHeader(SIGNATURE_HEADER.to_string()))?;
    let timestamp = request
        .header(TIMESTAMP_HEADER)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| VerifyError::MissingHeader(TIMESTAMP_HEADER.to_string()))?;
    verify_signature(key, timestamp, &request.body, signature)?;
    check_freshness(timestamp, request.received_at)
}

/// The `X-Twilio-Email-Event-Webhook-Signature` value SendGrid would send for `timestamp` and
/// `body` when signing with `key` (for tests, docs and hand-made deliveries).
pub fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    let signature: DerSignature = key.sign(&message);
    STANDARD.encode(signature.as_bytes())
}

/// The base64 DER SPKI of `key`'s public half, as SendGrid shows a verification key.
pub fn public_key_base64(key: &SigningKey) -> Result<String, String> {
    use p256::pkcs8::EncodePublicKey as _;
    key.verifying_key()
        .to_public_key_der()
        .map(|der| STANDARD.encode(der.as_bytes()))
        .map_err(|e| e.to_string())
}
