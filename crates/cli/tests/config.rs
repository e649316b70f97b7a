//! Configuration: every problem reported with its key path; environment interpolation and overrides.
#![allow(clippy::unwrap_used)]

use cartback_cli::config::{load, load_str, Env};
use std::path::Path;

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn problems(toml: &str, e: &Env) -> Vec<String> {
    match load_str(toml, Path::new("."), e) {
        Ok(_) => vec![],
        Err(err) => err.problems.iter().map(ToString::to_string).collect(),
    }
}

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8080"
public_url = "https://hub.example.com"
admin_token = "${ADMIN}"

[store]
url = "sqlite://cartback.db"

[source.shop]
type = "shopify"
secret = "${SHOPIFY_SECRET}"

[channel.console]
type = "console"

[flow.cart_recovery]
trigger = "cart_abandoned"
abandon_after = "1h"
holdout_percent = 50
reenter = { max = 1, within = "7d" }
quiet_hours = { from = "21:00", to = "09:00" }
attribution_window = "7d"

  [[flow.cart_recovery.step]]
  wait = "0s"
  send = { channel = "console", template = "cart_email" }

  [[flow.cart_recovery.step]]
  wait = "1d"
  unless = ["purchased", "clicked"]
  send = { channel = "console", template = "cart_email" }

[template.cart_email]
subject = "You left something behind"
text = "Hi {{ contact.first_name }}"

[limits]
email = "1/16h"
"#;

#[test]
fn a_good_config_loads() {
    let cfg = load_str(
        GOOD,
        Path::new("/etc/cartback"),
        &env(&[
            ("ADMIN", "a-long-admin-token"),
            ("SHOPIFY_SECRET", "s3cret"),
        ]),
    )
    .unwrap();
    assert_eq!(cfg.sources["shop"].kind, "shopify");
    assert_eq!(cfg.flows["cart_recovery"].step.len(), 2);
    assert_eq!(
        cfg.server.admin_token.as_ref().unwrap().expose(),
        "a-long-admin-token"
    );
    assert_eq!(cfg.store_url(), "sqlite:///etc/cartback/cartback.db");
    // Secrets never show in Debug output.
    let dump = format!("{cfg:?}");
    assert!(
        !dump.contains("s3cret") && !dump.contains("a-long-admin-token"),
        "{dump}"
    );
}

#[test]
fn a_missing_variable_is_named_with_its_key() {
    let p = problems(GOOD, &env(&[("ADMIN", "a-long-admin-token")]));
    assert_eq!(
        p,
        vec!["source.shop.secret: environment variable SHOPIFY_SECRET is not set"]
    );
}

#[test]
fn environment_overrides_win() {
    let e = env(&[
        ("ADMIN", "a-long-admin-token"),
        ("SHOPIFY_SECRET", "s"),
        ("CARTBACK__SERVER__LISTEN", "127.0.0.1:9999"),
        ("CARTBACK__FLOW__CART_RECOVERY__HOLDOUT_PERCENT", "10"),
    ]);
    let cfg = load_str(GOOD, Path::new("."), &e).unwrap();
    assert_eq!(cfg.server.listen, "127.0.0.1:9999");
    assert_eq!(cfg.flows["cart_recovery"].holdout_percent, 10);
}

#[test]
fn every_problem_is_reported_with_its_key_path() {
    let bad = r#"
[server]
listen = "nowhere"
admin_tokn = "x"

[source.shop]
type = "shopfy"
secret = "x"

[source.other]
type = "shopify"
secert = "typo"

[source.Bad_Id]
type = "shopify"
secret = "x"

[channel.shop]
type = "console"

[flow.f]
trigger = "cart_abandoned"
abandon_after = "soon"

[flow.g]
trigger = "cart_abandoned"
abandon_after = "1h"
holdout_percent = 150
quiet_hours = { from = "25:00", to = "09:00" }

  [[flow.g.step]]
  wait = "0s"
  unless = ["bought"]
  send = { channel = "email", template = "missing" }

[limits]
sms = "lots"

[mystery]
x = 1
"#;
    let p = problems(bad, &env(&[]));
    let has = |needle: &str| p.iter().any(|l| l.starts_with(needle));
    for expected in [
        "server.admin_tokn: unknown field",
        "source.shop.type: unknown type \"shopfy\"",
        "source.other.secert: unknown field",
        "source.Bad_Id: ids are lower-case",
        "channel.shop: duplicate id",
        "flow.f.abandon_after:",
        "flow.g.holdout_percent: must be between 0 and 100",
        "flow.g.quiet_hours.from:",
        "flow.g.step[1].unless[1]: unknown condition",
        "flow.g.step[1].send.channel: no channel \"email\"",
        "flow.g.step[1].send.template: no template \"missing\"",
        "limits.sms:",
        "mystery: unknown section",
    ] {
        assert!(has(expected), "missing {expected:?} in:\n{}", p.join("\n"));
    }
}

#[test]
fn server_problems_are_reported() {
    let p = problems("[server]\nlisten = \"nowhere\"\n", &env(&[]));
    assert!(p.iter().any(|l| l.starts_with("server.listen:")), "{p:?}");
}

#[test]
fn a_guessable_admin_token_is_refused_with_the_reason() {
    for (token, why) in [
        ("password", "is 8 characters long; use at least 16"),
        ("dev-admin-token", "is 15 characters long; use at least 16"),
        ("abababababababababab", "has only 2 distinct characters"),
        (
            "correcthorsebatterystaple",
            "uses one kind of character only",
        ),
        ("12345678901234567890", "uses one kind of character only"),
    ] {
        let p = problems(&format!("[server]\nadmin_token = \"{token}\"\n"), &env(&[]));
        assert!(
            p_has(&p, &format!("server.admin_token: {why}")),
            "{token}: {p:?}"
        );
        // The message never repeats the token.
        assert!(p.iter().all(|l| !l.contains(token)), "{p:?}");
    }
    for token in ["a-long-admin-token", "3f9a0c7e2b1d4a6f8e0c2b4d6f8a0c1e"] {
        let p = problems(&format!("[server]\nadmin_token = \"{token}\"\n"), &env(&[]));
        assert!(p.is_empty(), "{token}: {p:?}");
    }
}

#[test]
fn connection_limits_have_defaults_and_are_checked() {
    let cfg = load_str("", Path::new("."), &env(&[])).unwrap();
    assert_eq!(cfg.server.header_read_timeout.0.as_secs(), 10);
    assert_eq!(cfg.server.idle_timeout.0.as_secs(), 60);
    assert_eq!(cfg.server.max_connections, 10_000);
    let cfg = load_str(
        "[server]\nheader_read_timeout = \"500ms\"\nidle_timeout = \"5m\"\nmax_connections = 50\n",
        Path::new("."),
        &env(&[]),
    )
    .unwrap();
    assert_eq!(cfg.server.header_read_timeout.0.as_millis(), 500);
    assert_eq!(cfg.server.max_connections, 50);
    let bad = problems(
        "[server]\nheader_read_timeout = \"0s\"\nidle_timeout = \"2h\"\nmax_connections = 0\n",
        &env(&[]),
    );
    for needle in [
        "server.header_read_timeout: must be between 100ms and 10m",
        "server.idle_timeout: must be between 100ms and 60m",
        "server.max_connections: must be between 1 and 1000000",
    ] {
        assert!(p_has(&bad, needle), "{needle} missing in {bad:?}");
    }
    let unparsable = problems("[server]\nidle_timeout = \"soon\"\n", &env(&[]));
    assert!(p_has(&unparsable, "server"), "{unparsable:?}");
}

#[test]
fn toml_syntax_errors_are_reported() {
    let p = problems(
        "[source.shop]\ntype = \"shopify\"\ntype = \"again\"\n",
        &env(&[]),
    );
    assert_eq!(p.len(), 1);
    assert!(
        p[0].contains("duplicate") || p[0].contains("parse"),
        "{p:?}"
    );
}

#[test]
fn the_shipped_default_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/cartback.toml");
    let cfg = load(
        &path,
        &env(&[
            ("CARTBACK_ADMIN_TOKEN", "dev-admin-token-local"),
            ("SHOPIFY_WEBHOOK_SECRET", "dev"),
        ]),
    );
    assert!(cfg.is_ok(), "{}", cfg.unwrap_err());
}

#[test]
fn template_files_must_exist_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("there.html"), "<p>hi</p>").unwrap();
    let toml =
        "[template.a]\nhtml_file = \"there.html\"\n[template.b]\nhtml_file = \"missing.html\"\n";
    let err = load_str(toml, dir.path(), &env(&[])).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(err.problems[0].path, "template.b.html_file");
}

#[test]
fn channel_outbox_settings_are_checked() {
    let toml = r#"
[engine]
timer_lease = "30s"

[store]
url = "postgres://postgres@127.0.0.1:5432/test"
pool_size = 8

[channel.email]
type = "console"
rate = "20/s"
concurrency = 8
timeout = "20s"
lease = "25s"
"#;
    let p = problems(toml, &env(&[]));
    assert_eq!(
        p,
        vec!["channel.email.lease: must exceed timeout (20s) plus 10s, or a slow send could be claimed twice"]
    );
    let ok = toml.replace("lease = \"25s\"", "lease = \"31s\"");
    let cfg = load_str(&ok, Path::new("."), &env(&[])).unwrap();
    assert_eq!(cfg.channels["email"].common.concurrency, 8);
    assert_eq!(cfg.engine.timer_lease.0, std::time::Duration::from_secs(30));
    assert_eq!(cfg.store.pool_size, 8);
    assert_eq!(
        cfg.channels["email"].common.backoff.0,
        std::time::Duration::from_secs(2),
        "the default first retry"
    );
    let tuned = ok.replace(
        "rate = ",
        "backoff = \"500ms\"\nbackoff_max = \"10s\"\nrate = ",
    );
    let cfg = load_str(&tuned, Path::new("."), &env(&[])).unwrap();
    assert_eq!(
        cfg.channels["email"].common.backoff_max.0,
        std::time::Duration::from_secs(10)
    );
    let bad = problems("[channel.email]\ntype = \"console\"\nrate = \"fast\"\nconcurrency = 0\nbackoff = \"0s\"\n[channel.sms]\ntype = \"console\"\nbackoff = \"1m\"\nbackoff_max = \"30s\"\n[engine]\npoll_interval = \"0s\"\n", &env(&[]));
    for needle in [
        "channel.email.rate:",
        "channel.email.concurrency:",
        "channel.email.backoff:",
        "channel.sms.backoff_max: must be at least backoff (60s)",
        "engine.poll_interval:",
    ] {
        assert!(p_has(&bad, needle), "{needle} missing in {bad:?}");
    }
}

fn p_has(p: &[String], needle: &str) -> bool {
    p.iter().any(|l| l.starts_with(needle))
}

#[test]
fn the_ingest_journal_settings_are_checked() {
    let cfg = load_str(
        "[store]\nurl = \"sqlite://x.db\"\n[store.journal]\nwait_below = 0\nmax_pending_mb = 16\n",
        Path::new("."),
        &env(&[]),
    )
    .unwrap();
    assert_eq!(cfg.store.journal.wait_below, 0);
    assert_eq!(cfg.store.journal.max_pending_mb, 16);
    assert!(cfg.store.journal.enabled, "on unless turned off");
    let bad = problems(
        "[store.journal]\nmax_pending_mb = 0\nwait_below = 2000000\n",
        &env(&[]),
    );
    for needle in [
        "store.journal.max_pending_mb: must be between 1 and 65536",
        "store.journal.wait_below: must be at most 1000000",
    ] {
        assert!(p_has(&bad, needle), "{needle} missing in {bad:?}");
    }
    let unknown = problems("[store.journal]\nwait_for = 3\n", &env(&[]));
    assert!(p_has(&unknown, "store.journal"), "{unknown:?}");
}
