//! Mail servers in the configuration: `api_type = "smtp"` with a `[services.NAME.smtp]` table,
//! secrets resolved and never shown, and every problem named by its key.

use std::time::Duration;

use bptl_credentials::{ApiType, CredentialStore, ExposeSecret, ServicesConfig, SmtpSecurity};

fn env(name: &str) -> Option<String> {
    (name == "SMTP_PASSWORD").then(|| "pw-from-env".to_owned())
}

fn load(text: &str) -> Result<CredentialStore, Vec<String>> {
    let config: ServicesConfig = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
    CredentialStore::from_config_with_env(config, &env)
        .map_err(|p| p.iter().map(ToString::to_string).collect())
}

#[test]
fn a_mail_server_with_login_and_ca_file() {
    let dir = std::env::temp_dir().join(format!("bptl-smtp-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = dir.join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .expect("ca file");
    let store = load(&format!(
        r#"
        [services.mail]
        label = "Mail"
        api_type = "smtp"
        timeout = "20s"
        [services.mail.smtp]
        host = "smtp.example.org"
        security = "tls"
        username = "bptl"
        password = {{ env = "SMTP_PASSWORD" }}
        from = "BPTL <bptl@example.org>"
        ca_file = {ca:?}

        [services.relay]
        api_type = "smtp"
        smtp = {{ host = "relay.local", port = 2525, security = "none", from = "bptl@local" }}
        "#
    ))
    .expect("valid");
    let mail = store.service("mail").expect("mail");
    assert_eq!(mail.api_type(), &ApiType::from("smtp"));
    assert_eq!(mail.api_root().as_str(), "smtp://smtp.example.org:465/");
    assert_eq!(mail.request_timeout(), Duration::from_secs(20));
    assert_eq!(mail.display_label(), "Mail");
    let server = mail.smtp_server().expect("a mail server");
    assert_eq!(server.security(), SmtpSecurity::Tls);
    assert_eq!(server.port(), 465);
    assert_eq!(server.from(), "BPTL <bptl@example.org>");
    let (user, password) = server.login().expect("login");
    assert_eq!(user.expose_secret(), "bptl");
    assert_eq!(password.expose_secret(), "pw-from-env");
    let (path, pem) = server.ca_file().expect("ca file");
    assert_eq!(path, ca.as_path());
    assert!(pem.starts_with(b"-----BEGIN CERTIFICATE-----"));
    let shown = format!("{mail:?} {server:?}");
    assert!(
        !shown.contains("pw-from-env") && !shown.contains("\"bptl\""),
        "{shown}"
    );

    let relay = store.service("relay").expect("relay");
    let server = relay.smtp_server().expect("a mail server");
    assert_eq!((server.host(), server.port()), ("relay.local", 2525));
    assert_eq!(server.security(), SmtpSecurity::None);
    assert!(server.login().is_none());
    // An HTTP service has no mail server.
    let store =
        load("[services.api]\napi_root = \"https://api.example/\"\napi_type = \"orders\"\n")
            .expect("valid");
    assert!(store.service("api").expect("api").smtp_server().is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_problem_is_named_by_its_key() {
    let problems = load(
        r#"
        [services.a]
        api_type = "smtp"

        [services.b]
        api_type = "orders"
        smtp = { host = "smtp.example", from = "x@example.org" }

        [services.c]
        api_type = "smtp"
        api_root = "https://mail.example/"
        auth = "bearer"
        token = "t0ken-value"
        smtp = { host = "", from = "no address", username = "u" }

        [services.d]
        api_type = "smtp"
        smtp = { host = "smtp.example", from = "x@example.org", username = "u", password = { env = "UNSET_PW" }, ca_file = "/nonexistent/ca.pem" }

        [services.e]
        api_type = "orders"
        "#,
    )
    .expect_err("problems");
    let all = problems.join("\n");
    for expected in [
        "services.a.smtp: the service 'a' has api_type = \"smtp\" and needs its server",
        "services.b.api_type: the service 'b' has an smtp table, so its api_type must be \"smtp\"",
        "services.c.api_root: 'api_root' does not apply to the mail server 'c'",
        "services.c.auth: 'auth' does not apply",
        "services.c.token: 'token' does not apply",
        "services.c.smtp.host: \"\" is not a host name",
        "services.c.smtp.from: \"no address\" is not a mail address",
        "services.c.smtp: username and password go together",
        "services.d.smtp.password: the environment variable UNSET_PW is not set",
        "services.d.smtp.ca_file: cannot read /nonexistent/ca.pem",
        "services.e.api_root: the service 'e' needs its API root",
    ] {
        assert!(all.contains(expected), "{expected:?} not in:\n{all}");
    }
    assert!(!all.contains("t0ken-value"), "{all}");

    // A security the server cannot have is refused by the schema.
    let problems = load(
        "[services.m]\napi_type = \"smtp\"\nsmtp = { host = \"h\", from = \"a@b\", security = \"ssl\" }\n",
    )
    .expect_err("bad security");
    assert!(
        problems[0].contains("unknown variant `ssl`") && problems[0].contains("starttls"),
        "{problems:?}"
    );
}
