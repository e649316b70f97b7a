//! `X-Twilio-Signature`: the six official request-validator vectors (twilio-python
//! `tests/unit/test_request_validator.py`), plus tampering, wrong token and missing header.
#![allow(clippy::unwrap_used)]

mod common;

use cartback_core::{InboundRequest, Source, VerifyError};
use cartback_kit::Secret;
use cartback_twilio::verify::body_sha256;
use cartback_twilio::{signature, TwilioEvents, TwilioSettings};
use common::{encode, form_request, params, settings, ACCOUNT_SID, FROM, TOKEN};

const VECTOR_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const VECTOR_PARAMS: [(&str, &str); 5] = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
    ("Caller", "+14158675309"),
];
const JSON_BODY: &str = r#"{"property": "value", "boolean": true}"#;
const JSON_BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

fn source() -> TwilioEvents {
    TwilioEvents::new(settings())
}

/// The vector's params, form-encoded, posted to `url` with header `sig`.
fn vector_request(url: &str, sig: &str) -> InboundRequest {
    form_request(url, &encode(&VECTOR_PARAMS), Some(sig))
}

#[test]
fn vector_1_compute_signature() {
    assert_eq!(
        signature(TOKEN, VECTOR_URL, &params(&VECTOR_PARAMS)),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    source()
        .verify(&vector_request(VECTOR_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="))
        .unwrap();
}

#[test]
fn vector_2_https_default_port_added() {
    // Signed over the URL with :443; the request URL has no port.
    let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    assert_eq!(
        signature(TOKEN, with_port, &params(&VECTOR_PARAMS)),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    );
    source()
        .verify(&vector_request(VECTOR_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="))
        .unwrap();
    // And the other way: the request URL carries :443, the signature was over the bare URL.
    source()
        .verify(&vector_request(with_port, "RSOYDt4T1cUTdK1PDd93/VVr8B8="))
        .unwrap();
}

#[test]
fn vector_3_http_default_port_added() {
    let http = "http://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(
        signature(
            TOKEN,
            "http://mycompany.com:80/myapp.php?foo=1&bar=2",
            &params(&VECTOR_PARAMS)
        ),
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    );
    source()
        .verify(&vector_request(http, "0ZXoZLH/DfblKGATFgpif+LLRf4="))
        .unwrap();
}

#[test]
fn vector_4_http_custom_port() {
    let url = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
    assert_eq!(
        signature(TOKEN, url, &params(&VECTOR_PARAMS)),
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
    );
    source()
        .verify(&vector_request(url, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="))
        .unwrap();
    // The official validator also strips a non-default port (test_validation_removes_port_on_https).
    source()
        .verify(&vector_request(
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        ))
        .unwrap();
}

#[test]
fn vector_5_repeated_key() {
    let pairs = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
    ];
    assert_eq!(
        signature(TOKEN, VECTOR_URL, &params(&pairs)),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
    source()
        .verify(&form_request(
            VECTOR_URL,
            &encode(&pairs),
            Some("IK+Dwps556ElfBT0I3Rgjkr1wJU="),
        ))
        .unwrap();
}

fn json_request(url: &str, body: &str, sig: &str) -> InboundRequest {
    let mut h = http::HeaderMap::new();
    h.insert("content-type", "application/json".parse().unwrap());
    h.insert("x-twilio-signature", sig.parse().unwrap());
    InboundRequest {
        source_id: "sms".into(),
        method: http::Method::POST,
        url: url.into(),
        headers: h,
        body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        received_at: common::now(),
    }
}

#[test]
fn vector_6_json_body_sha256() {
    assert_eq!(body_sha256(JSON_BODY.as_bytes()), JSON_BODY_HASH);
    let url = format!("{VECTOR_URL}&bodySHA256={JSON_BODY_HASH}");
    assert_eq!(signature(TOKEN, &url, &[]), "a9nBmqA0ju/hNViExpshrM61xv4=");
    source()
        .verify(&json_request(
            &url,
            JSON_BODY,
            "a9nBmqA0ju/hNViExpshrM61xv4=",
        ))
        .unwrap();
    // A different body no longer matches the signed hash.
    assert_eq!(
        source().verify(&json_request(
            &url,
            r#"{"property": "other", "boolean": true}"#,
            "a9nBmqA0ju/hNViExpshrM61xv4="
        )),
        Err(VerifyError::Mismatch)
    );
    // A JSON body without bodySHA256 in the URL is signed by nothing: refused.
    assert_eq!(
        source().verify(&json_request(
            VECTOR_URL,
            JSON_BODY,
            &signature(TOKEN, VECTOR_URL, &[])
        )),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn tampered_param_fails() {
    let sig = signature(TOKEN, VECTOR_URL, &params(&VECTOR_PARAMS));
    let mut tampered = VECTOR_PARAMS;
    tampered[1] = ("Digits", "9999");
    assert_eq!(
        source().verify(&form_request(VECTOR_URL, &encode(&tampered), Some(&sig))),
        Err(VerifyError::Mismatch)
    );
    // An added param, and a changed query string, also fail.
    let mut added = VECTOR_PARAMS.to_vec();
    added.push(("Body", "STOP"));
    assert_eq!(
        source().verify(&form_request(VECTOR_URL, &encode(&added), Some(&sig))),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        source().verify(&vector_request(
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &sig
        )),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn wrong_token_fails() {
    let other = TwilioEvents::new(TwilioSettings::with_from(
        ACCOUNT_SID,
        Secret::new("54321"),
        FROM,
    ));
    assert_eq!(
        other.verify(&vector_request(VECTOR_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn missing_header_fails() {
    let mut req = vector_request(VECTOR_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    req.headers.remove("x-twilio-signature");
    assert_eq!(
        source().verify(&req),
        Err(VerifyError::MissingHeader("X-Twilio-Signature".into()))
    );
}
