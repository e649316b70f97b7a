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
    /// The same templates for the start-up checks of each step ([`Templates::check_without_discount`]):
    /// an undefined value printed fails, one only tested (`{% if discount %}`) does not.
    checker: Environment<'static>,
    parts: BTreeMap<String, [bool; 3]>,
    /// The file each part was read from, for messages (`templates/cart_email.txt line 3: ...`).
    files: BTreeMap<String, [Option<String>; 3]>,
}

/// The top-level names of the template context.
pub const CONTEXT_NAMES: &str = "contact, cart, links, discount, shop, flow, message";

const PARTS: [(&str, &str); 3] = [
    ("subject", "subject.txt"),
    ("html", "html"),
    ("text", "txt"),
];

fn describe(err: &minijinja::Error, file: Option<&str>, source: Option<&str>) -> String {
    let detail = err
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| err.kind().to_string());
    let line = err.line();
    let at = match (file, line) {
        (Some(f), Some(l)) => format!("{f} line {l}: "),
        (Some(f), None) => format!("{f}: "),
        (None, Some(l)) => format!("line {l}: "),
        (None, None) => String::new(),
    };
    format!("{at}{detail}{}", quote_line(source, line))
}

/// ` in `{{ contct.first_name }}``: the template's line `line`, trimmed and shortened.
fn quote_line(source: Option<&str>, line: Option<usize>) -> String {
    let Some(text) = source
        .zip(line)
        .and_then(|(s, l)| s.lines().nth(l.checked_sub(1)?))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return String::new();
    };
    let short: String = text.chars().take(100).collect();
    let ellipsis = if short.len() < text.len() { "…" } else { "" };
    format!(" in `{short}{ellipsis}`")
}

/// Whether `path` (`contact.first_name`) names something in `ctx`.
fn resolves(ctx: &Value, path: &str) -> bool {
    let mut v = ctx;
    for key in path.split('.') {
        match v.get(key) {
            Some(next) => v = next,
            None => return false,
        }
    }
    true
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
        let mut files = BTreeMap::new();
        for (id, t) in settings {
            let mut file_names: [Option<String>; 3] = [None, None, None];
            let sources = [
                ("subject", t.subject.clone(), None),
                ("html", t.html.clone(), t.html_file.as_ref()),
                ("text", t.text.clone(), t.text_file.as_ref()),
            ];
            let mut present = [false; 3];
            for (i, (part, inline, file)) in sources.into_iter().enumerate() {
                let source = match (&inline, file) {
                    (Some(s), _) => s.clone(),
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
                if inline.is_none() {
                    file_names[i] = file.cloned();
                }
                let name = format!("{id}.{}", PARTS[i].1);
                match env.add_template_owned(name, source.clone()) {
                    Ok(()) => present[i] = true,
                    Err(e) => errors.push(TemplateError {
                        template: id.clone(),
                        part,
                        message: describe(&e, file_names[i].as_deref(), Some(&source)),
                    }),
                }
            }
            parts.insert(id.clone(), present);
            files.insert(id.clone(), file_names);
        }
        let mut checker = env.clone();
        checker.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        let templates = Templates {
            env,
            checker,
            parts,
            files,
        };
        let sample = sample_context();
        for id in settings.keys() {
            errors.extend(templates.render_parts(&templates.env, id, &sample).1);
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
        self.render_with(&self.env, id, ctx)
    }

    /// Whether template `id` has a text part (`text` or `text_file`): what an SMS is sent as.
    pub fn has_text(&self, id: &str) -> bool {
        self.parts.get(id).is_some_and(|p| p[2])
    }

    /// Renders template `id` as a step without a discount would (`discount` empty): a part that
    /// prints `discount.*` outside `{% if discount %}` fails, naming its file, line and the
    /// names it prints. For the start-up check of each step that has no discount.
    pub fn check_without_discount(&self, id: &str) -> Result<(), TemplateError> {
        let mut ctx = sample_context();
        ctx["discount"] = Value::Null;
        self.render_with(&self.checker, id, &ctx).map(|_| ())
    }

    /// Renders template `id` as a step without a survey would (no `links.survey`): a part that
    /// prints `links.survey` outside `{% if links.survey %}` fails.
    pub fn check_without_survey(&self, id: &str) -> Result<(), TemplateError> {
        let mut ctx = sample_context();
        if let Some(links) = ctx["links"].as_object_mut() {
            links.remove("survey");
        }
        self.render_with(&self.checker, id, &ctx).map(|_| ())
    }

    fn render_with(
        &self,
        env: &Environment<'static>,
        id: &str,
        ctx: &Value,
    ) -> Result<Rendered, TemplateError> {
        let (out, mut errors) = self.render_parts(env, id, ctx);
        if !errors.is_empty() {
            return Err(errors.swap_remove(0));
        }
        let [subject, html, text] = out;
        Ok(Rendered {
            subject,
            html,
            text,
        })
    }

    /// Renders every part of `id`; each part that fails is one error (a subject and a text
    /// with a typo each are reported).
    fn render_parts(
        &self,
        env: &Environment<'static>,
        id: &str,
        ctx: &Value,
    ) -> ([Option<String>; 3], Vec<TemplateError>) {
        let mut out: [Option<String>; 3] = [None, None, None];
        let Some(present) = self.parts.get(id) else {
            let missing = TemplateError {
                template: id.to_string(),
                part: "subject",
                message: "no such template".into(),
            };
            return (out, vec![missing]);
        };
        let mut errors = Vec::new();
        for (i, (part, suffix)) in PARTS.iter().enumerate() {
            if !present[i] {
                continue;
            }
            let name = format!("{id}.{suffix}");
            let rendered = env.get_template(&name).and_then(|template| {
                template.render(ctx).map_err(|e| {
                    let message = self.explain(id, i, &template, &e, ctx);
                    minijinja::Error::new(e.kind(), message)
                })
            });
            match rendered {
                Ok(r) => {
                    out[i] = Some(if *part == "subject" {
                        r.trim().replace(['\n', '\r'], " ")
                    } else {
                        r
                    })
                }
                Err(e) => errors.push(TemplateError {
                    template: id.to_string(),
                    part,
                    message: e
                        .detail()
                        .map_or_else(|| describe(&e, None, None), str::to_string),
                }),
            }
        }
        (out, errors)
    }
}

impl Templates {
    /// A render error as a reader wants it: the file (or inline part) and line, and for an
    /// undefined value the names the template uses that the context lacks.
    fn explain(
        &self,
        id: &str,
        part: usize,
        template: &minijinja::Template<'_, '_>,
        err: &minijinja::Error,
        ctx: &Value,
    ) -> String {
        let file = self.files.get(id).and_then(|f| f[part].as_deref());
        if err.kind() != minijinja::ErrorKind::UndefinedError {
            return describe(err, file, Some(template.source()));
        }
        let mut missing: Vec<String> = template
            .undeclared_variables(true)
            .into_iter()
            .filter(|path| !resolves(ctx, path))
            .collect();
        missing.sort();
        let at = match (file, err.line()) {
            (Some(f), Some(l)) => format!("{f} line {l}: "),
            (Some(f), None) => format!("{f}: "),
            (None, Some(l)) => format!("line {l}: "),
            (None, None) => String::new(),
        };
        let quoted = quote_line(Some(template.source()), err.line());
        let discount_only = !missing.is_empty()
            && missing
                .iter()
                .all(|m| m == "discount" || m.starts_with("discount."));
        if discount_only && ctx["discount"].is_null() {
            let names = missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return format!(
                "{at}prints {names}{quoted}, but the step has no discount: give the step \
                 `discount = {{ code = \"...\" }}`, or print it inside `{{% if discount %}}…{{% endif %}}`"
            );
        }
        match missing.as_slice() {
            [] => format!("{at}undefined value{quoted}"),
            names => format!(
                "{at}undefined {}{quoted} (the context has {CONTEXT_NAMES}; docs/CONFIG.md lists their keys)",
                names.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            ),
        }
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
                   "unsubscribe": "https://hub.example/u/x", "survey": "https://hub.example/s/x" },
        "discount": { "code": "SAVE5", "description": "5% off", "expires_at": "2026-11-24 12:00 UTC" },
        "shop": { "id": "shop" },
        "flow": { "id": "f", "step": 1, "variant": "a" },
        "message": { "id": "m1" },
        // An `event:` flow's trigger; its properties are the shop's own, unknown here: read one
        // with `| default(...)` or `is defined`.
        "event": { "name": "Sample Event", "properties": {} }
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
