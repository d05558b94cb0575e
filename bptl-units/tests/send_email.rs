//! `send_email` end to end against a real SMTP server started here: Python's `aiosmtpd`
//! (`tests/smtp_server.py`) with STARTTLS (a certificate of a test CA made with `rcgen`) and
//! AUTH, which reports every message it received. Without `aiosmtpd` the tests say so and
//! pass, except under `CI`, where they fail.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use bptl::FileValue;
use bptl::Registry;
use bptl::prelude::*;
use bptl::testing::{ServiceSpec, UnitTest};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use serde_json::{Value as Json, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use bptl_units as _;

const UNIT: &str = "bptl_units::send_email";
const USER: &str = "bptl-mailer";
const PASSWORD: &str = "s3cret-Pa55word";

/// Test certificates in a directory of their own: the CA (what `ca_file` trusts) and the
/// server's certificate for 127.0.0.1, signed by it.
struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "bptl-send-email-{}-{:x}",
            std::process::id(),
            rand_part()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
            .expect("ca");
        let server_key = KeyPair::generate().expect("server key");
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("server params")
            .signed_by(&server_key, &ca)
            .expect("server certificate");
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("ca.pem");
        std::fs::write(dir.join("server.pem"), server.pem()).expect("server.pem");
        std::fs::write(dir.join("server.key"), server_key.serialize_pem()).expect("server.key");
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rand_part() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

/// The SMTP server, reporting what it received.
struct SmtpServer {
    port: u16,
    certificates: Certificates,
    _child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl SmtpServer {
    /// Start it (STARTTLS), or `None` (after saying why) when `aiosmtpd` is not installed;
    /// under `CI` that is a failure.
    async fn start() -> Option<SmtpServer> {
        Self::start_in("starttls").await
    }

    /// Start it in `mode`: `starttls`, or `tls` (TLS from the first byte).
    async fn start_in(mode: &str) -> Option<SmtpServer> {
        let found = std::process::Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            let message = "send_email: the SMTP tests need Python's aiosmtpd: \
                           pip install aiosmtpd (python3 -c 'import aiosmtpd' failed)";
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("{message}; not run");
            return None;
        }
        let certificates = Certificates::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(certificates.path("server.pem"))
            .arg(certificates.path("server.key"))
            .args([USER, PASSWORD, mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut server = SmtpServer {
            port,
            certificates,
            _child: child,
            lines: BufReader::new(stdout).lines(),
        };
        let ready = server
            .next(Duration::from_secs(20))
            .await
            .expect("the SMTP server says it is ready");
        assert_eq!(ready["ready"], json!(port), "{ready}");
        Some(server)
    }

    /// The next line it printed, within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Json> {
        let line = tokio::time::timeout(wait, self.lines.next_line())
            .await
            .ok()?
            .expect("read the server's output")?;
        Some(serde_json::from_str(&line).expect("a JSON line"))
    }

    /// The next message it received.
    async fn received(&mut self) -> Json {
        self.next(Duration::from_secs(10))
            .await
            .expect("the server received a message")
    }

    /// The `smtp` table for this server, with this password and the test CA trusted.
    fn table(&self, password: &str) -> Json {
        json!({
            "host": "127.0.0.1",
            "port": self.port,
            "security": "starttls",
            "username": USER,
            "password": password,
            "from": "BPTL <bptl@example.org>",
            "ca_file": self.certificates.path("ca.pem"),
        })
    }

    fn unit(&self, table: Json) -> UnitTest {
        UnitTest::new(UNIT).service("smtp", ServiceSpec::smtp(table).name("mail"))
    }
}

fn invoice() -> Value {
    Value::File(FileValue {
        filename: "invoice-17.pdf".into(),
        mime_type: Some("application/pdf".into()),
        encoding: None,
        content: Some(b"%PDF-1.7 invoice 17 \x00\xff".to_vec()),
    })
}

#[test]
fn documented_with_its_variables_and_service() {
    let entry = Registry::global()
        .expect("registry")
        .get(UNIT)
        .expect("send_email is registered as bptl_units::send_email");
    assert_eq!(entry.required_services.len(), 1);
    assert_eq!(entry.required_services[0].alias, Some("smtp"));
    assert_eq!(entry.required_services[0].service_type, "smtp");
    for part in [
        "**Required process variables**",
        "**Optional process variables**",
        "**Sets the process variables**",
        "* `to`",
        "* `cc`",
        "* `subject`",
        "* `text`",
        "* `html`",
        "* `attachments`",
        "* `messageId`",
    ] {
        assert!(
            entry.doc.contains(part),
            "{part} missing from:\n{}",
            entry.doc
        );
    }
}

#[tokio::test]
async fn sends_text_html_and_an_attachment_over_starttls_with_login() {
    let Some(mut server) = SmtpServer::start().await else {
        return;
    };
    let run = server
        .unit(server.table(PASSWORD))
        .variables(variables! {
            "to": json!(["Alice Example <alice@example.org>", "bob@example.org"]),
            "cc": "carol@example.org",
            "subject": "Order {{ order.id }} confirmed",
            "text": "Dear {{ name }},\n\nyour order {{ order.id }} has {{ order.lines | length }} lines.",
            "html": "<p>Dear {{ name }},</p><p>order <b>{{ order.id }}</b></p>",
            "attachments": json!(["invoice"]),
            "name": "Ann <& Co>",
            "order": json!({"id": "A-17", "lines": [1, 2, 3]}),
            "invoice": invoice(),
        })
        .run()
        .await;
    let vars = run.assert_completed().clone();
    let got = server.received().await;
    assert_eq!(
        got["tls"],
        json!(true),
        "STARTTLS before the message: {got}"
    );
    assert_eq!(got["authenticated"], json!(true), "{got}");
    assert_eq!(got["mail_from"], json!("bptl@example.org"));
    let mut recipients: Vec<&str> = got["rcpt_tos"]
        .as_array()
        .expect("recipients")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    recipients.sort_unstable();
    assert_eq!(
        recipients,
        ["alice@example.org", "bob@example.org", "carol@example.org"]
    );
    assert_eq!(got["subject"], json!("Order A-17 confirmed"));
    assert_eq!(got["from"], json!("BPTL <bptl@example.org>"));
    assert!(
        got["to"]
            .as_str()
            .is_some_and(|to| to.contains("Alice Example <alice@example.org>")),
        "{got}"
    );
    assert_eq!(got["cc"], json!("carol@example.org"));
    assert_eq!(
        got["text"].as_str().map(str::trim_end),
        Some("Dear Ann <& Co>,\n\nyour order A-17 has 3 lines.")
    );
    // The HTML part is escaped, the text part is not.
    assert_eq!(
        got["html"].as_str().map(str::trim_end),
        Some("<p>Dear Ann &lt;&amp; Co&gt;,</p><p>order <b>A-17</b></p>")
    );
    let attachments = got["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1, "{got}");
    assert_eq!(attachments[0]["filename"], json!("invoice-17.pdf"));
    assert_eq!(attachments[0]["content_type"], json!("application/pdf"));
    let content = base64::engine::general_purpose::STANDARD
        .decode(attachments[0]["content"].as_str().expect("content"))
        .expect("base64");
    assert_eq!(content, b"%PDF-1.7 invoice 17 \x00\xff");
    // messageId is the message's Message-ID.
    let id = vars
        .get("messageId")
        .and_then(Value::as_str)
        .expect("messageId");
    assert_eq!(got["message_id"], json!(id));
    assert!(id.ends_with("@example.org>"), "{id}");
    assert!(
        run.timeline()
            .iter()
            .any(|e| e.message.contains("sent the message") && e.message.contains(id)),
        "{:?}",
        run.timeline()
    );
}

#[tokio::test]
async fn sends_over_tls_from_the_first_byte_with_login() {
    let Some(mut server) = SmtpServer::start_in("tls").await else {
        return;
    };
    let mut table = server.table(PASSWORD);
    table["security"] = json!("tls");
    let run = server
        .unit(table)
        .variables(variables! {
            "to": "alice@example.org", "subject": "Order {{ id }}", "text": "order {{ id }}",
            "id": "A-18",
        })
        .run()
        .await;
    run.assert_completed();
    let got = server.received().await;
    assert_eq!(got["tls"], json!(true), "{got}");
    assert_eq!(got["authenticated"], json!(true), "{got}");
    assert_eq!(got["rcpt_tos"], json!(["alice@example.org"]));
    assert_eq!(got["subject"], json!("Order A-18"));
    assert_eq!(got["text"].as_str().map(str::trim_end), Some("order A-18"));
}

#[tokio::test]
async fn a_wrong_password_fails_naming_the_service_and_not_the_secret() {
    let Some(mut server) = SmtpServer::start().await else {
        return;
    };
    let wrong = "Wr0ng-pa55word-XYZ";
    let run = server
        .unit(server.table(wrong))
        .variables(variables! {
            "to": "alice@example.org", "subject": "hi", "text": "hello",
        })
        .run()
        .await;
    let failure = run.assert_failure();
    let message = &failure.error_message;
    assert!(
        message.contains("the mail server of the service 'mail'")
            && message.contains("refused the login")
            && message.contains("535")
            && message.contains("services.mail.smtp.username and password"),
        "{message}"
    );
    let everything = format!("{failure:?} {:?} {:?}", run.timeline(), run.record());
    for secret in [wrong, PASSWORD, USER] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked: {everything}"
        );
    }
    assert!(
        server.next(Duration::from_millis(500)).await.is_none(),
        "nothing was delivered"
    );
}

#[tokio::test]
async fn a_server_certificate_of_an_untrusted_ca_is_refused() {
    let Some(mut server) = SmtpServer::start().await else {
        return;
    };
    let mut table = server.table(PASSWORD);
    table.as_object_mut().expect("table").remove("ca_file");
    let run = server
        .unit(table)
        .variables(variables! { "to": "alice@example.org", "subject": "hi", "text": "hello" })
        .run()
        .await;
    let message = &run.assert_failure().error_message;
    assert!(
        message.contains("TLS with the mail server of the service 'mail'")
            && message.contains("ca_file"),
        "{message}"
    );
    assert!(server.next(Duration::from_millis(500)).await.is_none());
}

#[tokio::test]
async fn bad_variables_fail_naming_the_variable_and_send_nothing() {
    let Some(mut server) = SmtpServer::start().await else {
        return;
    };
    let base = || variables! { "to": "alice@example.org", "subject": "hi", "text": "hello" };
    let with = |name: &str, value: Value| {
        let mut vars = base();
        vars.insert(name, value);
        vars
    };
    let without = |name: &str| {
        let mut vars = base();
        vars.remove(name);
        vars
    };
    let cases: Vec<(Variables, &[&str])> = vec![
        (without("to"), &["The variable to is missing"]),
        (without("subject"), &["The variable subject is missing"]),
        (
            with("to", Value::from("not an address")),
            &["The variable to must be a mail address", "not an address"],
        ),
        (with("cc", Value::from(3)), &["The variable cc must be"]),
        (without("text"), &["needs a body", "text", "html"]),
        (
            with("text", Value::from("Dear {{ nmae }}")),
            &[
                "the template in the variable text cannot be rendered",
                "undefined",
            ],
        ),
        (
            with("html", Value::from("<p>{% if %}</p>")),
            &["the template in the variable html cannot be rendered"],
        ),
        (
            with("attachments", Value::Json(json!(["subject"]))),
            &["The variable subject must be a File"],
        ),
        (
            with("attachments", Value::Json(json!(["missing"]))),
            &["attachments names the variable 'missing'"],
        ),
        (
            with("attachments", Value::from(7)),
            &["The variable attachments must be a list of names"],
        ),
    ];
    for (vars, expected) in cases {
        let run = server
            .unit(server.table(PASSWORD))
            .variables(vars)
            .run()
            .await;
        let message = &run.assert_failure().error_message;
        for part in expected {
            assert!(message.contains(part), "{part:?} not in: {message}");
        }
    }
    assert!(
        server.next(Duration::from_millis(500)).await.is_none(),
        "nothing was delivered"
    );
}
