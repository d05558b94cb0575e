//! The configuration of `[[schedules]]`: every problem names its key; `worker check`.

use super::*;

const CONFIG: &str = r#"
[engine]
url = "http://127.0.0.1:8080/engine-rest"

[[task_mappings]]
topic = "report"
callback = "schedules::record_tick"
engine = "schedule"
"#;

fn problems(schedules: &str) -> Vec<String> {
    Config::from_toml_str(&format!("{CONFIG}\n{schedules}"), &|_| None)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_configuration_reads_schedules_and_names_the_key_of_every_problem() {
    let good = r#"
[[schedules]]
name = "nightly"
cron = "0 2 * * *"
timezone = "Europe/Amsterdam"
topic = "report"
variables = { format = "pdf", copies = 2, due = { type = "Date", value = "2027-01-01T00:00:00.000+0100" } }
catch_up = "none"
"#;
    let config = Config::from_toml_str(&format!("{CONFIG}\n{good}"), &|_| None).unwrap();
    let s = &config.schedules[0];
    assert_eq!(
        (s.name(), s.expression(), s.topic()),
        ("nightly", "0 2 * * *", "report")
    );
    assert_eq!(
        s.next_after("2026-12-02T14:00:00Z".parse().unwrap())
            .unwrap()
            .to_string(),
        "2026-12-03T01:00:00Z"
    );

    let shown = problems(
        r#"
[[schedules]]
name = "a"
cron = "0 2 * * *"
topic = "report"

[[schedules]]
name = "b"
cron = "0 61 * * *"
timezon = "UTC"
topic = "report"

[[schedules]]
name = "a"
cron = "0 2 * *"
timezone = "Mars/Olympus"
topic = "elsewhere"
catch_up = "all"
variables = { n = { type = "Integer", value = "many" } }
"#,
    );
    let has = |prefix: &str| {
        assert!(
            shown.iter().any(|p| p.starts_with(prefix)),
            "no '{prefix}' in {shown:#?}"
        );
    };
    has(
        "schedules[1].cron: '0 61 * * *' is not a cron expression (minute hour day-of-month month day-of-week): ",
    );
    has("schedules[1].timezon: unknown key; did you mean 'timezone'?");
    has("schedules[2].cron: '0 2 * *' has 4 field(s): write 5");
    has("schedules[2].topic: no [[task_mappings]] maps the topic 'elsewhere'");
    has("schedules[2].catch_up: 'all' is not a catch-up mode");
    has("schedules[2].variables.n: has type Integer but its value is a string");
    let shown = problems(
        "[[schedules]]\nname = \"a\"\ncron = \"0 2 * * *\"\ntopic = \"report\"\ntimezone = \"Mars/Olympus\"\n[[schedules]]\nname = \"a\"\ncron = \"0 3 * * *\"\ntopic = \"report\"\n",
    );
    assert!(
        shown
            .iter()
            .any(|p| p.starts_with("schedules[0].timezone: 'Mars/Olympus' is not a time zone")),
        "{shown:#?}"
    );
    let shown = problems(
        "[[schedules]]\nname = \"a\"\ncron = \"0 2 * * *\"\ntopic = \"report\"\n[[schedules]]\nname = \"a\"\ncron = \"0 3 * * *\"\ntopic = \"report\"\n",
    );
    assert_eq!(
        shown,
        [
            "schedules[1].name: the name 'a' is taken by schedules[0]: each schedule needs its own (its ticks are NAME@TIME)"
        ]
    );
}

#[test]
fn worker_check_refuses_a_bad_cron() {
    let dir = TempDir::new();
    let path = dir.0.join("bad.toml");
    std::fs::write(
        &path,
        format!(
            "{CONFIG}\n[[schedules]]\nname = \"a\"\ncron = \"every night\"\ntopic = \"report\"\n"
        ),
    )
    .unwrap();
    let code = bptl::cli::run_cli_code(["worker", "check", "--config", path.to_str().unwrap()]);
    assert_eq!(code, bptl::cli::EXIT_USAGE);
    let good = dir.0.join("good.toml");
    std::fs::write(
        &good,
        format!(
            "{CONFIG}\n[[schedules]]\nname = \"a\"\ncron = \"0 2 * * *\"\ntopic = \"report\"\n"
        ),
    )
    .unwrap();
    let code = bptl::cli::run_cli_code(["worker", "check", "--config", good.to_str().unwrap()]);
    assert_eq!(
        code,
        bptl::cli::EXIT_OK,
        "a schedule-only worker passes check"
    );
}
