//! The workers the benchmark compares, each started as its own OS process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Lock duration and long-poll timeout of every peer.
const LOCK_MS: u64 = 60_000;
const ASYNC_RESPONSE_MS: u64 = 10_000;

/// Where the peers' programs are.
#[derive(Debug, Clone)]
pub(crate) struct Programs {
    /// The bptl CLI (`examples/worker`, release).
    pub(crate) worker: PathBuf,
    /// `bench/js-worker.js`, beside a `node_modules` with the JS client.
    pub(crate) js: Option<PathBuf>,
    /// The Java worker's class path (`bench/java-worker`).
    pub(crate) java_cp: Option<String>,
}

/// One worker configuration, by name:
///
/// * `bptl-sqlite`, `bptl-sqlite-blocking`: `worker run --config` with the default store
///   (SQLite, `bptl.db` in a fresh directory), `bptl_dummy::noop` or `noop_blocking`;
/// * `bptl`, `bptl-blocking`: the same with `[store] enabled = false`;
/// * `js`: camunda-external-task-client-js 3.1.0, `interval: 0`,
///   `maxTasks = maxParallelExecutions = 64`;
/// * `java`: Camunda's Java client 7.24.0, `maxTasks(64)`, backoff disabled, the handler on
///   the client's thread (its documented model; right for a no-op); `java-pool`: the handler
///   hands tasks to 64 threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peer {
    Bptl { store: bool, blocking: bool },
    Js,
    Java { pool: bool },
}

impl Peer {
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "bptl" => Peer::Bptl {
                store: false,
                blocking: false,
            },
            "bptl-blocking" => Peer::Bptl {
                store: false,
                blocking: true,
            },
            "bptl-sqlite" => Peer::Bptl {
                store: true,
                blocking: false,
            },
            "bptl-sqlite-blocking" => Peer::Bptl {
                store: true,
                blocking: true,
            },
            "js" => Peer::Js,
            "java" => Peer::Java { pool: false },
            "java-pool" => Peer::Java { pool: true },
            other => {
                return Err(format!(
                    "unknown peer {other}: use bptl, bptl-blocking, bptl-sqlite, \
                     bptl-sqlite-blocking, js, java or java-pool"
                ));
            }
        })
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Peer::Bptl {
                store: false,
                blocking: false,
            } => "bptl",
            Peer::Bptl {
                store: false,
                blocking: true,
            } => "bptl-blocking",
            Peer::Bptl {
                store: true,
                blocking: false,
            } => "bptl-sqlite",
            Peer::Bptl {
                store: true,
                blocking: true,
            } => "bptl-sqlite-blocking",
            Peer::Js => "js",
            Peer::Java { pool: false } => "java",
            Peer::Java { pool: true } => "java-pool",
        }
    }

    /// Starts the peer against `url` on `topic`, fetching `max_tasks` at most, in `dir` (its
    /// working directory, configuration and log).
    pub(crate) fn start(
        &self,
        programs: &Programs,
        url: &str,
        topic: &str,
        max_tasks: usize,
        dir: &Path,
    ) -> Result<Child, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let log = std::fs::File::create(dir.join("worker.log"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = match self {
            Peer::Bptl { store, blocking } => {
                let unit = if *blocking { "noop_blocking" } else { "noop" };
                // The store as users get it: the default (SQLite, bptl.db in the working
                // directory) unless switched off.
                let store = if *store {
                    ""
                } else {
                    "\n[store]\nenabled = false\n"
                };
                let config = format!(
                    "[engine]\nurl = \"{url}\"\nmax_tasks = {max_tasks}\n\
                     lock_duration = \"{LOCK_MS}ms\"\nasync_response_timeout = \"{ASYNC_RESPONSE_MS}ms\"\n\
                     use_priority = false\n\n[[task_mappings]]\ntopic = \"{topic}\"\n\
                     callback = \"bptl_dummy::{unit}\"\n{store}"
                );
                let file = dir.join("worker.toml");
                std::fs::write(&file, config).map_err(|e| format!("{}: {e}", file.display()))?;
                let mut c = Command::new(&programs.worker);
                c.arg("run").arg("--config").arg(&file);
                c
            }
            Peer::Js => {
                let js = programs.js.as_ref().ok_or("the js peer needs --js FILE")?;
                let mut c = Command::new("node");
                // TASKS 0: run until killed; INTERVAL 0.
                c.arg(js)
                    .args([url, "0", &max_tasks.to_string(), topic, "0"]);
                c
            }
            Peer::Java { pool } => {
                let cp = programs
                    .java_cp
                    .as_ref()
                    .ok_or("the java peers need --java-cp CP")?;
                let java = std::env::var("JAVA_HOME").map_or_else(
                    |_| PathBuf::from("java"),
                    |h| Path::new(&h).join("bin/java"),
                );
                let mut c = Command::new(java);
                c.arg("-cp").arg(cp).arg("bench.Worker").args([
                    url,
                    topic,
                    if *pool { "pool" } else { "client" },
                    &max_tasks.to_string(),
                    &LOCK_MS.to_string(),
                    &ASYNC_RESPONSE_MS.to_string(),
                ]);
                c
            }
        };
        command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.name()))
    }
}
