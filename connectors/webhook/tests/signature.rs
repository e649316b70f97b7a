//! The Standard Webhooks signature: the published vector and an independent recomputation.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use cartback_kit::Secret;
use cartback_webhook::sign;
use cartback_webhook::signature::signing_key;
use hmac::{Hmac, Mac};

#[test]
fn standard_webhooks_published_vector() {
    // The example of the Standard Webhooks specification and its reference libraries.
    let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_eq!(
        sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    // Any change to id, timestamp or body changes the signature.
    assert_ne!(
        sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265331,
            br#"{"test": 2432232314}"#
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn raw_secret_is_used_as_bytes() {
    let secret = Secret::new("plain-shared-secret");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"plain-shared-secret").unwrap();
    mac.update(b"msg_1.1700000000.{}");
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(sign(&secret, "msg_1", 1_700_000_000, b"{}"), expected);
}

#[test]
fn whsec_keys_decode_or_are_refused() {
    let key = signing_key(&Secret::new("whsec_AQID")).unwrap();
    assert_eq!(key, vec![1, 2, 3]);
    assert!(signing_key(&Secret::new("whsec_not base64!")).is_err());
    assert!(signing_key(&Secret::new("whsec_")).is_err());
    assert_eq!(signing_key(&Secret::new("abc")).unwrap(), b"abc".to_vec());
}
