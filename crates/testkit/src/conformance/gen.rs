//! Generators for property tests over hostile input: bytes, header values, URL paths, and JSON
//! shaped like a fixture with fields removed or swapped for values at the edges of what they mean.
//!
//! The suite draws its bodies from [`body_like`]; connectors' own property tests (a platform's
//! field list, its several signature headers, its replay window) use the rest.

use super::now;
use base64::Engine as _;
use cartback_core::InboundRequest;
use chrono::{DateTime, Utc};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde_json::{json, Value};
use std::sync::Arc;

/// A POST to `url` received at [`now`]. A header value HTTP cannot carry (a line break, a
/// control byte) is left out: no server would hand such a request to a source.
pub fn inbound(url: &str, headers: &[(&str, &[u8])], body: Vec<u8>) -> InboundRequest {
    let mut h = http::HeaderMap::new();
    for (name, value) in headers {
        if let Ok(v) = http::HeaderValue::from_bytes(value) {
            let name = http::HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
            h.insert(name, v);
        }
    }
    InboundRequest {
        source_id: super::source_id(url),
        method: http::Method::POST,
        url: url.into(),
        headers: h,
        body: body.into(),
        received_at: now(),
    }
}

/// The header as a source reads it: visible ASCII, trimmed; `None` when absent or blank.
pub fn header_text(value: &[u8]) -> Option<String> {
    http::HeaderValue::from_bytes(value)
        .ok()
        .and_then(|v| v.to_str().ok().map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
}

/// Whether a request was accepted although `value` (a timestamp header) is not within `window`
/// seconds of [`now`] by `parse`.
pub fn accepted_outside_window(
    accepted: bool,
    value: &[u8],
    window: i64,
    parse: impl Fn(&str) -> Option<DateTime<Utc>>,
) -> bool {
    let inside = header_text(value)
        .and_then(|t| parse(&t))
        .is_some_and(|t| (t - now()).num_seconds().abs() <= window);
    accepted && !inside
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Header values an attacker may send for a signature or timestamp.
pub fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        ".{0,100}".prop_map(String::into_bytes),
        vec(any::<u8>(), 0..100),
        vec(any::<u8>(), 0..80).prop_map(|b| b64(&b).into_bytes()),
        vec(any::<u8>(), 0..40).prop_map(|b| hex_of(&b).into_bytes()),
        "-?[0-9]{0,22}(\\.[0-9]{0,6})?".prop_map(String::into_bytes),
        select(edges(Kind::Time)).prop_map(|v| form_text(v).into_bytes()),
    ]
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Paths and queries an attacker may request (platforms that sign the URL sign these too).
pub fn hostile_path() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,60}",
        "(/[-a-zA-Z0-9._~!$&'()*+,;=:@%]{0,12}){0,4}(\\?[-a-zA-Z0-9._~!$&'()*+,;=:@%/?]{0,30})?",
        "(%[0-9a-fA-F]{0,2}[a-z]?){0,12}",
    ]
}

/// Arbitrary bytes, or `fixture` truncated or with a few bytes overwritten.
pub fn hostile_bytes(fixture: impl AsRef<[u8]>) -> BoxedStrategy<Vec<u8>> {
    let bytes: Arc<[u8]> = fixture.as_ref().into();
    let (cut, flip) = (bytes.clone(), bytes.clone());
    prop_oneof![
        2 => vec(any::<u8>(), 0..512),
        1 => (0..=bytes.len()).prop_map(move |n| cut[..n].to_vec()),
        1 => vec((any::<Index>(), any::<u8>()), 1..8).prop_map(move |flips| {
            let mut b = flip.to_vec();
            for (i, x) in flips {
                if !b.is_empty() {
                    let at = i.index(b.len());
                    b[at] = x;
                }
            }
            b
        }),
    ]
    .boxed()
}

/// What the suite sends in a seed request's place: [`hostile_bytes`] of its body and, when the
/// body is JSON, the body with up to four of its fields (at any depth) removed or replaced by
/// an arbitrary or an edge value ([`any_field_changed`]).
pub fn body_like(seed: &[u8]) -> BoxedStrategy<Vec<u8>> {
    match serde_json::from_slice::<Value>(seed) {
        Ok(value) if value.is_object() || value.is_array() => prop_oneof![
            1 => hostile_bytes(seed),
            2 => any_field_changed(value).prop_map(|v| bytes_of(&v)),
        ]
        .boxed(),
        _ => hostile_bytes(seed),
    }
}

/// `base` with up to four of its fields, chosen among all of them at any depth, removed or
/// replaced by an arbitrary value or a value at the edge of some field's meaning.
pub fn any_field_changed(base: Value) -> impl Strategy<Value = Value> {
    let mut paths = Vec::new();
    pointers(&base, String::new(), &mut paths);
    paths.truncate(400);
    let all_edges: Vec<Value> = ALL_KINDS.iter().flat_map(|k| edges(*k)).collect();
    let change = prop_oneof![
        6 => select(all_edges).prop_map(Edit::Set),
        4 => any_json().prop_map(Edit::Set),
        2 => Just(Edit::Remove),
    ];
    let n = paths.len();
    let chosen = proptest::sample::subsequence(paths, 0..=n.min(4));
    (chosen, vec(change, 4)).prop_map(move |(chosen, changes)| {
        let mut v = base.clone();
        for (path, e) in chosen.iter().zip(changes) {
            apply(&mut v, path, e);
        }
        v
    })
}

/// Every JSON pointer under `v`, parents before children.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, c)| (k.replace('~', "~0").replace('/', "~1"), c))
            .collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        let path = format!("{at}/{key}");
        out.push(path.clone());
        pointers(child, path, out);
    }
}

/// Arbitrary JSON: null, booleans, integers, u64, f64, strings up to 40 characters, `[]`, `{}`.
pub fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
    ]
}

/// What a field means, for the values at the edges of it.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Amount,
    Count,
    Id,
    Text,
    Time,
    Currency,
    Email,
    Phone,
    Country,
    Any,
    OneOf(&'static [&'static str]),
}

const ALL_KINDS: [Kind; 10] = [
    Kind::Amount,
    Kind::Count,
    Kind::Id,
    Kind::Text,
    Kind::Time,
    Kind::Currency,
    Kind::Email,
    Kind::Phone,
    Kind::Country,
    Kind::Any,
];

fn strs(list: &[&str]) -> Vec<Value> {
    list.iter().map(|s| Value::from(*s)).collect()
}

/// Values at the edges of what a `kind` field holds: out of range, the wrong type, almost right.
pub fn edges(kind: Kind) -> Vec<Value> {
    let mut v = match kind {
        Kind::Amount => strs(&[
            "0",
            "0.00",
            "-0.005",
            "9.995",
            "12.50",
            "1e3",
            "1.5e-3",
            "1E+2",
            "1e64",
            "1e65",
            "-1e-65",
            ".5",
            "5.",
            "+1",
            "--1",
            "1,00",
            "NaN",
            "-",
            ".",
            "١٢",
            "92233720368547758.07",
            "92233720368547758.06",
            "-92233720368547758.07",
            "9223372036854775807",
            "9223372036854775808",
            "92233720368547758.075",
            "0.000000000000000000000001",
        ]),
        Kind::Count => strs(&["2", "2.0", "1e3", "-0", "4294967295", "99999999999", "1.5"]),
        Kind::Id => strs(&[
            "0",
            "  42 ",
            "9007199254740993",
            "a/b?c#d&e=f",
            "%2F%3A",
            "{quote_id}",
            "💥",
        ]),
        Kind::Text => strs(&[
            "\u{0}",
            "💥",
            "a\nb",
            "ǅİß",
            "{sku}{product_id}{base_url}",
            "%",
            "\\",
            "https://shop.example/p?x=1#y",
        ]),
        Kind::Time => strs(&[
            "2026-11-20T15:59:30Z",
            "2026-11-20T15:14:02",
            "2026-11-20 15:04:05",
            "2026-11-20 15:04:05.123456",
            "+262143-12-31T23:59:59Z",
            "-262144-01-01T00:00:00Z",
            "9999-12-31T23:59:60Z",
            "2026-02-30T00:00:00",
            "2026-11-20T10:00:00+99:00",
            "0",
            "1795190400",
            "1795190400000",
            "1795190400.5",
            "99999999999999999999",
            "-1",
        ]),
        Kind::Currency => {
            let mut v = strs(&[
                "USD",
                "usd",
                "JPY",
                "BHD",
                "CLF",
                "GBP",
                "US",
                "USDD",
                "ÜSD",
                "€€€",
            ]);
            v.push(json!(840));
            v
        }
        Kind::Email => strs(&[
            "a@b.c",
            "Ann.Lee@Example.com",
            "@",
            "a@",
            "@b",
            "a@b@c",
            "<a@b.c>",
            "ä@ö.de",
            "a@b.c\n",
            "a b@c.d",
        ]),
        Kind::Phone => strs(&[
            "+14158675309",
            "(415) 867-5309",
            "07911 123456",
            "+",
            "+0",
            "+999999999999999999999",
            "00",
            "١٢٣",
            "tel:+1",
            "whatsapp:+14155550100",
            "+1 415 867 5309 ext. 99",
            "+44 20 7946 0958",
        ]),
        Kind::Country => strs(&["US", "GB", "gb", "XX", "USA", "1", "ÄÖ"]),
        Kind::Any => vec![json!([null]), json!({"a": null}), json!([[]]), json!("{}")],
        Kind::OneOf(list) => strs(list),
    };
    v.extend([
        json!(""),
        json!(" "),
        json!(0),
        json!(-1),
        json!(1),
        json!(2),
        json!(3),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(u64::from(u32::MAX)),
        json!(u64::from(u32::MAX) + 1),
        json!(1.5),
        json!(2.0),
        json!(19.900000000000002),
        json!(-1.7763568394002505e-15),
        json!(1e300),
        json!(5e-324),
        json!(true),
        json!("x".repeat(300)),
    ]);
    v
}

/// What happens to one field of a fixture.
#[derive(Debug, Clone)]
pub enum Edit {
    Keep,
    Set(Value),
    Remove,
}

/// A change to a field: an edge value, an arbitrary value, or removal.
pub fn change(kind: Kind) -> BoxedStrategy<Edit> {
    prop_oneof![
        6 => select(edges(kind)).prop_map(Edit::Set),
        4 => any_json().prop_map(Edit::Set),
        2 => Just(Edit::Remove),
    ]
    .boxed()
}

/// One edit per field: mostly up to four fields changed and the rest kept (so the payload
/// still gets past the fields it needs and reaches the code behind them), sometimes every
/// field changed or kept at random. Only the changes used are drawn.
pub fn edits(kinds: Vec<Kind>) -> impl Strategy<Value = Vec<Edit>> {
    let n = kinds.len();
    let changes: Vec<_> = kinds.iter().map(|k| change(*k)).collect();
    let all: Vec<_> = changes
        .iter()
        .map(|c| prop_oneof![1 => Just(Edit::Keep), 1 => c.clone()])
        .collect();
    let some = proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 0..=n.min(4))
        .prop_flat_map(move |chosen| {
            let drawn: Vec<_> = chosen.iter().map(|i| changes[*i].clone()).collect();
            (Just(chosen), drawn)
        })
        .prop_map(move |(chosen, drawn)| {
            let mut out = vec![Edit::Keep; n];
            for (i, e) in chosen.into_iter().zip(drawn) {
                out[i] = e;
            }
            out
        });
    prop_oneof![4 => some, 1 => all]
}

/// Applies `edit` at the JSON pointer `path` (a missing field is added, when its parent exists).
pub fn apply(root: &mut Value, path: &str, edit: Edit) {
    let Some((parent, key)) = path.rsplit_once('/') else {
        return;
    };
    let key = key.replace("~1", "/").replace("~0", "~");
    let Some(parent) = root.pointer_mut(parent) else {
        return;
    };
    match (parent, edit) {
        (_, Edit::Keep) => {}
        (Value::Object(o), Edit::Set(v)) => {
            o.insert(key, v);
        }
        (Value::Object(o), Edit::Remove) => {
            o.remove(&key);
        }
        (Value::Array(a), Edit::Set(v)) => {
            if let Some(slot) = key.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                *slot = v;
            }
        }
        (Value::Array(a), Edit::Remove) => {
            if let Some(i) = key.parse::<usize>().ok().filter(|i| *i < a.len()) {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// `base` with some of `fields` (JSON pointers, parents before children) removed or swapped
/// for an arbitrary or edge value.
pub fn shaped(
    base: Value,
    fields: &'static [(&'static str, Kind)],
) -> impl Strategy<Value = Value> {
    edits(fields.iter().map(|(_, k)| *k).collect()).prop_map(move |edits| {
        let mut v = base.clone();
        for ((path, _), e) in fields.iter().zip(edits) {
            apply(&mut v, path, e);
        }
        v
    })
}

/// One of `bases`, shaped by [`shaped`].
pub fn shaped_one_of(
    bases: Vec<Value>,
    fields: &'static [(&'static str, Kind)],
) -> impl Strategy<Value = Value> {
    proptest::strategy::Union::new(bases.into_iter().map(|b| shaped(b, fields).boxed()))
}

/// Parses a fixture known to be JSON.
pub fn json_of(text: impl AsRef<[u8]>) -> Value {
    serde_json::from_slice(text.as_ref()).expect("the fixture is JSON")
}

pub fn bytes_of(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("a Value always serializes")
}

/// A JSON value as a form field or header carries it.
pub fn form_text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn pointers_reach_every_field_and_escape_keys() {
        let mut out = Vec::new();
        pointers(
            &json!({"a": [1, {"b/c": 2}], "d~": 3}),
            String::new(),
            &mut out,
        );
        assert_eq!(out, ["/a", "/a/0", "/a/1", "/a/1/b~1c", "/d~0"]);
        let mut v = json!({"a": [1, {"b/c": 2}], "d~": 3});
        apply(&mut v, "/a/1/b~1c", Edit::Set(json!("x")));
        apply(&mut v, "/d~0", Edit::Remove);
        assert_eq!(v, json!({"a": [1, {"b/c": "x"}]}));
    }

    #[test]
    fn changed_bodies_differ_from_the_seed_at_most_four_fields_deep() {
        let base = json!({"a": 1, "b": {"c": "x", "d": [1, 2]}});
        let mut runner = TestRunner::deterministic();
        let strategy = any_field_changed(base.clone());
        let mut changed = 0;
        for _ in 0..200 {
            let v = strategy.new_tree(&mut runner).expect("a value").current();
            changed += usize::from(v != base);
        }
        assert!(changed > 100, "only {changed} of 200 bodies changed");
    }
}
