//! The real worker (`bptl::cli::run_cli`, the code `examples/worker.rs` runs) as a child
//! process that tests can SIGKILL, and a unit that records every run in a file.
//!
//! **How the worker binary is found**: the test executable itself is the worker binary. It
//! contains the ignored test `store_worker::worker_process`, which — started with
//! `BPTL_TEST_WORKER_CONFIG` set — runs `worker run --config FILE` through `bptl::cli::run_cli`
//! exactly as `examples/worker.rs` does, with the test-only unit [`record_run`] linked in. So
//! `cargo test --test store_crash_recovery` needs no separately built example, and the unit
//! that counts runs across processes exists only in tests.
#![allow(dead_code, clippy::unwrap_used)]
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use bptl::prelude::*;

/// The callback path of [`record_run`] for `[[task_mappings]]`.
pub const RECORD_RUN: &str = concat!(module_path!(), "::record_run");

/// Test unit: appends `TASK_ID PROCESS_ID` to the file `BPTL_TEST_EFFECTS` names (one line per
/// run: the side effect the crash tests count), sleeps `sleepMs` (default 0) and returns
/// `ran = true`.
#[register]
pub async fn record_run(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    use std::io::Write as _;
    let vars = task.get_variables()?;
    let sleep_ms: Option<i64> = optional_variable_as(&vars, "sleepMs")?;
    let path = std::env::var("BPTL_TEST_EFFECTS")
        .map_err(|_| UnitError::failure("BPTL_TEST_EFFECTS is not set"))?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(UnitError::other)?;
    // One write of one short line: appends from several processes do not interleave.
    file.write_all(format!("{} {}\n", task.task_id(), std::process::id()).as_bytes())
        .map_err(UnitError::other)?;
    file.sync_all().map_err(UnitError::other)?;
    if let Some(ms) = sleep_ms.filter(|ms| *ms > 0) {
        tokio::time::sleep(std::time::Duration::from_millis(ms.unsigned_abs())).await;
    }
    Ok(variables! { "ran": true })
}

#[test]
#[ignore = "not a test: the worker process the store tests start (store_worker::spawn)"]
fn worker_process() {
    let Ok(config) = std::env::var("BPTL_TEST_WORKER_CONFIG") else {
        return;
    };
    let _ = bptl::cli::run_cli(["worker", "run", "--config", config.as_str()]);
    std::process::exit(0);
}

/// What goes into a worker's configuration file.
pub struct WorkerConfig<'a> {
    /// The dev engine's URL.
    pub engine_url: &'a str,
    /// The worker id (also the config and log file name).
    pub worker_id: &'a str,
    /// The topic mapped to [`record_run`].
    pub topic: &'a str,
    /// The store URL.
    pub store_url: &'a str,
    /// `engine.max_tasks`.
    pub max_tasks: usize,
    /// `engine.lock_duration`: short, so that a killed worker's tasks come back quickly.
    pub lock_duration: &'a str,
}

/// Write the worker's configuration file `DIR/WORKER_ID.toml`.
pub fn write_config(dir: &Path, c: &WorkerConfig<'_>) -> PathBuf {
    let WorkerConfig {
        engine_url,
        worker_id,
        topic,
        store_url,
        max_tasks,
        lock_duration,
    } = *c;
    let name = worker_id;
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"[engine]
url = "{engine_url}"
worker_id = "{worker_id}"
max_tasks = {max_tasks}
lock_duration = "{lock_duration}"
async_response_timeout = "1s"
shutdown_grace = "1s"

[[task_mappings]]
topic = "{topic}"
callback = "{RECORD_RUN}"

[store]
enabled = true
url = "{store_url}"
"#
        ),
    )
    .unwrap();
    path
}

/// A running worker process; killed (SIGKILL) when dropped.
pub struct WorkerProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl WorkerProcess {
    /// Start the worker with `config`, its unit appending to `effects`; output goes to
    /// `DIR/NAME.log`.
    pub fn spawn(config: &Path, effects: &Path, name: &str) -> Self {
        let log = config.with_file_name(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "store_worker::worker_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("BPTL_TEST_WORKER_CONFIG", config)
            .env("BPTL_TEST_EFFECTS", effects)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Self { child, log }
    }

    /// SIGKILL: no shutdown, no flushing, no goodbye to the engine.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process's output so far (for failure messages).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panic with the output if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the worker exited ({status}):\n{}", self.output());
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The unit runs recorded in `effects`: task id → how many times.
pub fn runs(effects: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut runs = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(effects).unwrap_or_default().lines() {
        // `TASK_ID PROCESS_ID`: a task id may hold spaces (an HTTP call's `APP_ID KEY`).
        if let Some((id, _)) = line.rsplit_once(' ') {
            *runs.entry(id.to_owned()).or_default() += 1;
        }
    }
    runs
}
