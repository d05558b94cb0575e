//! `--help` of every command, and `registry`.

use super::run_cli;

#[test]
fn help_is_there_for_every_command() {
    for cmd in [
        "run",
        "check",
        "registry",
        "fetch-and-lock",
        "dev-engine",
        "tasks",
        "execute",
        "stats",
        "prune",
    ] {
        let (code, out) = run_cli(&[cmd, "--help"]);
        assert_eq!(code, 0, "{cmd} --help: {out}");
        assert!(out.contains("Usage: worker"), "{cmd}: {out}");
    }
    let (code, out) = run_cli(&["no-such-command"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unrecognized subcommand"), "{out}");
}

#[test]
fn registry_lists_the_dummy_units() {
    let (code, out) = run_cli(&["registry"]);
    assert_eq!(code, 0, "{out}");
    for unit in [
        "bptl_dummy::Double",
        "bptl_dummy::echo",
        "bptl_dummy::fetch_json",
        "bptl_dummy::sleep",
    ] {
        assert!(
            out.contains(&format!("{unit}\n    ")),
            "{unit} missing: {out}"
        );
    }
}
