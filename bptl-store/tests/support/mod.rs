//! Test support: throw-away SQLite files and PostgreSQL databases.
//!
//! PostgreSQL tests use the server at `BPTL_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) when something answers there. Otherwise they
//! start a throw-away server of their own from the installed PostgreSQL binaries (`initdb`,
//! `pg_ctl`; as root they run as the `postgres` user, or `nobody`): one per user, in
//! `$TMPDIR/bptl-test-postgres-UID`, shared by the test processes that run meanwhile and later
//! ones, with TLS on (a self-signed certificate made with `openssl`). A watchdog stops it once no
//! test process has used it for 30 seconds.
//!
//! Each test creates a uniquely named database and drops it afterwards (also when the test
//! panics), so parallel tests and repeated runs never see each other's rows.
//!
//! The facade's store tests include this file too (`tests/support/store_support.rs`).
#![allow(dead_code, clippy::unwrap_used)]
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bptl_store::sqlx;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        nanos % 1_000_000_000
    )
}

/// The server's administrative URL: `BPTL_TEST_POSTGRES_URL` if something answers there, else a
/// throw-away server's (started on first use).
pub fn admin_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let configured = std::env::var("BPTL_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        if answers(&configured) {
            configured
        } else {
            throwaway_server(&configured)
        }
    })
    .clone()
}

/// Whether a TCP connection to the URL's host and port succeeds.
fn answers(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().unwrap_or(5432)),
        None => (host_port, 5432),
    };
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    let Ok(addrs) = std::net::ToSocketAddrs::to_socket_addrs(&(host, port)) else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

/// The directory holding the PostgreSQL server binaries.
fn postgres_bindir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The user the server runs as when this process is root (initdb refuses to run as root).
fn server_user() -> &'static str {
    let exists = |user: &str| {
        Command::new("id")
            .arg(user)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if exists("postgres") {
        "postgres"
    } else {
        "nobody"
    }
}

/// `program args...`, as the server user when root; panics with its output when it fails.
fn run_as_server(root: bool, program: &Path, args: &[&str]) {
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", server_user(), "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = command
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Start (or reuse) this user's throw-away server; returns its administrative URL.
fn throwaway_server(configured: &str) -> String {
    let Some(bin) = postgres_bindir() else {
        panic!(
            "these tests need PostgreSQL: nothing answers at {configured} (set BPTL_TEST_POSTGRES_URL \
             to a server), and no PostgreSQL server binaries (initdb, pg_ctl) were found to start \
             one; install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install \
             postgresql-server; macOS: brew install postgresql)"
        )
    };
    let root = is_root();
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("bptl-test-postgres-{uid}"));
    std::fs::create_dir_all(dir.join("users")).unwrap();
    // One process at a time sets the server up.
    let lock = std::fs::File::create(dir.join("lock")).unwrap();
    lock.lock().unwrap();
    // Register this process as a user of the server (the watchdog checks it is alive).
    std::fs::write(dir.join("users").join(std::process::id().to_string()), b"").unwrap();
    let port_file = dir.join("port");
    if let Ok(port) = std::fs::read_to_string(&port_file) {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", port.trim());
        if answers(&url) {
            return url;
        }
    }
    let data = dir.join("data");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    if root {
        let owner = format!("{0}:", server_user());
        let status = Command::new("chown")
            .args(["-R", &owner])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "chown {owner} {} failed", dir.display());
    }
    let data_arg = data.display().to_string();
    run_as_server(
        root,
        &bin.join("initdb"),
        &[
            "-D",
            &data_arg,
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
    );
    let tls = make_certificate(root, &data);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .unwrap();
    writeln!(
        conf,
        "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
         fsync = off\nmax_connections = 200\nssl = {}",
        dir.display(),
        if tls { "on" } else { "off" }
    )
    .unwrap();
    drop(conf);
    let log = dir.join("server.log").display().to_string();
    run_as_server(
        root,
        &bin.join("pg_ctl"),
        &["-D", &data_arg, "-l", &log, "-w", "-t", "60", "start"],
    );
    std::fs::write(&port_file, port.to_string()).unwrap();
    start_watchdog(root, &bin, &dir);
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

/// A self-signed certificate for the server (`server.crt`, `server.key` in the data directory),
/// if `openssl` is installed.
fn make_certificate(root: bool, data: &Path) -> bool {
    let (crt, key) = (data.join("server.crt"), data.join("server.key"));
    let made = Command::new("openssl")
        .args(["req", "-new", "-x509", "-days", "3650", "-nodes", "-subj"])
        .arg("/CN=localhost")
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-out")
        .arg(&crt)
        .arg("-keyout")
        .arg(&key)
        .output()
        .is_ok_and(|o| o.status.success());
    if !made {
        return false;
    }
    if root {
        let _ = Command::new("chown")
            .arg(format!("{0}:", server_user()))
            .arg(&crt)
            .arg(&key)
            .status();
    }
    let _ = Command::new("chmod").arg("600").arg(&key).status();
    true
}

/// A detached shell loop that stops the server once no registered test process is alive (for
/// 30 seconds), then removes the port file.
fn start_watchdog(root: bool, bin: &Path, dir: &Path) {
    let stop = if root {
        format!(
            "runuser -u {} -- {}/pg_ctl -D {}/data -m fast stop",
            server_user(),
            bin.display(),
            dir.display()
        )
    } else {
        format!(
            "{}/pg_ctl -D {}/data -m fast stop",
            bin.display(),
            dir.display()
        )
    };
    let script = format!(
        "cd '{dir}'; idle=0; while [ $idle -lt 30 ]; do sleep 1; alive=0; \
         for f in users/*; do [ -e \"$f\" ] || continue; \
         if kill -0 \"${{f#users/}}\" 2>/dev/null; then alive=1; else rm -f \"$f\"; fi; done; \
         if [ $alive = 1 ]; then idle=0; else idle=$((idle+1)); fi; done; \
         exec 9>lock; flock 9; ls users/* >/dev/null 2>&1 && exit 0; rm -f port; {stop} >/dev/null 2>&1",
        dir = dir.display()
    );
    // `setsid -f`: the loop runs in a session of its own and outlives this process.
    let status = Command::new("setsid")
        .args(["-f", "sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "cannot start the test server's watchdog");
}

/// A fresh, empty database on the test server, dropped when this value is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        use sqlx::Connection as _;
        let admin = admin_url();
        let name = unique("bptl_test");
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "these tests need PostgreSQL at {} (set BPTL_TEST_POSTGRES_URL to another server): {e}",
                bptl_store::redact_url(&admin)
            )
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let (base, query) = match admin.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin.as_str(), String::new()),
        };
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
        let url = format!("{base}/{name}{query}");
        Self { name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside a test's runtime: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection as _;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// A fresh directory under the system's temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(unique("bptl-store-test"));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// `sqlite://DIR/NAME`.
    pub fn sqlite_url(&self, name: &str) -> String {
        format!("sqlite://{}", self.0.join(name).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
