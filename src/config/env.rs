//! `BPTL_<SECTION>_<KEY>` environment overrides of the scalar keys of `[engine]`, `[store]`,
//! `[admin]`, `[log]`, `[metrics]`, `[callback]` and `[http_api]` (`BPTL_HTTP_API_ADDR`, ...). The keys are the models' fields; the values are parsed as the
//! field's type when the model is read (see `de`).

use std::collections::BTreeMap;

use super::ConfigError;
use super::de::fields_of;
use super::model::{
    AdminModel, CallbackModel, EngineModel, HttpApiModel, LogModel, MetricsModel, StoreModel,
};
use bptl_core::suggest::did_you_mean;

/// The sections overrides apply to, with their keys.
fn sections() -> [(&'static str, Vec<&'static str>); 7] {
    // `auth` is a table and `allow` a list, not scalars: they have no override.
    let scalar = |fields: &'static [&'static str]| -> Vec<&'static str> {
        fields
            .iter()
            .copied()
            .filter(|f| !matches!(*f, "auth" | "allow"))
            .collect()
    };
    [
        ("engine", scalar(fields_of::<EngineModel>())),
        ("store", scalar(fields_of::<StoreModel>())),
        ("admin", scalar(fields_of::<AdminModel>())),
        ("log", scalar(fields_of::<LogModel>())),
        ("metrics", scalar(fields_of::<MetricsModel>())),
        ("callback", scalar(fields_of::<CallbackModel>())),
        ("http_api", scalar(fields_of::<HttpApiModel>())),
    ]
}

/// Put every override found by `env` into `table`, returning the overridden paths with their
/// variables. Unknown and unreadable `BPTL_*` variables of the process environment are problems.
pub(super) fn apply(
    table: &mut toml::Table,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<ConfigError>,
) -> BTreeMap<String, String> {
    let sections = sections();
    let mut overridden = BTreeMap::new();
    for (section, keys) in &sections {
        for key in keys {
            let var = format!("BPTL_{}_{}", section.to_uppercase(), key.to_uppercase());
            let Some(text) = env(&var) else { continue };
            let entry = table
                .entry((*section).to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                t.insert((*key).to_owned(), toml::Value::String(text));
                overridden.insert(format!("{section}.{key}"), var);
            }
        }
    }
    // Typos in override variables must not pass silently. The environment lookup is a
    // function, so unknown variables are checked by listing the process environment when it is
    // the real one (tests pass their own lookup and are not affected).
    // `vars_os`: a variable that is not UTF-8 (name or value) must not stop the worker from
    // starting; only one of bptl's own, unreadable, is a problem worth naming.
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(rest) = name.strip_prefix("BPTL_") else {
            continue;
        };
        if value.to_str().is_none() {
            problems.push(ConfigError::new(
                name,
                "the value is not valid UTF-8: set it to UTF-8 text or unset it",
            ));
            continue;
        }
        if env(name).is_none() {
            continue;
        }
        for (section, keys) in &sections {
            let Some(key) = rest.strip_prefix(&format!("{}_", section.to_uppercase())) else {
                continue;
            };
            let key = key.to_lowercase();
            if !keys.contains(&key.as_str()) {
                let mut message = format!("unknown override: [{section}] has no key '{key}'");
                if let Some(s) = did_you_mean(&key, keys.iter().copied()).first() {
                    message.push_str(&format!(
                        "; did you mean BPTL_{}_{}?",
                        section.to_uppercase(),
                        s.to_uppercase()
                    ));
                }
                problems.push(ConfigError::new(name, message));
            }
        }
    }
    overridden
}
