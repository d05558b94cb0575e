//! Differential transcripts: the dev engine answers what the real engines answered.
//!
//! `tests/fixtures/transcripts/<engine>/<script>.json` at the repository root holds what
//! Operaton and Camunda 7 answered to the scripted exchanges of `transcripts_support::scripts`
//! (normalised: ids, engine timestamps and the run token as placeholders).
//!
//! * `dev_engine_matches_the_recordings` (normal test suite, no Java): replays every script
//!   against a fresh dev engine and compares with each engine's recording; the differences
//!   a step tolerates are documented in README's dev-engine section.
//! * `record` (ignored; needs `BPTL_REAL_ENGINE_URL` and `BPTL_REAL_ENGINE_NAME`): runs the
//!   scripts against a real engine and fails when its answers differ from the committed
//!   recording (stale); with `BPTL_TRANSCRIPTS_WRITE=1` it rewrites the recording instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod transcripts_support;

use transcripts_support::{
    ENGINES, committed, json_diff, run, scripts, stable_view, write_committed,
};

#[test]
fn the_scripts_cover_at_least_80_requests() {
    let total: usize = scripts::all().iter().map(|s| s.request_count()).sum();
    assert!(total >= 80, "only {total} requests in the transcripts");
}

#[test]
fn every_tolerated_difference_is_documented_in_the_readme() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"),
    )
    .expect("README.md");
    let section = readme
        .split("## The dev engine: Camunda without Camunda")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has the dev-engine section");
    for script in scripts::all() {
        for step in &script.steps {
            for t in &step.tolerances {
                assert!(
                    section.contains(&format!("`{}`", t.id)),
                    "{} step {:?} tolerates `{}`, which README's dev-engine section does not list",
                    script.name,
                    step.label,
                    t.id
                );
            }
        }
    }
}

#[test]
fn every_engine_has_a_recording_of_every_script() {
    for engine in ENGINES {
        for script in scripts::all() {
            assert!(
                committed(engine, script.name).is_some(),
                "no recording tests/fixtures/transcripts/{engine}/{}.json: record it against {engine} \
                 (BPTL_REAL_ENGINE_URL=... BPTL_REAL_ENGINE_NAME={engine} BPTL_TRANSCRIPTS_WRITE=1 \
                 cargo test -p bptl-dev-engine --test transcripts -- --ignored record)",
                script.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_engine_matches_the_recordings() {
    use bptl_dev_engine::DevEngine;
    use transcripts_support::compare;

    let mut report = Vec::new();
    let mut compared = 0;
    for script in scripts::all() {
        let engine = DevEngine::start().await.expect("dev engine starts");
        let recording = run(&script, &engine.url()).await;
        engine.shutdown().await;
        if let Some(dir) = std::env::var_os("BPTL_TRANSCRIPTS_DEV_OUT") {
            // A debugging aid: the dev engine's own recording, to read side by side.
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("create BPTL_TRANSCRIPTS_DEV_OUT");
            std::fs::write(
                dir.join(format!("{}.json", script.name)),
                transcripts_support::to_file_text(&recording),
            )
            .expect("write the dev engine's recording");
        }
        for name in ENGINES {
            let Some(expected) = committed(name, script.name) else {
                continue;
            };
            compared += 1;
            for entry in compare(&script, name, &expected, &recording) {
                report.push(format!("[against {name}] {entry}"));
            }
        }
    }
    assert!(compared > 0, "no recordings to compare with");
    assert!(
        report.is_empty(),
        "the dev engine answers differently from the recordings in {} step(s):\n\n{}",
        report.len(),
        report.join("\n")
    );
}

/// Records against a real engine; fails when the committed recording is stale.
#[tokio::test]
#[ignore = "needs a real engine: BPTL_REAL_ENGINE_URL and BPTL_REAL_ENGINE_NAME"]
async fn record() {
    let url = std::env::var("BPTL_REAL_ENGINE_URL")
        .expect("BPTL_REAL_ENGINE_URL, e.g. http://127.0.0.1:8080/engine-rest");
    let engine = std::env::var("BPTL_REAL_ENGINE_NAME").expect("BPTL_REAL_ENGINE_NAME");
    assert!(
        ENGINES.contains(&engine.as_str()),
        "BPTL_REAL_ENGINE_NAME must be one of {ENGINES:?}"
    );
    let write = std::env::var_os("BPTL_TRANSCRIPTS_WRITE").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for script in scripts::all() {
        let recording = run(&script, url.trim_end_matches('/')).await;
        let previous = committed(&engine, script.name);
        if previous.as_ref().map(|p| stable_view(&script, p))
            == Some(stable_view(&script, &recording))
        {
            continue;
        }
        if write {
            write_committed(&engine, script.name, &recording);
            continue;
        }
        let mut lines = Vec::new();
        match &previous {
            Some(previous) => json_diff("", previous, &recording, &mut lines),
            None => lines.push("no recording committed".to_string()),
        }
        stale.push(format!(
            "tests/fixtures/transcripts/{engine}/{}.json is stale:\n    {}",
            script.name,
            lines.join("\n    ")
        ));
    }
    assert!(
        stale.is_empty(),
        "{engine} answers differently from the committed recordings (re-record with \
         BPTL_TRANSCRIPTS_WRITE=1 and review the change):\n{}",
        stale.join("\n")
    );
}
