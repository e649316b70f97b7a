//! Loading the TOML file: read, layer `CARTBACK__SECTION__KEY` environment overrides (the `config`
//! crate), interpolate `${VAR}` from the environment, then deserialize and validate each table,
//! collecting **every** problem with its key path before anything starts.

use crate::registry;
use cartback_core::AddressKind;
use cartback_engine::config::{validate_limits, FlowSettings, LimitsSettings, TemplateSettings};
use cartback_kit::plugin::{Configured, Plugin, Role};
use cartback_server::ServerSettings;
use cartback_store::StoreSettings;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One thing wrong with the configuration, at a key path such as `source.shop.secret`: the one
/// problem type every part reports with.
pub use cartback_core::Problem;

/// Every problem found; nothing starts while there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{n} configuration problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone)]
pub struct SourceEntry {
    pub kind: &'static str,
    /// The connector with its settings read and validated.
    pub settings: Arc<dyn Configured>,
}

#[derive(Debug, Clone)]
pub struct ChannelEntry {
    pub kind: &'static str,
    /// The connector with its settings read and validated.
    pub settings: Arc<dyn Configured>,
    /// The outbox's settings for this channel (rate, concurrency, timeout, lease, attempts).
    pub common: cartback_engine::config::ChannelCommon,
}

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub sources: BTreeMap<String, SourceEntry>,
    pub channels: BTreeMap<String, ChannelEntry>,
    pub flows: BTreeMap<String, FlowSettings>,
    pub templates: BTreeMap<String, TemplateSettings>,
    pub limits: LimitsSettings,
    /// `[retention]`: how long raw events, message bodies and delivery ids are kept.
    pub retention: cartback_store::RetentionSettings,
    pub engine: cartback_engine::config::EngineSettings,
    /// The `[survey.<id>]` tables, and the survey each web channel names (`crate::surveys`).
    pub surveys: BTreeMap<String, cartback_engine::config::SurveySettings>,
    pub channel_surveys: BTreeMap<String, String>,
    /// The config file's folder: relative paths are relative to it.
    pub base_dir: PathBuf,
    /// The file it was read from (`None` for text): what a reload reads again.
    pub file: Option<PathBuf>,
}

impl HubConfig {
    /// The SQLite path made absolute against the config file's folder.
    pub fn store_url(&self) -> String {
        self.store.resolved_url(&self.base_dir)
    }
}

/// Where environment values come from (the process, or a map in tests).
pub type Env = HashMap<String, String>;

pub fn process_env() -> Env {
    std::env::vars().collect()
}

/// Loads and validates the file at `path`.
pub fn load(path: &Path, env: &Env) -> Result<HubConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        problems: vec![Problem {
            path: String::new(),
            message: format!("cannot read {}: {e}", path.display()),
        }],
    })?;
    let base = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut cfg = load_str(&text, &base, env)?;
    cfg.file = Some(path.to_path_buf());
    Ok(cfg)
}

/// Loads and validates TOML text; `base_dir` anchors relative paths.
pub fn load_str(text: &str, base_dir: &Path, env: &Env) -> Result<HubConfig, ConfigError> {
    let one = |message: String| ConfigError {
        problems: vec![Problem {
            path: String::new(),
            message,
        }],
    };
    let overrides: HashMap<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with("CARTBACK__"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let built = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("CARTBACK")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(overrides)),
        )
        .build()
        .map_err(|e| one(format!("cannot parse the configuration: {e}")))?;
    let mut root: Value = built
        .try_deserialize()
        .map_err(|e| one(format!("cannot read the configuration: {e}")))?;
    let mut problems = Vec::new();
    interpolate(&mut root, "", env, &mut problems);
    // A value whose variable is missing stays `${VAR}`; every later problem about that key
    // would only repeat it (`"${TWILIO_ACCOUNT_SID}" must be "AC"...`), so those are dropped.
    let unresolved: Vec<(String, String)> = problems
        .iter()
        .map(|p| (p.path.clone(), unresolved_reference(&p.message)))
        .collect();
    let mut later = Vec::new();
    let mut root = match root {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let cfg = build(&mut root, base_dir.to_path_buf(), &mut later);
    problems.extend(
        later
            .into_iter()
            .filter(|p| !unresolved.iter().any(|(path, r)| follows(p, path, r))),
    );
    if problems.is_empty() {
        Ok(cfg)
    } else {
        for p in &mut problems {
            p.path = count_from_one(&p.path);
        }
        Err(ConfigError { problems })
    }
}

/// Key paths count list entries from 1, as a shop counts the `[[flow.x.step]]` blocks in its file
/// and as every other surface numbers steps: `flow.x.step[1]` is the first step, the report's
/// "step 1". (Paths are built from 0 while checking; this is the one place they are shown.)
fn count_from_one(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 2);
    let mut rest = path;
    let mut quoted = false;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '\\' if quoted => {
                out.push(c);
                if let Some(next) = rest.chars().next() {
                    out.push(next);
                    rest = &rest[next.len_utf8()..];
                }
            }
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            '[' if !quoted => {
                let digits = rest
                    .find(|d: char| !d.is_ascii_digit())
                    .unwrap_or(rest.len());
                match (
                    rest[..digits].parse::<u64>(),
                    rest[digits..].starts_with(']'),
                ) {
                    (Ok(n), true) => {
                        out.push('[');
                        out.push_str(&(n + 1).to_string());
                        rest = &rest[digits..];
                    }
                    _ => out.push(c),
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The `${VAR}` an interpolation problem is about (its message names `VAR`).
fn unresolved_reference(message: &str) -> String {
    message
        .strip_prefix("environment variable ")
        .and_then(|m| m.split_whitespace().next())
        .map(|v| format!("${{{v}"))
        .unwrap_or_else(|| "${".into())
}

/// Whether `p` only repeats the interpolation problem at `path` about `reference`: it is at that
/// key, inside it, or the list holding it, or its message quotes the unresolved reference.
fn follows(p: &Problem, path: &str, reference: &str) -> bool {
    let under = |a: &str, b: &str| {
        a.strip_prefix(b)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    p.path == path
        || under(&p.path, path)
        || path
            .strip_prefix(p.path.as_str())
            .is_some_and(|r| r.starts_with('['))
        || p.message.contains(reference)
}

/// Replaces `${VAR}` (and `${VAR:-default}`) in every string; `$${` is a literal `${`.
fn interpolate(v: &mut Value, path: &str, env: &Env, problems: &mut Vec<Problem>) {
    match v {
        Value::String(s) if s.contains('$') => match expand(s, env) {
            Ok(out) => *s = out,
            Err(msg) => problems.push(Problem {
                path: path.to_string(),
                message: msg,
            }),
        },
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                interpolate(child, &p, env, problems);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter_mut().enumerate() {
                interpolate(child, &format!("{path}[{i}]"), env, problems);
            }
        }
        _ => {}
    }
}

fn expand(s: &str, env: &Env) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(lit) = after.strip_prefix("${") {
            out.push_str("${");
            rest = lit;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {:?}", truncate(s)))?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(format!(
                    "${{{expr}}} is not a valid environment variable reference"
                ));
            }
            // As the shell's `${VAR:-default}`: an empty variable counts as unset.
            match (env.get(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(v),
                (None, Some(d)) => out.push_str(d),
                (None, None) if env.contains_key(name) => {
                    return Err(format!("environment variable {name} is set but empty"))
                }
                (None, None) => return Err(format!("environment variable {name} is not set")),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Deserializes `value` as `T`, reporting the failing key under `prefix`.
pub fn typed<T: DeserializeOwned>(
    value: Value,
    prefix: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(t) => Some(t),
        Err(err) => {
            let inner = err.path().to_string();
            let path = if inner.is_empty() || inner == "." {
                prefix.to_string()
            } else {
                format!("{prefix}.{inner}")
            };
            problems.push(Problem {
                path,
                message: err.into_inner().to_string(),
            });
            None
        }
    }
}

pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

const SECTIONS: &[&str] = &[
    "server",
    "store",
    "engine",
    "source",
    "channel",
    "flow",
    "template",
    "limits",
    "retention",
    "survey",
];

fn take_table(
    root: &mut Map<String, Value>,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Map<String, Value> {
    match root.remove(key) {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            problems.push(Problem {
                path: key.into(),
                message: "must be a table".into(),
            });
            Map::new()
        }
    }
}

fn build(
    root: &mut Map<String, Value>,
    base_dir: PathBuf,
    problems: &mut Vec<Problem>,
) -> HubConfig {
    for key in root.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            problems.push(Problem {
                path: key.clone(),
                message: format!("unknown section (expected one of: {})", SECTIONS.join(", ")),
            });
        }
    }
    let server: ServerSettings = match root.remove("server") {
        None => ServerSettings::default(),
        Some(v) => typed(v, "server", problems).unwrap_or_default(),
    };
    problems.extend(server.validate().into_iter().map(|p| p.under("server")));
    let store: StoreSettings = match root.remove("store") {
        None => StoreSettings::default(),
        Some(v) => typed(v, "store", problems).unwrap_or_default(),
    };
    problems.extend(store.validate().into_iter().map(|p| p.under("store")));

    let mut sources = BTreeMap::new();
    let source_table = take_table(root, "source", problems);
    let source_ids: Vec<String> = source_table.keys().cloned().collect();
    for (id, v) in source_table {
        let at = format!("source.{id}");
        if !valid_id(&id) {
            problems.push(Problem {
                path: at.clone(),
                message: "ids are lower-case a-z, 0-9 and _".into(),
            });
        }
        let Some((plugin, rest)) = split_type(v, &at, Role::Source, problems) else {
            continue;
        };
        match plugin.configure(rest, &at) {
            Ok(settings) => {
                let kind = plugin.kind();
                sources.insert(id, SourceEntry { kind, settings });
            }
            Err(found) => problems.extend(found),
        }
    }
    let mut channels = BTreeMap::new();
    let mut channel_surveys = BTreeMap::new();
    let channel_table = take_table(root, "channel", problems);
    // Every declared channel, also one whose table has a problem (reported once, at its table).
    let channel_declared: Vec<String> = channel_table.keys().cloned().collect();
    for (id, v) in channel_table {
        let at = format!("channel.{id}");
        if !valid_id(&id) {
            problems.push(Problem {
                path: at.clone(),
                message: "ids are lower-case a-z, 0-9 and _".into(),
            });
        }
        if source_ids.contains(&id) {
            problems.push(Problem {
                path: at.clone(),
                message: format!("duplicate id: source.{id} already uses it (sources and channels share /webhooks/{{id}})"),
            });
        }
        let Some((plugin, mut rest)) = split_type(v, &at, Role::Channel, problems) else {
            continue;
        };
        let common = channel_common(&mut rest, &at, problems);
        if let Some(survey) = crate::surveys::channel_survey(&rest) {
            channel_surveys.insert(id.clone(), survey);
        }
        match plugin.configure(rest, &at) {
            Ok(settings) => {
                let kind = plugin.kind();
                channels.insert(
                    id,
                    ChannelEntry {
                        kind,
                        settings,
                        common,
                    },
                );
            }
            Err(found) => problems.extend(found),
        }
    }
    let mut templates = BTreeMap::new();
    let template_ids: Vec<String> = match root.get("template") {
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    for (id, v) in take_table(root, "template", problems) {
        let at = format!("template.{id}");
        if !valid_id(&id) {
            problems.push(Problem {
                path: at.clone(),
                message: "ids are lower-case a-z, 0-9 and _".into(),
            });
        }
        if let Some(t) = typed::<TemplateSettings>(v, &at, problems) {
            for p in t.validate() {
                problems.push(Problem {
                    path: format!("{at}.{}", p.path),
                    message: p.message,
                });
            }
            for (key, file) in [("html_file", &t.html_file), ("text_file", &t.text_file)] {
                if let Some(f) = file {
                    let full = base_dir.join(f);
                    if !full.is_file() {
                        problems.push(Problem {
                            path: format!("{at}.{key}"),
                            message: format!("file {} does not exist", full.display()),
                        });
                    }
                }
            }
            templates.insert(id, t);
        }
    }
    let mut flows = BTreeMap::new();
    for (id, v) in take_table(root, "flow", problems) {
        let at = format!("flow.{id}");
        if !valid_id(&id) {
            problems.push(Problem {
                path: at.clone(),
                message: "ids are lower-case a-z, 0-9 and _".into(),
            });
        }
        if let Some(f) = typed::<FlowSettings>(v, &at, problems) {
            for p in f.validate(&channel_declared, &template_ids) {
                problems.push(Problem {
                    path: format!("{at}.{}", p.path),
                    message: p.message,
                });
            }
            problems.extend(message_needs(&at, &f, &channels, &template_ids));
            flows.insert(id, f);
        }
    }
    let surveys = crate::surveys::load(take_table(root, "survey", problems), problems);
    problems.extend(crate::surveys::check_ids(
        &flows,
        &channel_surveys,
        &surveys,
    ));
    if problems.iter().all(|p| !p.path.starts_with("template.")) {
        match cartback_engine::template::Templates::load(&templates, &base_dir) {
            Err(errors) => {
                for e in errors {
                    problems.push(Problem {
                        path: format!("template.{}.{}", e.template, e.part),
                        message: e.message,
                    });
                }
            }
            Ok(loaded) => {
                for (id, f) in &flows {
                    problems.extend(step_templates(&format!("flow.{id}"), f, &channels, &loaded));
                    problems.extend(crate::surveys::step_templates(
                        &format!("flow.{id}"),
                        f,
                        &channel_surveys,
                        &loaded,
                    ));
                }
            }
        }
    }
    let engine: cartback_engine::config::EngineSettings = match root.remove("engine") {
        None => Default::default(),
        Some(v) => typed(v, "engine", problems).unwrap_or_default(),
    };
    for p in engine.validate() {
        problems.push(Problem {
            path: format!("engine.{}", p.path),
            message: p.message,
        });
    }
    let limits: LimitsSettings = match root.remove("limits") {
        None => LimitsSettings::default(),
        Some(v) => typed(v, "limits", problems).unwrap_or_default(),
    };
    for p in validate_limits(&limits) {
        problems.push(Problem {
            path: format!("limits.{}", p.path),
            message: p.message,
        });
    }
    let retention: cartback_store::RetentionSettings = match root.remove("retention") {
        None => Default::default(),
        Some(v) => typed(v, "retention", problems).unwrap_or_default(),
    };
    problems.extend(
        retention
            .validate()
            .into_iter()
            .map(|p| p.under("retention")),
    );
    HubConfig {
        surveys,
        channel_surveys,
        engine,
        server,
        store,
        sources,
        channels,
        flows,
        templates,
        limits,
        retention,
        base_dir,
        file: None,
    }
}

/// A message channel's steps need a template: an email or SMS step without one would fail at
/// delivery ("the message has no text body for SMS"). Hand-offs and the pop-up need none.
fn message_needs(
    at: &str,
    flow: &FlowSettings,
    channels: &BTreeMap<String, ChannelEntry>,
    templates: &[String],
) -> Vec<Problem> {
    let mut out = Vec::new();
    for (prefix, steps) in flow.step_lists() {
        for (i, step) in steps.iter().enumerate() {
            let Some(send) = &step.send else { continue };
            let Some(entry) = channels.get(&send.channel) else {
                continue;
            };
            let what = match entry.settings.address() {
                Some(AddressKind::Email) => "email",
                Some(AddressKind::Phone) => "SMS",
                _ => continue,
            };
            if send.template.is_none() {
                let example = templates.first().map_or("cart_email", String::as_str);
                out.push(Problem {
                    path: format!("{at}.{prefix}[{i}].send.template"),
                    message: format!(
                        "channel {:?} ({}) sends {what}: this step needs a template                          (send = {{ channel = {:?}, template = {example:?} }})",
                        send.channel, entry.kind, send.channel
                    ),
                });
            }
        }
    }
    out
}

/// Checks each step's template against the step, once the templates load: an SMS template has a
/// text part, and a step without a discount does not print `discount.*` unguarded.
fn step_templates(
    at: &str,
    flow: &FlowSettings,
    channels: &BTreeMap<String, ChannelEntry>,
    templates: &cartback_engine::template::Templates,
) -> Vec<Problem> {
    let mut out = Vec::new();
    for (prefix, steps) in flow.step_lists() {
        for (i, step) in steps.iter().enumerate() {
            let Some(send) = &step.send else { continue };
            let Some(t) = send.template.as_deref().filter(|t| templates.contains(t)) else {
                continue;
            };
            let path = format!("{at}.{prefix}[{i}].send.template");
            let address = channels
                .get(&send.channel)
                .and_then(|c| c.settings.address());
            if address == Some(AddressKind::Phone) && !templates.has_text(t) {
                out.push(Problem {
                    path: path.clone(),
                    message: format!(
                        "template {t:?} has no `text` or `text_file`, and channel {:?} sends SMS, which are text only",
                        send.channel
                    ),
                });
            }
            if step.discount.is_none() {
                if let Err(e) = templates.check_without_discount(t) {
                    out.push(Problem {
                        path,
                        message: format!("template.{t}.{}: {}", e.part, e.message),
                    });
                }
            }
        }
    }
    out
}

/// Splits the `type` tag off a connector table and checks it against the registry.
/// Splits the outbox's own keys (`rate`, `concurrency`, `timeout`, ...) off a channel table.
fn channel_common(
    value: &mut Value,
    at: &str,
    problems: &mut Vec<Problem>,
) -> cartback_engine::config::ChannelCommon {
    let mut common = serde_json::Map::new();
    if let Value::Object(m) = value {
        for key in cartback_engine::config::ChannelCommon::KEYS {
            if let Some(v) = m.remove(*key) {
                common.insert((*key).to_string(), v);
            }
        }
    }
    let parsed: cartback_engine::config::ChannelCommon =
        typed(Value::Object(common), at, problems).unwrap_or_default();
    for p in parsed.validate() {
        problems.push(Problem {
            path: format!("{at}.{}", p.path),
            message: p.message,
        });
    }
    parsed
}

/// The table's `type`, looked up in the registry among connectors of `role`.
fn split_type(
    v: Value,
    at: &str,
    role: Role,
    problems: &mut Vec<Problem>,
) -> Option<(&'static dyn Plugin, Value)> {
    let known = registry::types(role);
    let Value::Object(mut m) = v else {
        problems.push(Problem {
            path: at.into(),
            message: "must be a table".into(),
        });
        return None;
    };
    let kind = match m.remove("type") {
        Some(Value::String(s)) => s,
        Some(_) => {
            problems.push(Problem {
                path: format!("{at}.type"),
                message: "must be a string".into(),
            });
            return None;
        }
        None => {
            problems.push(Problem {
                path: format!("{at}.type"),
                message: format!("missing (one of: {})", known.join(", ")),
            });
            return None;
        }
    };
    match registry::find(role, &kind) {
        Some(plugin) => Some((plugin, Value::Object(m))),
        None => {
            problems.push(Problem {
                path: format!("{at}.type"),
                message: format!("unknown type {kind:?} (known: {})", known.join(", ")),
            });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn expands_variables() {
        let e = env(&[("A", "1"), ("B", "x y")]);
        assert_eq!(expand("${A}-${B}", &e).unwrap(), "1-x y");
        assert_eq!(expand("${MISSING:-dflt}", &e).unwrap(), "dflt");
        assert_eq!(expand("$${A} and $5", &e).unwrap(), "${A} and $5");
        assert_eq!(
            expand("${NOPE}", &e).unwrap_err(),
            "environment variable NOPE is not set"
        );
        assert!(expand("${A", &e).is_err());
        assert!(expand("${1A}", &e).is_err());
    }

    #[test]
    fn key_paths_count_list_entries_from_one() {
        assert_eq!(
            count_from_one("flow.recover.step[0].send.channel"),
            "flow.recover.step[1].send.channel"
        );
        assert_eq!(
            count_from_one("flow.recover.variants[1].steps[9].unless[0]"),
            "flow.recover.variants[2].steps[10].unless[1]"
        );
        // Inside a quoted key, brackets are the key's own.
        assert_eq!(
            count_from_one("channel.\"a[0]\\\"b[1]\".rate"),
            "channel.\"a[0]\\\"b[1]\".rate"
        );
        assert_eq!(
            count_from_one("server.link_hosts[x]"),
            "server.link_hosts[x]"
        );
    }
}
