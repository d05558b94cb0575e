//! `check` and `registry`: every problem in a configuration, listed at once; `run` repeats the
//! same checks and keeps what they built.

use std::io::Write;

use super::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use crate::config::Config;
use bptl_core::{LINK_HINT, Registry};

pub(super) fn registry() -> u8 {
    match Registry::global() {
        Ok(registry) => {
            let mut out = std::io::stdout().lock();
            if registry
                .write_listing(&mut out)
                .and_then(|()| out.flush())
                .is_err()
            {
                return EXIT_FAILURE;
            }
            if registry.is_empty() {
                return EXIT_FAILURE;
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILURE
        }
    }
}

/// Every problem `check` finds in a loaded configuration (empty: good to run).
///
/// Covers duplicate units in the registry, an empty registry, mappings naming unknown units
/// (with "did you mean" and the linking hint), mappings for no known engine, no active mapping,
/// unresolvable engine secrets, and the services/credentials validation of `bptl-credentials`.
pub fn check(
    config: &Config,
    registry: Result<&Registry, bptl_core::RegistryError>,
) -> Vec<String> {
    check_and_prepare(config, registry).0
}

/// The engine client and the credentials `check` builds on its way (resolving the secrets they
/// name), so that `run` starts the worker with them instead of resolving every secret again.
pub(super) struct Prepared {
    pub(super) client: bptl_camunda::CamundaClient,
    pub(super) credentials: std::sync::Arc<bptl_credentials::CredentialStore>,
}

/// [`check`], also returning what it built when there is no problem.
pub(super) fn check_and_prepare(
    config: &Config,
    registry: Result<&Registry, bptl_core::RegistryError>,
) -> (Vec<String>, Option<Prepared>) {
    let mut problems = Vec::new();
    let registry = match registry {
        Ok(r) => r,
        Err(e) => {
            problems.push(format!("registry: {e}"));
            return (problems, None);
        }
    };
    if registry.is_empty() {
        problems.push(format!(
            "registry: no work units are linked into this binary. {LINK_HINT}"
        ));
    }
    let mappings = config.mappings();
    for (i, m) in config.task_mappings.iter().enumerate() {
        if registry.get(&m.callback).is_none() {
            let similar = registry.similar(&m.callback);
            let hint = if similar.is_empty() {
                LINK_HINT.to_owned()
            } else {
                format!("Did you mean '{}'?", similar.join("', '"))
            };
            problems.push(format!(
                "task_mappings[{i}].callback: the unit '{}' (topic '{}') is not in the registry. {hint}",
                m.callback, m.topic
            ));
        }
        if m.engine != "camunda"
            && m.engine != crate::schedule::ENGINE_TYPE
            && m.engine != crate::sources::http_api::ENGINE_TYPE
        {
            problems.push(format!(
                "task_mappings[{i}].engine: '{}' is not an engine this worker speaks to (use \"camunda\", \"schedule\" for [[schedules]], or \"http\" for the HTTP work-unit API)",
                m.engine
            ));
        }
    }
    problems.extend(crate::sources::http_api::check(config));
    // A worker serving only the HTTP API has nothing to fetch, and that is fine.
    let serves_api = config.http_api.addr.is_some()
        && mappings
            .active_for(crate::sources::http_api::ENGINE_TYPE)
            .next()
            .is_some();
    if mappings.active_for("camunda").next().is_none() && config.schedules.is_empty() && !serves_api
    {
        problems.push(
            "task_mappings: no active mapping for the engine: the worker would fetch nothing; add [[task_mappings]] sections"
                .to_owned(),
        );
    }
    let client = config
        .engine_client()
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    // Credentials that cannot be used do not hide mapping problems: mappings are checked
    // against the configured service types either way.
    let credentials = bptl_credentials::CredentialStore::from_config(config.services.clone())
        .map_err(|config_problems| {
            problems.extend(config_problems.into_iter().map(|p| p.to_string()));
        })
        .ok();
    for p in bptl_credentials::validate_all(&mappings, registry, &config.services) {
        if !matches!(
            p.problem,
            bptl_credentials::MappingProblem::UnknownUnit { .. }
        ) {
            problems.push(p.to_string());
        }
    }
    let prepared = match (client, credentials) {
        (Some(client), Some(credentials)) if problems.is_empty() => Some(Prepared {
            client,
            credentials: std::sync::Arc::new(credentials),
        }),
        _ => None,
    };
    (problems, prepared)
}

pub(super) fn load(path: &std::path::Path) -> Result<Config, u8> {
    Config::load(path).map_err(|problems| {
        eprintln!(
            "error: the configuration has {} problem(s):",
            problems.len()
        );
        for p in problems {
            eprintln!("  - {p}");
        }
        EXIT_USAGE
    })
}

pub(super) fn check_command(path: &std::path::Path) -> u8 {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    let problems = check(&config, Registry::global());
    if problems.is_empty() {
        println!(
            "{}: OK ({} task mapping(s), {} unit(s) registered)",
            path.display(),
            config.task_mappings.len(),
            Registry::global().map(Registry::len).unwrap_or(0)
        );
        EXIT_OK
    } else {
        eprintln!("error: {} problem(s) found:", problems.len());
        for p in problems {
            eprintln!("  - {p}");
        }
        EXIT_USAGE
    }
}
