//! The registry is the one list of connectors: the docs' type list and check-config read it.
#![allow(clippy::unwrap_used)]

use cartback_cli::registry::{types, CONNECTORS};
use cartback_kit::plugin::Role;

/// docs/CONFIG.md's "Source types: ...; channel types: ..." sentence names exactly the registry's
/// types (in a build with every feature, the default).
#[test]
fn the_docs_type_list_is_the_registry() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIG.md"))
        .unwrap();
    let start = doc.find("Source types:").unwrap();
    let sentence = &doc[start..start + doc[start..].find("\n\n").unwrap()];
    let (sources, channels) = sentence.split_once("channel types:").unwrap();
    let listed = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let mut want_sources: Vec<String> = types(Role::Source).iter().map(|s| s.to_string()).collect();
    let mut want_channels: Vec<String> =
        types(Role::Channel).iter().map(|s| s.to_string()).collect();
    let (mut got_sources, mut got_channels) = (listed(sources), listed(channels));
    for v in [
        &mut want_sources,
        &mut want_channels,
        &mut got_sources,
        &mut got_channels,
    ] {
        v.sort();
    }
    assert_eq!(got_sources, want_sources, "{sentence}");
    assert_eq!(got_channels, want_channels, "{sentence}");
}

#[test]
fn every_connector_has_a_role_and_a_unique_type() {
    let mut seen = std::collections::BTreeSet::new();
    for c in CONNECTORS {
        assert!(
            seen.insert((format!("{:?}", c.role()), c.kind())),
            "{}",
            c.kind()
        );
        assert!(!c.kind().is_empty());
    }
}
