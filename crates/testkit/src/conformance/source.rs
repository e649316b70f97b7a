//! The source rules. Every rule signs what it sends with the case's own signer, so a rule that
//! expects a refusal first checks that the intact request is accepted: a refusal for another
//! reason cannot pass for the one under test.
//!
//! | rule | what the hub answers |
//! | --- | --- |
//! | a published vector verifies; with its body changed it does not | 200 / 401 |
//! | a wrong, missing or truncated signature, or any hostile value, is a `VerifyError` | 401 |
//! | a malformed body is a `TranslateError` with a reason | 400 + reason |
//! | a topic the hub does not use is `Translation::ignored` | 200 ignored |
//! | every truncation of every seed body, and generated bodies, never panic | — |

use super::{gen, suite_config};
use cartback_core::{verify, InboundRequest, Source, TranslateError, Translation, VerifyError};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

/// What a source connector's conformance run needs.
///
/// Requests come back unsigned or signed, as is handy: the suite signs each with [`sign`]
/// (which replaces any signature) before sending it.
///
/// [`sign`]: SourceCase::sign
pub trait SourceCase {
    type Source: Source;

    /// The source, configured with the secret [`SourceCase::sign`] signs with.
    fn source(&self) -> Self::Source;

    /// Signs `request` as the platform does, over its method, URL, headers and body as they
    /// are, setting [`SourceCase::signature_header`] (and a timestamp header, where the
    /// platform signs one: use `request.received_at`).
    fn sign(&self, request: &mut InboundRequest);

    /// The header [`SourceCase::sign`] puts the signature in.
    fn signature_header(&self) -> &'static str;

    /// False when what [`SourceCase::sign`] sets is a key that does not depend on the body
    /// (Segment's write key in `Authorization`): the rules that change a signed body, or move
    /// another body's signature over, are left out.
    fn signs_body(&self) -> bool {
        true
    }

    /// A request the source translates into at least one event.
    fn valid(&self) -> InboundRequest;

    /// A request whose body the source cannot read (not JSON, or not the platform's shape).
    fn malformed(&self) -> InboundRequest;

    /// A request on a topic (or of an event type) the hub does not use.
    fn unused_topic(&self) -> InboundRequest;

    /// The platform's published signature vectors, each already signed as published.
    fn vectors(&self) -> Vec<Vector<Self::Source>> {
        Vec::new()
    }

    /// The requests generated bodies are sent in: one per topic, mode or signing scheme the
    /// source knows, each with a fixture body to cut, flip and reshape. [`SourceCase::valid`]
    /// by default.
    fn seeds(&self) -> Vec<InboundRequest> {
        vec![self.valid()]
    }

    /// A source that takes unsigned requests, for the generated bodies, when signing costs too
    /// much to sign thousands (SendGrid's ECDSA takes milliseconds in a debug build):
    /// translation does not depend on the key. `None` (the default): they are signed and sent
    /// to [`SourceCase::source`].
    fn unsigned_source(&self) -> Option<Self::Source> {
        None
    }
}

/// A published signature vector: `request` carries the published signature and `source` is
/// configured with the published secret or key.
pub struct Vector<S> {
    /// Where it is published (`shopify-api-js validate.test.ts`).
    pub name: &'static str,
    pub source: S,
    pub request: InboundRequest,
}

fn signed<C: SourceCase>(case: &C, mut request: InboundRequest) -> InboundRequest {
    case.sign(&mut request);
    request
}

fn with_header(request: &InboundRequest, name: &str, value: &str) -> InboundRequest {
    let mut r = request.clone();
    let value = http::HeaderValue::from_str(value).expect("a header value");
    let name = http::HeaderName::from_bytes(name.as_bytes()).expect("a header name");
    r.headers.insert(name, value);
    r
}

fn with_body(request: &InboundRequest, body: impl Into<bytes::Bytes>) -> InboundRequest {
    let mut r = request.clone();
    r.body = body.into();
    r
}

/// `request`'s body with one more byte.
fn longer(request: &InboundRequest) -> Vec<u8> {
    [&request.body[..], b"x"].concat()
}

/// The signed [`SourceCase::valid`] request, checked to verify, and its signature.
fn accepted_valid<C: SourceCase>(case: &C, source: &C::Source) -> (InboundRequest, String) {
    let request = signed(case, case.valid());
    if let Err(e) = source.verify(&request) {
        panic!("the signed valid() request is refused ({e}): sign() and the source disagree");
    }
    let header = case.signature_header();
    let signature = request
        .header(header)
        .unwrap_or_else(|| panic!("sign() sets no {header} header (signature_header())"))
        .to_string();
    (request, signature)
}

fn refused<S: Source>(source: &S, request: &InboundRequest, what: &str) -> VerifyError {
    match source.verify(request) {
        Err(e) => e,
        Ok(()) => panic!("accepted {what}"),
    }
}

/// Every published vector verifies, and does not once its body changes.
pub fn published_vectors_verify<C: SourceCase>(case: &C) {
    let vectors = case.vectors();
    assert!(
        !vectors.is_empty(),
        "no published vector: list them in vectors(), or pass `no_published_vector` to \
         source_conformance! when the platform publishes none"
    );
    for v in vectors {
        if let Err(e) = v.source.verify(&v.request) {
            panic!("vector {}: refused: {e}", v.name);
        }
        if case.signs_body() {
            let tampered = with_body(&v.request, longer(&v.request));
            refused(
                &v.source,
                &tampered,
                &format!("vector {} with its body changed", v.name),
            );
        }
    }
}

/// The valid request verifies and translates into events (what every other rule relies on).
pub fn valid_request_is_accepted<C: SourceCase>(case: &C) {
    let source = case.source();
    let (request, _) = accepted_valid(case, &source);
    let verified = verify(&source, &request).expect("checked above");
    match source.translate(verified) {
        Ok(t) => {
            assert_eq!(t.ignored, None, "valid() is ignored: {t:?}");
            assert!(!t.events.is_empty(), "valid() has no event: {t:?}");
        }
        Err(e) => panic!("valid() does not translate: {e}"),
    }
}

/// One character of `signature` at `at` replaced by another of the same class.
fn altered(signature: &str, at: usize) -> String {
    signature
        .char_indices()
        .map(|(i, c)| match (i == at, c) {
            (false, c) => c,
            (true, '9') => '0',
            (true, 'z') => 'a',
            (true, 'Z') => 'A',
            (true, c) if c.is_ascii_alphanumeric() => (c as u8 + 1) as char,
            (true, _) => 'A',
        })
        .collect()
}

/// A signature of another body, a body changed after signing (unless the credential does not
/// depend on the body), and a signature with one character changed (first, middle) are refused.
pub fn wrong_signature_is_refused<C: SourceCase>(case: &C) {
    let source = case.source();
    let header = case.signature_header();
    let (request, signature) = accepted_valid(case, &source);

    if case.signs_body() {
        let other = signed(case, with_body(&request, longer(&request)));
        let other_signature = other.header(header).expect("sign() sets the header");
        assert_ne!(other_signature, signature, "two bodies, one signature");
        refused(
            &source,
            &with_header(&request, header, other_signature),
            "the signature of another body",
        );
        refused(
            &source,
            &with_body(&request, longer(&request)),
            "a body changed after signing",
        );
    }
    for at in [0, signature.len() / 2] {
        let wrong = altered(&signature, at);
        assert_ne!(wrong, signature);
        refused(
            &source,
            &with_header(&request, header, &wrong),
            &format!("{header}: {wrong} (signed: {signature})"),
        );
    }
}

/// The request without its signature header is refused.
pub fn missing_signature_is_refused<C: SourceCase>(case: &C) {
    let source = case.source();
    let (mut request, _) = accepted_valid(case, &source);
    request.headers.remove(case.signature_header());
    refused(&source, &request, "a request without its signature");
}

/// The signature cut to nothing, one character, half, and all but its last character is refused.
pub fn truncated_signature_is_refused<C: SourceCase>(case: &C) {
    let source = case.source();
    let header = case.signature_header();
    let (request, signature) = accepted_valid(case, &source);
    assert!(signature.is_ascii(), "{header} is not ASCII: {signature}");
    let n = signature.len();
    for cut in [0, 1, n / 2, n.saturating_sub(1)] {
        if cut < n {
            let truncated = &signature[..cut];
            refused(
                &source,
                &with_header(&request, header, truncated),
                &format!("{header} cut to {truncated:?}"),
            );
        }
    }
}

/// Any value of the signature header but the right one (arbitrary text and bytes, base64,
/// hex, numbers, times) is refused, and verification never panics.
pub fn hostile_signatures_are_refused<C: SourceCase>(case: &C) {
    let source = case.source();
    let header = case.signature_header();
    let (request, signature) = accepted_valid(case, &source);
    let name = http::HeaderName::from_bytes(header.as_bytes()).expect("a header name");
    TestRunner::new(suite_config())
        .run(&gen::header_value(), |value| {
            let mut r = request.clone();
            match http::HeaderValue::from_bytes(&value) {
                Ok(v) if v.as_bytes() != signature.as_bytes() => {
                    r.headers.insert(name.clone(), v);
                }
                Ok(_) => return Ok(()),
                Err(_) => {
                    r.headers.remove(&name);
                }
            }
            prop_assert!(source.verify(&r).is_err(), "accepted {header}: {value:?}");
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

fn reason(e: &TranslateError) -> &str {
    match e {
        TranslateError::Json(r) | TranslateError::MissingHeader(r) | TranslateError::Invalid(r) => {
            r
        }
        TranslateError::Schema { reason, .. } => reason,
    }
}

/// The malformed request verifies, and translating it is an error with a one-line reason.
pub fn malformed_body_is_refused_with_a_reason<C: SourceCase>(case: &C) {
    let source = case.source();
    let request = signed(case, case.malformed());
    let verified = verify(&source, &request)
        .unwrap_or_else(|e| panic!("the signed malformed() request is refused: {e}"));
    match source.translate(verified) {
        Ok(t) => panic!("malformed() translates: {t:?}"),
        Err(e) => {
            let r = reason(&e);
            assert!(!r.trim().is_empty(), "no reason: {e:?}");
            assert!(!e.to_string().contains('\n'), "not one line: {e}");
        }
    }
}

/// A topic the hub does not use is acknowledged: no events, and the reason why.
pub fn unused_topic_is_acknowledged<C: SourceCase>(case: &C) {
    let source = case.source();
    let request = signed(case, case.unused_topic());
    let verified = verify(&source, &request)
        .unwrap_or_else(|e| panic!("the signed unused_topic() request is refused: {e}"));
    match source.translate(verified) {
        Ok(Translation {
            ignored: Some(why),
            events,
            ..
        }) => {
            assert!(events.is_empty(), "ignored, yet events: {events:?}");
            assert!(!why.trim().is_empty(), "ignored without a reason");
        }
        other => panic!("unused_topic() is not acknowledged as ignored: {other:?}"),
    }
}

/// Sends `body` in `seed`, signed unless `source` takes unsigned requests: the handshake,
/// verification (which must accept), translation and trust never panic, and every refusal or
/// ignore has a reason.
fn exercise<C: SourceCase>(
    case: &C,
    (source, unsigned): (&C::Source, bool),
    seed: &InboundRequest,
    body: Vec<u8>,
) -> Result<(), TestCaseError> {
    let mut request = with_body(seed, body);
    if !unsigned {
        case.sign(&mut request);
    }
    let _ = source.handshake(&request);
    let verified =
        verify(source, &request).map_err(|e| TestCaseError::fail(format!("refused: {e}")))?;
    match source.translate(verified) {
        Ok(t) => {
            let why = t.ignored.as_deref().unwrap_or("-");
            prop_assert!(!why.trim().is_empty(), "ignored without a reason");
            let _ = source.trust(verified);
        }
        Err(e) => prop_assert!(!reason(&e).trim().is_empty(), "no reason: {e:?}"),
    }
    Ok(())
}

/// Every truncation of every seed's body (of each distinct body once), then
/// [`suite_config`]'s count of bodies drawn from [`gen::body_like`] of a seed, each sent in
/// that seed: none panics, every signed body verifies, and every refusal and ignore has a reason
/// (see [`SourceCase::unsigned_source`] for a platform whose signing is slow).
pub fn generated_bodies_never_panic<C: SourceCase>(case: &C) {
    let (source, unsigned) = match case.unsigned_source() {
        Some(s) => (s, true),
        None => (case.source(), false),
    };
    let source = (&source, unsigned);
    let seeds = case.seeds();
    assert!(!seeds.is_empty(), "seeds() is empty");
    let mut cut_already = std::collections::HashSet::new();
    for seed in &seeds {
        // A body shared by several seeds is cut in the first only: this loop is the slow part.
        if !cut_already.insert(seed.body.clone()) {
            continue;
        }
        for cut in 0..seed.body.len() {
            let body = seed.body[..cut].to_vec();
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                exercise(case, source, seed, body)
            }));
            match run {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("a seed's body cut at {cut}: {e}\n{seed:?}"),
                Err(_) => panic!("a seed's body cut at {cut} panics (above)\n{seed:?}"),
            }
        }
    }
    let bodies: Vec<_> = seeds
        .iter()
        .enumerate()
        .map(|(i, s)| (Just(i), gen::body_like(&s.body)))
        .collect();
    TestRunner::new(suite_config())
        .run(&proptest::strategy::Union::new(bodies), |(i, body)| {
            exercise(case, source, &seeds[i], body)
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn altering_keeps_the_class_and_changes_the_value() {
        assert_eq!(altered("B23t=", 0), "C23t=");
        assert_eq!(altered("a9z", 1), "a0z");
        assert_eq!(altered("a9z", 2), "a9a");
        assert_eq!(altered("v1,/+", 3), "v1,A+");
        assert_eq!(altered("AZ", 1), "AA");
    }
}
