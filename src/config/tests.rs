//! The configuration file: keys, defaults, overrides and problems.
#![allow(clippy::unwrap_used)]

use super::*;
use std::time::Duration;

const BASE: &str = r#"
[engine]
url = "http://127.0.0.1:8080/engine-rest"
max_tasks = 10
lock_duration = "5m"
async_response_timeout = "30s"

[[task_mappings]]
topic = "double"
callback = "bptl_dummy::Double"
"#;

#[test]
fn the_documented_keys_work() {
    let c = Config::from_toml_str(BASE, &|_| None).unwrap();
    assert_eq!(c.engine.url, "http://127.0.0.1:8080/engine-rest");
    assert_eq!(c.engine.lock_duration, Duration::from_secs(300));
    assert_eq!(c.engine.async_response_timeout, Duration::from_secs(30));
    assert_eq!(c.task_mappings[0].callback, "bptl_dummy::Double");
    assert!(c.store.enabled, "SQLite is the default store");
    assert_eq!(c.store.url, "sqlite://bptl.db");
    assert_eq!(c.store.retention, None);
    assert_eq!(c.store.retention_failed, None);
}

#[test]
fn retention_of_completed_and_failed_records() {
    let text = format!("{BASE}\n[store]\nretention = \"30d\"\nretention_failed = \"90d\"\n");
    let c = Config::from_toml_str(&text, &|_| None).unwrap();
    assert_eq!(c.store.retention, Some(Duration::from_secs(30 * 86_400)));
    assert_eq!(
        c.store.retention_failed,
        Some(Duration::from_secs(90 * 86_400))
    );
    let env = |name: &str| (name == "BPTL_STORE_RETENTION_FAILED").then(|| "7d".to_owned());
    let c = Config::from_toml_str(&text, &env).unwrap();
    assert_eq!(
        c.store.retention_failed,
        Some(Duration::from_secs(7 * 86_400))
    );
}

#[test]
fn every_problem_names_its_key() {
    let text = format!(
        "{BASE}\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"x::y\"\nretrys = 2\ntimeout = \"soon\"\n[metrics]\naddr = \"nope\"\n"
    );
    let problems = Config::from_toml_str(&text, &|_| None).unwrap_err();
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        shown.contains(&"task_mappings[1].retrys: unknown key; did you mean 'retries'?".to_owned()),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("task_mappings[1].timeout: 'soon' is not a duration")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("task_mappings[1].topic: the topic 'double' is mapped twice")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|s| s.starts_with("metrics.addr: 'nope'")),
        "{shown:?}"
    );
}

#[test]
fn environment_overrides_win() {
    let env = |name: &str| match name {
        "BPTL_ENGINE_URL" => Some("http://other:8080/engine-rest".to_owned()),
        "BPTL_ENGINE_MAX_TASKS" => Some("3".to_owned()),
        "BPTL_ENGINE_USE_PRIORITY" => Some("true".to_owned()),
        _ => None,
    };
    let c = Config::from_toml_str(BASE, &env).unwrap();
    assert_eq!(c.engine.url, "http://other:8080/engine-rest");
    assert_eq!(c.engine.max_tasks, 3);
    assert!(c.engine.use_priority);
    let bad = |name: &str| (name == "BPTL_ENGINE_MAX_TASKS").then(|| "many".to_owned());
    let problems = Config::from_toml_str(BASE, &bad).unwrap_err();
    assert_eq!(problems[0].key, "BPTL_ENGINE_MAX_TASKS");
}

#[test]
fn auth_and_services() {
    let text = format!(
        "{BASE}\n[engine.auth]\ntype = \"basic\"\nusername = \"demo\"\npassword = {{ env = \"PW\" }}\n\
             [services.zaken]\napi_root = \"https://z.example/api\"\napi_type = \"zrc\"\n"
    );
    let c = Config::from_toml_str(&text, &|_| None).unwrap();
    assert!(
        matches!(c.engine.auth, EngineAuthConfig::Basic { ref username, .. } if username == "demo")
    );
    assert_eq!(c.services.services.len(), 1);
    let text = format!("{BASE}\n[engine.auth]\ntype = \"kerberos\"\n");
    let problems = Config::from_toml_str(&text, &|_| None).unwrap_err();
    assert_eq!(problems[0].key, "engine.auth.type");
}

#[test]
fn unknown_keys_type_errors_and_invalid_values_are_listed_together() {
    let text = r#"
[engine]
url = "http://127.0.0.1:8080/engine-rest"
max_task = 3
use_priority = "yes"
lock_duration = "50ms"
shutdown_grace = 30

[[task_mappings]]
topic = "a"
callback = "bptl_dummy::Double"
retrys = 2
retry_timeout = "PT30S"

[[task_mappings]]
topic = 7
callback = "bptl_dummy::Double"
timeout = "soon"

[store]
enabeld = false
"#;
    let problems = Config::from_toml_str(text, &|_| None).unwrap_err();
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    for expected in [
        "engine.max_task: unknown key; did you mean 'max_tasks'?",
        "engine.use_priority: must be true or false, not string",
        "engine.lock_duration: must be at least 100ms",
        "engine.shutdown_grace: must be a duration string such as \"30s\" or \"5m\", not integer",
        "task_mappings[0].retrys: unknown key; did you mean 'retries'?",
        "task_mappings[1].topic: must be a string, not integer",
        "store.enabeld: unknown key; did you mean 'enabled'?",
    ] {
        assert!(shown.iter().any(|s| s == expected), "{expected}: {shown:?}");
    }
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("task_mappings[1].timeout: 'soon' is not a duration")),
        "{shown:?}"
    );
    // A key with a bad value is not also reported missing.
    assert!(
        !shown
            .iter()
            .any(|s| s.contains("task_mappings[1].topic: missing")),
        "{shown:?}"
    );
}

#[test]
fn iso_8601_durations_and_absurd_ones() {
    let text = BASE.replace("lock_duration = \"5m\"", "lock_duration = \"PT5M\"");
    let c = Config::from_toml_str(&text, &|_| None).unwrap();
    assert_eq!(c.engine.lock_duration, Duration::from_secs(300));
    let text = BASE.replace("\"5m\"", "\"99999999999999999999d\"");
    let problems = Config::from_toml_str(&text, &|_| None).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "engine.lock_duration");
    assert!(
        problems[0].message.contains("too long a duration"),
        "{problems:?}"
    );
}

#[test]
fn callback_allow_entries_are_checked() {
    let c = Config::from_toml_str(BASE, &|_| None).unwrap();
    assert!(
        c.callback_allow.entries().is_empty(),
        "no callback is allowed by default"
    );
    let text = format!(
        "{BASE}\n[callback]\nallow = [\"https://*.example.nl/hooks/\", \"https://*.nl/\", \"hooks.example.nl\"]\n"
    );
    let problems = Config::from_toml_str(&text, &|_| None).unwrap_err();
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["callback.allow[1]", "callback.allow[2]"],
        "{problems:?}"
    );
    assert!(problems[0].message.contains("*.example.nl"), "{problems:?}");
    let text = format!("{BASE}\n[callback]\nallow = [\"https://*.example.nl/hooks/\"]\n");
    let c = Config::from_toml_str(&text, &|_| None).unwrap();
    assert!(
        c.callback_allow
            .matching("https://a.example.nl/hooks/1")
            .is_ok()
    );
}

#[test]
fn overrides_are_read_as_their_keys_types() {
    let env = |name: &str| match name {
        "BPTL_ENGINE_LOCK_DURATION" => Some("PT2M".to_owned()),
        "BPTL_ENGINE_USE_PRIORITY" => Some("yes".to_owned()),
        "BPTL_STORE_ENABLED" => Some("0".to_owned()),
        "BPTL_CALLBACK_TIMEOUT" => Some("3s".to_owned()),
        _ => None,
    };
    let c = Config::from_toml_str(BASE, &env).unwrap();
    assert_eq!(c.engine.lock_duration, Duration::from_secs(120));
    assert!(c.engine.use_priority);
    assert!(!c.store.enabled);
    assert_eq!(c.callback_timeout, Duration::from_secs(3));
    let bad = |name: &str| match name {
        "BPTL_ENGINE_USE_PRIORITY" => Some("maybe".to_owned()),
        "BPTL_ENGINE_LOCK_DURATION" => Some("soon".to_owned()),
        _ => None,
    };
    let problems = Config::from_toml_str(BASE, &bad).unwrap_err();
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        shown.contains(
            &"BPTL_ENGINE_USE_PRIORITY: 'maybe' is not a boolean: write true or false".to_owned()
        ),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("BPTL_ENGINE_LOCK_DURATION: 'soon' is not a duration")),
        "{shown:?}"
    );
}

#[test]
fn the_limits_are_the_worker_builders() {
    use bptl_core::runtime::{MAX_TASKS, MIN_LOCK_DURATION};
    // The shortest lock the builder accepts is accepted here too, and one shorter is not.
    let text = BASE.replace("\"5m\"", "\"100ms\"");
    let c = Config::from_toml_str(&text, &|_| None).unwrap();
    assert_eq!(c.engine.lock_duration, MIN_LOCK_DURATION);
    let text = BASE.replace("\"5m\"", "\"99ms\"");
    let problems = Config::from_toml_str(&text, &|_| None).unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "engine.lock_duration: must be at least 100ms"
    );
    let text = format!("{BASE}lock_duration = \"10ms\"\n");
    let problems = Config::from_toml_str(&text, &|_| None).unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "task_mappings[0].lock_duration: must be at least 100ms"
    );
    let text = BASE.replace(
        "max_tasks = 10",
        &format!("max_tasks = {}", MAX_TASKS.end() + 1),
    );
    let problems = Config::from_toml_str(&text, &|_| None).unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "engine.max_tasks: must be 1 to 10000 (the number of tasks run at once), not 10001"
    );
}

#[test]
fn the_model_refuses_unknown_fields_for_any_reader() {
    let err = toml::from_str::<model::EngineModel>("max_task = 3").unwrap_err();
    assert!(
        err.to_string().contains("unknown field `max_task`"),
        "{err}"
    );
}

#[test]
fn the_admin_listener_and_its_deprecated_key() {
    let c = Config::from_toml_str(
        &format!("{BASE}\n[admin]\naddr = \"127.0.0.1:9100\"\n"),
        &|_| None,
    )
    .unwrap();
    assert_eq!(c.admin.addr, Some("127.0.0.1:9100".parse().unwrap()));
    assert_eq!(
        c.admin.engine_answer_within,
        Duration::from_secs(60),
        "async_response_timeout + 30s"
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    let old = Config::from_toml_str(
        &format!("{BASE}\n[metrics]\naddr = \"127.0.0.1:9101\"\n"),
        &|_| None,
    )
    .unwrap();
    assert_eq!(old.admin.addr, Some("127.0.0.1:9101".parse().unwrap()));
    assert_eq!(
        old.warnings[0].to_string(),
        "metrics.addr: deprecated: write [admin] addr instead (the admin listener serves /healthz, /readyz and /metrics)"
    );

    let env = |name: &str| (name == "BPTL_ADMIN_ENGINE_ANSWER_WITHIN").then(|| "90s".to_owned());
    let overridden = Config::from_toml_str(BASE, &env).unwrap();
    assert_eq!(
        overridden.admin.engine_answer_within,
        Duration::from_secs(90)
    );

    let both = Config::from_toml_str(
        &format!("{BASE}\n[admin]\naddr = \"127.0.0.1:9100\"\nengine_answer_within = \"10s\"\n[metrics]\naddr = \"127.0.0.1:9101\"\n"),
        &|_| None,
    )
    .unwrap_err();
    let shown: Vec<String> = both.iter().map(ToString::to_string).collect();
    assert!(
        shown.contains(
            &"metrics.addr: deprecated, and [admin] addr is set too: remove [metrics] addr"
                .to_owned()
        ),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|s| s.starts_with(
            "admin.engine_answer_within: must be longer than engine.async_response_timeout (30s)"
        )),
        "{shown:?}"
    );
}

#[test]
fn the_log_format() {
    let c = Config::from_toml_str(BASE, &|_| None).unwrap();
    assert_eq!(c.log_format, LogFormat::Text);
    let env = |name: &str| (name == "BPTL_LOG_FORMAT").then(|| "json".to_owned());
    let c = Config::from_toml_str(&format!("{BASE}\n[log]\nformat = \"text\"\n"), &env).unwrap();
    assert_eq!(c.log_format, LogFormat::Json, "the override wins");
    let problems = Config::from_toml_str(&format!("{BASE}\n[log]\nformat = \"xml\"\n"), &|_| None)
        .unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "log.format: 'xml' is not a log format: write \"text\" or \"json\""
    );
}

#[test]
fn http_api_overrides() {
    let env = |name: &str| match name {
        "BPTL_HTTP_API_ADDR" => Some("127.0.0.1:9400".to_owned()),
        "BPTL_HTTP_API_TIMEOUT" => Some("5s".to_owned()),
        "BPTL_HTTP_API_MAX_TASKS" => Some("4".to_owned()),
        _ => None,
    };
    let file = format!("{BASE}\n[http_api]\naddr = \"127.0.0.1:9300\"\ntimeout = \"30s\"\n");
    let c = Config::from_toml_str(&file, &env).unwrap();
    assert_eq!(
        c.http_api.addr,
        Some("127.0.0.1:9400".parse().unwrap()),
        "the override wins"
    );
    assert_eq!(c.http_api.timeout, Duration::from_secs(5));
    assert_eq!(c.http_api.max_tasks, 4);
    // Without an [http_api] table in the file.
    let only_env = Config::from_toml_str(BASE, &env).unwrap();
    assert_eq!(
        only_env.http_api.addr,
        Some("127.0.0.1:9400".parse().unwrap())
    );

    let bad = |name: &str| match name {
        "BPTL_HTTP_API_ADDR" => Some("somewhere".to_owned()),
        "BPTL_HTTP_API_MAX_TASKS" => Some("many".to_owned()),
        _ => None,
    };
    let shown: Vec<String> = Config::from_toml_str(BASE, &bad)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        shown.contains(
            &"http_api.addr: 'somewhere' is not a socket address: write e.g. \"127.0.0.1:9300\""
                .to_owned()
        ),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("BPTL_HTTP_API_MAX_TASKS:")),
        "{shown:?}"
    );
}
