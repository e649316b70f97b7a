//! Message templates (minijinja): loaded and checked at start-up, rendered per send.
//!
//! Each configured template `id` becomes up to three minijinja templates: `id.subject.txt`,
//! `id.html` (HTML auto-escaping) and `id.txt`. A syntax error, or a reference to something the
//! context never has, is a start-up error naming the template and line.

use crate::config::TemplateSettings;
use cartback_core::Money;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template.{template}.{part}: {message}")]
pub struct TemplateError {
    pub template: String,
    pub part: &'static str,
    pub message: String,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
}

#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    parts: BTreeMap<String, [bool; 3]>,
}

const PARTS: [(&str, &str); 3] = [
    ("subject", "subject.txt"),
    ("html", "html"),
    ("text", "txt"),
];

fn describe(err: &minijinja::Error) -> String {
    let detail = err
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| err.kind().to_string());
    match err.line() {
        Some(line) => format!("line {line}: {detail}"),
        None => detail,
    }
}

impl Templates {
    /// Loads every template (files relative to `base_dir`), compiles it, and renders it once against
    /// a sample context with strict undefined checks.
    pub fn load(
        settings: &BTreeMap<String, TemplateSettings>,
        base_dir: &Path,
    ) -> Result<Templates, Vec<TemplateError>> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(html_formatter);
        let mut errors = Vec::new();
        let mut parts = BTreeMap::new();
        for (id, t) in settings {
            let sources = [
                ("subject", t.subject.clone(), None),
                ("html", t.html.clone(), t.html_file.as_ref()),
                ("text", t.text.clone(), t.text_file.as_ref()),
            ];
            let mut present = [false; 3];
            for (i, (part, inline, file)) in sources.into_iter().enumerate() {
                let source = match (inline, file) {
                    (Some(s), _) => s,
                    (None, Some(f)) => match std::fs::read_to_string(base_dir.join(f)) {
                        Ok(s) => s,
                        Err(e) => {
                            errors.push(TemplateError {
                                template: id.clone(),
                                part,
                                message: format!("cannot read {f}: {e}"),
                            });
                            continue;
                        }
                    },
                    (None, None) => continue,
                };
                let name = format!("{id}.{}", PARTS[i].1);
                match env.add_template_owned(name, source) {
                    Ok(()) => present[i] = true,
                    Err(e) => errors.push(TemplateError {
                        template: id.clone(),
                        part,
                        message: describe(&e),
                    }),
                }
            }
            parts.insert(id.clone(), present);
        }
        let templates = Templates { env, parts };
        let sample = sample_context();
        for id in settings.keys() {
            if let Err(e) = templates.render(id, &sample) {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut templates = templates;
        // At send time a missing optional value renders empty rather than failing a reminder.
        templates
            .env
            .set_undefined_behavior(UndefinedBehavior::Chainable);
        Ok(templates)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.parts.contains_key(id)
    }

    pub fn render(&self, id: &str, ctx: &Value) -> Result<Rendered, TemplateError> {
        let present = self.parts.get(id).ok_or_else(|| TemplateError {
            template: id.to_string(),
            part: "subject",
            message: "no such template".into(),
        })?;
        let mut out: [Option<String>; 3] = [None, None, None];
        for (i, (part, suffix)) in PARTS.iter().enumerate() {
            if !present[i] {
                continue;
            }
            let name = format!("{id}.{suffix}");
            let rendered = self
                .env
                .get_template(&name)
                .and_then(|t| t.render(ctx))
                .map_err(|e| TemplateError {
                    template: id.to_string(),
                    part,
                    message: describe(&e),
                })?;
            out[i] = Some(if *part == "subject" {
                rendered.trim().replace(['\n', '\r'], " ")
            } else {
                rendered
            });
        }
        let [subject, html, text] = out;
        Ok(Rendered {
            subject,
            html,
            text,
        })
    }
}

/// HTML escaping of `& < > " '` only: URLs keep their `/` readable in the message source
/// (minijinja's default also escapes `/`).
fn html_formatter(
    out: &mut minijinja::Output<'_>,
    state: &minijinja::State<'_, '_>,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    if state.auto_escape() == minijinja::AutoEscape::Html && !value.is_safe() {
        if let Some(s) = value.as_str() {
            let mut escaped = String::with_capacity(s.len());
            for c in s.chars() {
                match c {
                    '&' => escaped.push_str("&amp;"),
                    '<' => escaped.push_str("&lt;"),
                    '>' => escaped.push_str("&gt;"),
                    '"' => escaped.push_str("&quot;"),
                    '\'' => escaped.push_str("&#39;"),
                    c => escaped.push(c),
                }
            }
            return out.write_str(&escaped).map_err(|_| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write output")
            });
        }
    }
    minijinja::escape_formatter(out, state, value)
}

/// `€12.50`, `$1,234.00`, `¥1,500`, `12.50 CHF`.
pub fn format_money(m: &Money) -> String {
    let plain = m.to_decimal_string();
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", plain.as_str()),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let number = match frac {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    };
    let symbol = match m.currency.code() {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" | "CNY" => Some("¥"),
        "INR" => Some("₹"),
        "KRW" => Some("₩"),
        "AUD" => Some("A$"),
        "CAD" => Some("CA$"),
        _ => None,
    };
    match symbol {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{number} {}", m.currency.code()),
    }
}

/// A context with every key a real one can have, for the start-up check.
pub fn sample_context() -> Value {
    let item = json!({
        "title": "Blue Mug", "variant": "Large", "sku": "MUG-1", "quantity": 2,
        "unit_price": "$25.00", "line_price": "$50.00", "url": "https://shop.example/products/mug",
        "image_url": "https://shop.example/mug.jpg", "product_id": "1", "variant_id": "2"
    });
    json!({
        "contact": { "email": "ann@example.com", "phone": "+14155550100", "first_name": "Ann",
                     "last_name": "Lee", "name": "Ann Lee", "locale": "en-US" },
        "cart": { "id": "c1", "items": [item], "item_count": 2, "total": "$50.00", "subtotal": "$50.00",
                  "currency": "USD", "recovery_url": "https://shop.example/recover" },
        "links": { "recovery": "https://shop.example/recover", "items": ["https://shop.example/products/mug"],
                   "unsubscribe": "https://hub.example/u/x" },
        "discount": { "code": "SAVE5", "description": "5% off", "expires_at": "2026-11-24 12:00 UTC" },
        "shop": { "id": "shop" },
        "flow": { "id": "f", "step": 1, "variant": "a" },
        "message": { "id": "m1" }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::Currency;

    fn m(minor: i64, c: &str) -> Money {
        Money::new(minor, Currency::parse(c).expect("code"))
    }

    #[test]
    fn formats_money() {
        assert_eq!(format_money(&m(1250, "EUR")), "€12.50");
        assert_eq!(format_money(&m(123_456_789, "USD")), "$1,234,567.89");
        assert_eq!(format_money(&m(1500, "JPY")), "¥1,500");
        assert_eq!(format_money(&m(-5, "USD")), "-$0.05");
        assert_eq!(format_money(&m(1234, "KWD")), "1.234 KWD");
    }

    #[test]
    fn syntax_and_unknown_names_are_startup_errors() {
        let mut s = BTreeMap::new();
        s.insert(
            "ok".to_string(),
            TemplateSettings {
                subject: Some("Hi {{ contact.first_name }}".into()),
                html: None,
                html_file: None,
                text: Some("x".into()),
                text_file: None,
            },
        );
        s.insert(
            "broken".to_string(),
            TemplateSettings {
                subject: None,
                html: Some("<p>\n{% if %}</p>".into()),
                html_file: None,
                text: None,
                text_file: None,
            },
        );
        s.insert(
            "typo".to_string(),
            TemplateSettings {
                subject: None,
                html: None,
                html_file: None,
                text: Some("{{ contct.first_name }}".into()),
                text_file: None,
            },
        );
        let errs = Templates::load(&s, Path::new(".")).expect_err("errors");
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|e| e.starts_with("template.broken.html: line 2")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|e| e.starts_with("template.typo.text:")),
            "{text:?}"
        );
        assert!(!text.iter().any(|e| e.contains("template.ok")), "{text:?}");
    }

    #[test]
    fn html_is_escaped_text_is_not() {
        let mut s = BTreeMap::new();
        s.insert(
            "t".to_string(),
            TemplateSettings {
                subject: Some("{{ contact.first_name }}".into()),
                html: Some("<b>{{ contact.first_name }}</b>".into()),
                html_file: None,
                text: Some("{{ contact.first_name }}".into()),
                text_file: None,
            },
        );
        let t = Templates::load(&s, Path::new(".")).expect("loads");
        let r = t
            .render("t", &json!({"contact": {"first_name": "<Ann & Bo>"}}))
            .expect("renders");
        assert_eq!(r.html.as_deref(), Some("<b>&lt;Ann &amp; Bo&gt;</b>"));
        assert_eq!(r.text.as_deref(), Some("<Ann & Bo>"));
        assert_eq!(r.subject.as_deref(), Some("<Ann & Bo>"));
    }
}
