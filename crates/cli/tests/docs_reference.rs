//! docs/CONFIG.md is the reference: every key of every connector in the registry, and of the
//! hub's own tables, has a row in its section, and every row names a key the product reads. A
//! connector whose settings gain a key fails here until the docs have it. Defaults quoted in the
//! docs are the code's.
#![allow(clippy::unwrap_used)]

use cartback_cli::registry::CONNECTORS;
use cartback_kit::plugin::{Plugin, Role};
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;

fn doc(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../docs/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The keys a table takes, read from serde's answer to a key it does not know:
/// "unknown field `x`, expected one of `a`, `b`" (or "expected `a`").
fn keys_from(message: &str, what: &str) -> BTreeSet<String> {
    let expected = message
        .split_once("expected ")
        .unwrap_or_else(|| {
            panic!("{what}: no key list in {message:?} (is the table deny_unknown_fields?)")
        })
        .1;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

const PROBE: &str = "zz_not_a_key";

fn connector_keys(c: &dyn Plugin) -> BTreeSet<String> {
    let err = c
        .configure(serde_json::json!({ PROBE: 0 }), "x")
        .expect_err("a key no connector has");
    let message = err
        .iter()
        .map(|p| p.message.clone())
        .find(|m| m.contains(PROBE))
        .unwrap_or_else(|| panic!("{}: {err:?}", c.kind()));
    keys_from(&message, c.kind())
}

fn struct_keys<T: DeserializeOwned>(what: &str) -> BTreeSet<String> {
    let err = serde_json::from_value::<T>(serde_json::json!({ PROBE: 0 }))
        .err()
        .unwrap_or_else(|| panic!("{what} takes any key"));
    keys_from(&err.to_string(), what)
}

/// The text of the part of `text` from the heading line `heading` to the next heading of the
/// same or a higher level.
fn section<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
    let level = heading.chars().take_while(|c| *c == '#').count();
    // `### `type = "web"` — the on-site pop-up` is the section of `### `type = "web"``.
    let start = text.lines().position(|l| {
        l.trim_end() == heading || l.strip_prefix(heading).is_some_and(|r| r.starts_with(' '))
    })?;
    let lines: Vec<&str> = text.lines().collect();
    let end = lines[start + 1..]
        .iter()
        .position(|l| {
            let hashes = l.chars().take_while(|c| *c == '#').count();
            hashes > 0 && hashes <= level && l.chars().nth(hashes) == Some(' ')
        })
        .map_or(lines.len(), |e| start + 1 + e);
    let from = text.find(lines[start])?;
    let to = if end < lines.len() {
        from + text[from..].find(lines[end]).unwrap()
    } else {
        text.len()
    };
    Some(&text[from..to])
}

/// The keys a section's tables document: every backticked word in the first column of a row
/// (`| `title`, `button` | ... |`), before any `=` (a row may show `key = value`).
fn documented(section: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in section.lines() {
        let Some(row) = line.trim().strip_prefix('|') else {
            continue;
        };
        let first = row.split('|').next().unwrap_or_default();
        for key in first.split('`').skip(1).step_by(2) {
            let key = key.split('=').next().unwrap().trim();
            if !key.is_empty() && key != "key" && !key.contains(' ') {
                out.insert(key.to_string());
            }
        }
    }
    out
}

fn compare(what: &str, keys: &BTreeSet<String>, docs: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let missing: Vec<&String> = keys.difference(docs).collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{what}: keys missing from docs/CONFIG.md: {missing:?}"
        ));
    }
    let stale: Vec<&String> = docs.difference(keys).collect();
    if !stale.is_empty() {
        problems.push(format!(
            "{what}: docs/CONFIG.md documents keys the product does not take: {stale:?}"
        ));
    }
    problems
}

#[test]
fn every_connector_key_is_in_the_reference() {
    let config = doc("CONFIG.md");
    let mut problems = Vec::new();
    for c in CONNECTORS {
        let (table, id) = match c.role() {
            Role::Source => ("## `[source.<id>]`", "source"),
            Role::Channel => ("## `[channel.<id>]`", "channel"),
        };
        let role_section = section(&config, table).unwrap_or_else(|| panic!("no {table}"));
        let heading = format!("### `type = \"{}\"`", c.kind());
        let what = format!("[{id}.<id>] type = \"{}\"", c.kind());
        let Some(own) = section(role_section, &heading) else {
            problems.push(format!(
                "{what}: docs/CONFIG.md has no section {heading:?} under {table:?} listing its keys {:?}",
                connector_keys(*c)
            ));
            continue;
        };
        problems.extend(compare(&what, &connector_keys(*c), &documented(own)));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_key_of_the_hubs_own_tables_is_in_the_reference() {
    let config = doc("CONFIG.md");
    let mut problems = Vec::new();
    let tables: [(&str, BTreeSet<String>); 7] = [
        (
            "## `[server]`",
            struct_keys::<cartback_server::ServerSettings>("[server]"),
        ),
        (
            "## `[store]`",
            struct_keys::<cartback_store::StoreSettings>("[store]"),
        ),
        (
            "### `[store.journal]` (SQLite)",
            struct_keys::<cartback_store::journal::JournalSettings>("[store.journal]"),
        ),
        (
            "## `[engine]`",
            struct_keys::<cartback_engine::config::EngineSettings>("[engine]"),
        ),
        (
            "## `[channel.<id>]`",
            struct_keys::<cartback_engine::config::ChannelCommon>("[channel.<id>]"),
        ),
        (
            "## `[flow.<id>]`",
            struct_keys::<cartback_engine::config::FlowSettings>("[flow.<id>]"),
        ),
        (
            "## `[survey.<id>]`",
            struct_keys::<cartback_engine::config::SurveySettings>("[survey.<id>]"),
        ),
    ];
    for (heading, keys) in tables {
        let Some(text) = section(&config, heading) else {
            problems.push(format!("docs/CONFIG.md has no section {heading:?}"));
            continue;
        };
        // Only the table's own rows: the section's first table (subsections hold connectors).
        let own: String = text
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("### "))
            .collect::<Vec<_>>()
            .join("\n");
        let mut docs = documented(&own);
        // `[store]` documents its `journal` table as a subsection.
        if heading == "## `[store]`" && text.contains("### `[store.journal]`") {
            docs.insert("journal".into());
        }
        // A flow's steps and variants are described after the table.
        if heading == "## `[flow.<id>]`" {
            for k in ["step", "variants"] {
                if own.contains(&format!("`{k}`")) || own.contains(&format!("`[[flow.<id>.{k}]]`"))
                {
                    docs.insert(k.into());
                }
            }
        }
        problems.extend(compare(heading, &keys, &docs));
    }
    // Steps, variants and templates are described in sentences: each key is named there.
    let flow = section(&config, "## `[flow.<id>]`").unwrap();
    let template = section(&config, "## `[template.<id>]`").unwrap();
    let survey = section(&config, "## `[survey.<id>]`").unwrap();
    for (what, keys, text) in [
        (
            "[[survey.<id>.reason]]",
            struct_keys::<cartback_engine::config::ReasonSettings>("reason"),
            survey,
        ),
        (
            "[[flow.<id>.step]]",
            struct_keys::<cartback_engine::config::StepSettings>("step"),
            flow,
        ),
        (
            "variants",
            struct_keys::<cartback_engine::config::VariantSettings>("variant"),
            flow,
        ),
        (
            "discount",
            struct_keys::<cartback_engine::config::DiscountSettings>("discount"),
            flow,
        ),
        (
            "[template.<id>]",
            struct_keys::<cartback_engine::config::TemplateSettings>("template"),
            template,
        ),
    ] {
        let missing: Vec<&String> = keys
            .iter()
            .filter(|k| !text.contains(&format!("`{k}`")) && !text.contains(&format!("`{k} ")))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{what}: keys not named in docs/CONFIG.md: {missing:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Numbers the docs quote for `[engine]` defaults are the code's (the docs once said 256 in one
/// page and 512 in another).
#[test]
fn engine_defaults_quoted_in_the_docs_are_the_codes() {
    let d = cartback_engine::config::EngineSettings::default();
    let batch = d.timer_batch.to_string();
    for name in [
        "CONFIG.md",
        "SCALING.md",
        "BENCHMARKS.md",
        "ARCHITECTURE.md",
    ] {
        let text = doc(name);
        for line in text.lines().filter(|l| l.contains("timer_batch")) {
            let after = &line[line.find("timer_batch").unwrap()..];
            let number: String = after
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            if !number.is_empty() && after.find(&number).unwrap() < 30 {
                assert_eq!(number, batch, "docs/{name}: {line}");
            }
        }
    }
}

/// Lines that were true once and no longer are.
#[test]
fn no_stale_sentence_is_left() {
    for name in [
        "CONFIG.md",
        "CONNECTORS.md",
        "API.md",
        "SECURITY.md",
        "ARCHITECTURE.md",
    ] {
        let text = doc(name);
        for stale in [
            "once tracking lands",
            "today the plain URLs",
            "crates/store/src/journal.rs",
        ] {
            assert!(!text.contains(stale), "docs/{name} still says {stale:?}");
        }
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    assert!(
        !readme.contains("embedded default"),
        "README.md: the default configuration is a file, not embedded"
    );
}

/// WooCommerce's section says where the cart button (`/r/`) of one of its carts lands.
#[test]
fn the_woocommerce_recovery_link_is_documented() {
    let connectors = doc("CONNECTORS.md");
    let woo = section(&connectors, "## WooCommerce (`type = \"woocommerce\"`)").unwrap();
    assert!(
        woo.contains("/checkout/order-pay/<order id>/?pay_for_order=true&key=<order_key>"),
        "{woo}"
    );
}
