//! `check-config` catches what would otherwise fail later (issue 18.3): a message step without a
//! template, an SMS template without text, `discount.*` on a step without a discount, undefined
//! names (with the template's file and line), no follow-up errors after a broken channel or a
//! missing environment variable, and values written the way people write them.
#![allow(clippy::unwrap_used)]

use cartback_cli::config::{load_str, Env};
use std::path::Path;

const SID: &str = "AC0123456789abcdef0123456789abcdef";

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn problems_in(toml: &str, dir: &Path, e: &Env) -> Vec<String> {
    match load_str(toml, dir, e) {
        Ok(_) => vec![],
        Err(err) => err.problems.iter().map(ToString::to_string).collect(),
    }
}

fn problems(toml: &str) -> Vec<String> {
    problems_in(toml, Path::new("."), &env(&[("TWILIO_ACCOUNT_SID", SID)]))
}

/// Channels `email` (SendGrid), `sms` (Twilio) and `zapier` (a hand-off), templates `mail`
/// (subject, text, html) and `sms_text` (text), and the flow's steps as given.
fn with_steps(steps: &str) -> String {
    format!(
        r#"
[channel.email]
type = "sendgrid"
api_key = "SG.key"
from = "shop@example.com"

[channel.sms]
type = "twilio"
account_sid = "${{TWILIO_ACCOUNT_SID}}"
auth_token = "token"
from = "+15005550006"

[channel.zapier]
type = "webhook"
url = "https://hooks.example/catch"
secret = "whsec_c2VjcmV0"

[template.mail]
subject = "Your cart"
text = "Hi {{{{ contact.first_name }}}}"
html = "<p>Hi</p>"

[template.sms_text]
text = "Your cart: {{{{ links.recovery }}}}"

[template.html_only]
subject = "Your cart"
html = "<p>Hi</p>"

[template.coupon]
subject = "Your cart"
text = """
Hi {{{{ contact.first_name }}}},
use {{{{ discount.code }}}} at checkout.
"""

[template.guarded]
subject = "Your cart"
text = "{{% if discount %}}Use {{{{ discount.code }}}}.{{% endif %}} Bye"

[flow.f]
trigger = "cart_abandoned"
abandon_after = "1h"
{steps}
"#
    )
}

#[test]
fn an_email_or_sms_step_needs_a_template() {
    let p = problems(&with_steps(
        r#"
  [[flow.f.step]]
  send = { channel = "email" }
  [[flow.f.step]]
  send = { channel = "sms" }
  [[flow.f.step]]
  send = { channel = "zapier" }
"#,
    ));
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(
        p[0].starts_with("flow.f.step[1].send.template: channel \"email\" (sendgrid) sends email: this step needs a template"),
        "{p:#?}"
    );
    assert!(
        p[1].starts_with("flow.f.step[2].send.template: channel \"sms\" (twilio) sends SMS: this step needs a template"),
        "{p:#?}"
    );
    // The same in a variant.
    let p = problems(&with_steps(
        r#"
  [[flow.f.variants]]
  name = "a"
  steps = [{ send = { channel = "sms" } }]
"#,
    ));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].starts_with("flow.f.variants[1].steps[1].send.template: channel \"sms\""),
        "{p:#?}"
    );
}

#[test]
fn an_sms_template_needs_text() {
    let p = problems(&with_steps(
        r#"
  [[flow.f.step]]
  send = { channel = "sms", template = "html_only" }
  [[flow.f.step]]
  send = { channel = "sms", template = "sms_text" }
  [[flow.f.step]]
  send = { channel = "email", template = "html_only" }
"#,
    ));
    assert_eq!(
        p,
        ["flow.f.step[1].send.template: template \"html_only\" has no `text` or `text_file`, and channel \"sms\" sends SMS, which are text only"],
    );
}

#[test]
fn a_discount_printed_on_a_step_without_one_is_refused() {
    let p = problems(&with_steps(
        r#"
  [[flow.f.step]]
  send = { channel = "email", template = "coupon" }
  [[flow.f.step]]
  send = { channel = "email", template = "coupon" }
  discount = { code = "COMEBACK5" }
  [[flow.f.step]]
  send = { channel = "email", template = "guarded" }
"#,
    ));
    assert_eq!(p.len(), 1, "{p:#?}");
    let want =
        "flow.f.step[1].send.template: template.coupon.text: line 2: prints `discount.code` \
                in `use {{ discount.code }} at checkout.`, but the step has no discount";
    assert!(p[0].starts_with(want), "{p:#?}");
    assert!(p[0].contains("{% if discount %}"), "{p:#?}");
}

#[test]
fn an_undefined_name_is_named_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/cart.txt"),
        "Hello,\nyour cart, {{ contct.first_name }}, is waiting.\n",
    )
    .unwrap();
    let toml = r#"
[channel.console]
type = "console"

[template.cart]
subject = "Your {{ cart.totl }}"
text_file = "templates/cart.txt"
"#;
    let p = problems_in(toml, dir.path(), &Env::new());
    assert!(
        p.contains(
            &"template.cart.text: templates/cart.txt line 2: undefined `contct.first_name` in `your cart, {{ contct.first_name }}, is waiting.` (the context has contact, cart, links, discount, shop, flow, message; docs/CONFIG.md lists their keys)".to_string()
        ),
        "{p:#?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("template.cart.subject: line 1: undefined `cart.totl`")),
        "{p:#?}"
    );
}

#[test]
fn a_broken_channel_is_reported_once() {
    let toml = r#"
[channel.sms]
type = "twilio"
account_sid = "AC123"
auth_token = "token"
from = "+15005550006"

[template.t]
text = "hi"

[flow.f]
trigger = "cart_abandoned"
abandon_after = "1h"
  [[flow.f.step]]
  send = { channel = "sms", template = "t" }
"#;
    let p = problems(toml);
    assert_eq!(
        p,
        ["channel.sms.account_sid: \"AC123\" must be \"AC\" followed by 32 hex digits"],
    );
}

#[test]
fn a_channel_typo_lists_the_configured_channels() {
    let p = problems(&with_steps(
        r#"
  [[flow.f.step]]
  send = { channel = "smss", template = "sms_text" }
"#,
    ));
    assert_eq!(
        p,
        ["flow.f.step[1].send.channel: no channel \"smss\" is configured (configured: email, sms, zapier)"],
    );
    let p = problems(&with_steps(
        r#"
  [[flow.f.step]]
  send = { channel = "sms", template = "sms_txt" }
"#,
    ));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].starts_with("flow.f.step[1].send.template: no template \"sms_txt\" is configured (configured: coupon, guarded, html_only, mail, sms_text)"),
        "{p:#?}"
    );
}

#[test]
fn a_missing_or_empty_variable_is_named_once_and_never_echoed() {
    let toml = with_steps(
        r#"
  [[flow.f.step]]
  send = { channel = "sms", template = "sms_text" }
"#,
    );
    for (e, want) in [
        (
            Env::new(),
            "channel.sms.account_sid: environment variable TWILIO_ACCOUNT_SID is not set",
        ),
        (
            env(&[("TWILIO_ACCOUNT_SID", "")]),
            "channel.sms.account_sid: environment variable TWILIO_ACCOUNT_SID is set but empty",
        ),
    ] {
        let p = problems_in(&toml, Path::new("."), &e);
        assert_eq!(p, [want]);
    }
    // A secret list: the element is named, the list's own checks stay quiet.
    let toml = r#"
[source.shop]
type = "shopify"
secret = ["${NEW_SECRET}", "old-secret"]
"#;
    let p = problems_in(toml, Path::new("."), &Env::new());
    assert_eq!(
        p,
        ["source.shop.secret[1]: environment variable NEW_SECRET is not set"]
    );
    // `${VAR:-default}` takes the default for an empty variable, as the shell does.
    let toml = r#"
[source.shop]
type = "shopify"
secret = "${SHOP_SECRET:-fallback-secret}"
"#;
    assert_eq!(
        problems_in(toml, Path::new("."), &env(&[("SHOP_SECRET", "")])),
        Vec::<String>::new()
    );
}

#[test]
fn holdout_percent_says_what_to_write() {
    for (written, want) in [
        (
            "\"50%\"",
            "flow.f.holdout_percent: \"50%\" is text: write the number without quotes or %: holdout_percent = 50",
        ),
        (
            "\"50\"",
            "flow.f.holdout_percent: \"50\" is text: write the number without quotes or %: holdout_percent = 50",
        ),
        (
            "\"half\"",
            "flow.f.holdout_percent: \"half\" is not a number: it must be a whole number from 0 to 100, without quotes or %, like holdout_percent = 50",
        ),
        (
            "12.5",
            "flow.f.holdout_percent: 12.5 has a fraction: it must be a whole number from 0 to 100, without quotes or %, like holdout_percent = 50",
        ),
        (
            "150",
            "flow.f.holdout_percent: must be between 0 and 100",
        ),
        (
            "300",
            "flow.f.holdout_percent: 300 is out of range: it must be a whole number from 0 to 100, without quotes or %, like holdout_percent = 50",
        ),
    ] {
        let toml = with_steps(&format!(
            "holdout_percent = {written}\n  [[flow.f.step]]\n  send = {{ channel = \"email\", template = \"mail\" }}\n"
        ));
        assert_eq!(problems(&toml), [want], "{written}");
    }
    let ok = with_steps(
        "holdout_percent = 50\n  [[flow.f.step]]\n  send = { channel = \"email\", template = \"mail\" }\n",
    );
    assert_eq!(problems(&ok), Vec::<String>::new());
}
