//! `check`: every problem listed, each naming its key; `run` refusing to start on them.

use super::*;

#[test]
fn a_key_typo_is_named_with_a_suggestion() {
    let (code, out) = check(
        "[engine]\nurl = \"http://127.0.0.1:1/engine-rest\"\nmax_task = 10\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n",
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("engine.max_task: unknown key; did you mean 'max_tasks'?"),
        "{out}"
    );
}

#[test]
fn check_warns_of_the_deprecated_metrics_addr() {
    let (code, out) = check(
        "[engine]\nurl = \"http://127.0.0.1:1/engine-rest\"\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n\n[metrics]\naddr = \"127.0.0.1:9100\"\n",
    );
    assert_eq!(code, 0, "a warning, not a problem: {out}");
    assert!(
        out.contains("warning: metrics.addr: deprecated: write [admin] addr instead"),
        "{out}"
    );
}

#[test]
fn an_absurd_duration_is_a_problem_listed_by_check_not_a_panic() {
    let (code, out) = check(
        "[engine]\nurl = \"http://127.0.0.1:1/engine-rest\"\nlock_duration = \"99999999999999999999d\"\n",
    );
    assert_eq!(code, 2, "a listed problem, not a panic (101): {out}");
    assert!(out.contains("engine.lock_duration"), "{out}");
    assert!(out.contains("too long a duration"), "{out}");
}

#[test]
fn a_non_utf8_environment_variable_does_not_stop_any_command() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;
    let dir = TempDir::new();
    let config = write(
        &dir,
        "worker.toml",
        "[engine]\nurl = \"http://127.0.0.1:1/engine-rest\"\n\n[[task_mappings]]\ntopic = \"double\"\ncallback = \"bptl_dummy::Double\"\n",
    );
    let not_utf8 = OsStr::from_bytes(b"caf\xe9");
    // A variable bptl does not read: ignored.
    let out = command(&["check", "--config", arg(&config)])
        .env("SOME_LEGACY_SETTING", not_utf8)
        .output()
        .expect("child runs");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // One of bptl's own, unreadable: named as a problem.
    let out = command(&["check", "--config", arg(&config)])
        .env("BPTL_ENGINE_URL", not_utf8)
        .output()
        .expect("child runs");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("BPTL_ENGINE_URL: the value is not valid UTF-8"),
        "{text}"
    );
}

#[test]
fn check_lists_every_problem_and_run_refuses_to_start() {
    let dir = TempDir::new();
    let config = write(
        &dir,
        "worker.toml",
        r#"
[engine]
url = "http://127.0.0.1:1/engine-rest"

[[task_mappings]]
topic = "fetch"
callback = "bptl_dummy::fetch_json"

[[task_mappings]]
topic = "double"
callback = "bptl_dummy::double"

[[task_mappings]]
topic = "zaken"
callback = "bptl_dummy::fetch_json"
services = { api = "zaken-api" }

[services.zaken-api]
api_root = "https://zaken.example/api/v1"
api_type = "zrc"
auth = "zgw"
client_id = "bptl"
secret = ""
"#,
    );
    let (code, out) = run_cli(&["check", "--config", arg(&config)]);
    assert_eq!(code, 2, "{out}");
    for expected in [
        "Missing service alias 'api'",
        "the unit 'bptl_dummy::double' (topic 'double') is not in the registry. Did you mean 'bptl_dummy::Double'?",
        "zaken-api",
    ] {
        assert!(out.contains(expected), "'{expected}' missing from:\n{out}");
    }
    assert!(
        out.contains("secret"),
        "the empty ZGW secret is named: {out}"
    );

    let (code, out) = run_cli(&["run", "--config", arg(&config)]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not starting"), "{out}");
    assert!(out.contains("Missing service alias 'api'"), "{out}");
}
