//! The TOML schema, secrets from env and files, and every configuration problem at once.

use std::time::Duration;

use bptl_credentials::{ApiType, Auth, CredentialStore, ServicesConfig};
use secrecy::ExposeSecret;

fn parse(text: &str) -> ServicesConfig {
    toml::from_str(text).expect("valid TOML for ServicesConfig")
}

fn env(name: &str) -> Option<String> {
    match name {
        "ZAKEN_SECRET" => Some("zaken-secret-from-env".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn problems(text: &str) -> Vec<String> {
    CredentialStore::from_config_with_env(parse(text), &env)
        .expect_err("problems")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn a_full_configuration() {
    let dir = std::env::temp_dir().join(format!("bptl-creds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("app-secret");
    std::fs::write(&file, "app-secret-from-file\n").expect("write secret file");
    let text = format!(
        r#"
        [services.zaken]
        label = "Zaken API"
        api_root = "https://zaken.example/api/v1"
        api_type = "zrc"
        timeout = "10s"
        auth = "zgw"
        client_id = "bptl"
        secret = {{ env = "ZAKEN_SECRET" }}
        user_id = "bptl"
        user_representation = "BPTL"
        jwt_validity = "1h"

        [services.weather]
        api_root = "https://weather.example/"
        api_type = "weather"
        auth = "api_key"
        header = "X-Api-Key"
        value = "weather-key"

        [services.objects]
        api_root = "https://objects.example/api/v2/"
        api_type = "objects"
        auth = "oauth2"
        token_url = "https://auth.example/token"
        scope = "objects.read"
        client_id = "bptl"
        secret = "objects-secret"

        [services.static]
        api_root = "https://static.example"
        api_type = "orc"
        auth = "bearer"
        token = "static-token"

        [services.open]
        api_root = "http://open.example/data"
        api_type = "drc"

        [apps."https://app.example"]
        label = "Case app"

        [apps."https://app.example".credentials.zaken]
        client_id = "case-app"
        secret = {{ file = "{}" }}
        "#,
        file.display()
    );
    let store = CredentialStore::from_config_with_env(parse(&text), &env).expect("a valid store");
    let zaken = store.service("zaken").expect("zaken");
    assert_eq!(zaken.display_label(), "Zaken API");
    assert_eq!(zaken.api_root().as_str(), "https://zaken.example/api/v1/");
    assert_eq!(zaken.api_type(), &ApiType::Zrc);
    assert_eq!(zaken.request_timeout(), Duration::from_secs(10));
    assert_eq!(
        zaken.auth_scheme(),
        &Auth::Zgw {
            user_id: "bptl".into(),
            user_representation: "BPTL".into(),
            jwt_validity: Duration::from_secs(3600)
        }
    );
    let own = zaken.own_credentials().expect("own credentials");
    assert_eq!(
        own.secret.as_ref().map(|s| s.expose_secret()),
        Some("zaken-secret-from-env")
    );
    let app = store.application("https://app.example").expect("app");
    assert_eq!(app.display_label(), "Case app");
    assert_eq!(
        app.credentials_for("zaken")
            .and_then(|c| c.secret.as_ref())
            .map(|s| s.expose_secret()),
        Some("app-secret-from-file"),
        "file content without its trailing newline"
    );
    let objects = store.service("objects").expect("objects");
    assert_eq!(objects.api_type().as_str(), "objects");
    assert_eq!(
        objects.request_timeout(),
        Duration::from_secs(30),
        "default"
    );
    assert!(
        matches!(objects.auth_scheme(), Auth::OAuth2 { scope: Some(s), .. } if s == "objects.read")
    );
    assert_eq!(
        store.service("open").expect("open").api_root().as_str(),
        "http://open.example/data/"
    );
    assert_eq!(store.services().count(), 5);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_keys_are_refused_naming_the_key() {
    let err = toml::from_str::<ServicesConfig>(
        r#"
        [services.zaken]
        api_root = "https://zaken.example"
        api_type = "zrc"
        secrett = "x"
        "#,
    )
    .expect_err("unknown key");
    let text = err.to_string();
    assert!(text.contains("unknown field `secrett`"), "{text}");
    assert!(text.contains("line 5"), "{text}");

    let err = toml::from_str::<ServicesConfig>(
        r#"
        [apps."https://app.example".credentials.zaken]
        client = "x"
        "#,
    )
    .expect_err("unknown key");
    assert!(err.to_string().contains("unknown field `client`"), "{err}");

    let err = toml::from_str::<ServicesConfig>(
        r#"
        [services.zaken]
        api_root = "https://zaken.example"
        api_type = "zrc"
        secret = { envv = "X" }
        "#,
    )
    .expect_err("unknown secret form");
    assert!(
        err.to_string()
            .contains("unknown field `envv`, expected `env` or `file`"),
        "{err}"
    );

    let err = toml::from_str::<ServicesConfig>(
        r#"
        [services.zaken]
        api_root = "https://zaken.example"
        api_type = "zrc"
        auth = "kerberos"
        "#,
    )
    .expect_err("unknown auth");
    assert!(
        err.to_string().contains("unknown variant `kerberos`"),
        "{err}"
    );
}

#[test]
fn the_service_sections_can_be_flattened_into_a_larger_config() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Worker {
        worker_id: String,
        #[serde(flatten)]
        services: ServicesConfig,
    }
    let worker: Worker = toml::from_str(
        r#"
        worker_id = "w1"
        [services.open]
        api_root = "https://open.example"
        api_type = "drc"
        "#,
    )
    .expect("flattened");
    assert_eq!(worker.services.services.len(), 1);
}

#[test]
fn unreadable_secrets_name_the_key_and_what_to_do() {
    let found = problems(
        r#"
        [services.zaken]
        api_root = "https://zaken.example"
        api_type = "zrc"
        auth = "zgw"
        client_id = "bptl"
        secret = { env = "NOT_SET_ANYWHERE" }

        [apps."https://app.example".credentials.zaken]
        client_id = "app"
        secret = { file = "/nonexistent/bptl/secret" }
        "#,
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(
        found[0],
        "services.zaken.secret: the environment variable NOT_SET_ANYWHERE is not set: set it for the \
         worker, or give the secret as { file = \"PATH\" }"
    );
    assert!(
        found[1].starts_with(
            "apps.\"https://app.example\".credentials.zaken.secret: cannot read the secret file /nonexistent/bptl/secret: "
        ),
        "{}",
        found[1]
    );
    assert!(found[1].ends_with("make sure it exists and the worker may read it"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = problems(
        r#"
        [services.bad_root]
        api_root = "not a url"
        api_type = "zrc"

        [services.bad_timeout]
        api_root = "https://x.example"
        api_type = "zrc"
        timeout = "soon"

        [services.empty_secret]
        api_root = "https://x.example"
        api_type = "zrc"
        auth = "zgw"
        client_id = "bptl"
        secret = { env = "EMPTY" }

        [services.half_key]
        api_root = "https://x.example"
        api_type = "orc"
        auth = "api_key"
        header = "X-Api-Key"

        [services.no_token_url]
        api_root = "https://x.example"
        api_type = "orc"
        auth = "oauth2"
        client_id = "a"
        secret = "b"

        [services.misplaced]
        api_root = "https://x.example"
        api_type = "orc"
        auth = "api_key"
        header = "X-Api-Key"
        value = "v"
        token_url = "https://auth.example/token"

        [services.none_with_creds]
        api_root = "https://x.example"
        api_type = "orc"
        client_id = "x"

        [services.zgw_nobody]
        api_root = "https://x.example"
        api_type = "zrc"
        auth = "zgw"

        [apps."https://app.example".credentials.ghost]
        client_id = "x"
        "#,
    );
    let expected = [
        "services.bad_root.api_root: 'not a url' is not a URL (relative URL without a base): write e.g. \"https://zaken.example/api/v1/\"",
        "services.bad_timeout.timeout: 'soon' is not a duration: write a number with a unit, e.g. \"500ms\", \"30s\", \"5m\", \"1h30m\" (units: ms, s, m, h, d)",
        "services.misplaced.token_url: 'token_url' does not apply to the service 'misplaced' with auth = \"api_key\": remove it or change auth",
        "services.no_token_url.token_url: the service 'no_token_url' uses auth = \"oauth2\" and needs token_url, the token endpoint: add token_url = \"https://...\"",
        "services.empty_secret: The credentials of the service 'empty_secret' need client_id and secret for auth = \"zgw\"; missing or empty: secret. An empty secret is refused: a token signed with an empty secret proves nothing.",
        "services.half_key: The credentials of the service 'half_key' need header and value for auth = \"api_key\"; missing or empty: value.",
        "services.none_with_creds: The credentials of the service 'none_with_creds' must be empty: the service uses no authentication (auth = \"none\") and takes no credentials, but client_id is set; remove it.",
        "apps.\"https://app.example\".credentials.ghost: the application 'https://app.example' has credentials for the service 'ghost', which is not configured: add [services.ghost] or remove them",
        "services.zgw_nobody: the service 'zgw_nobody' uses auth = \"zgw\" but has no credentials, and no application has credentials for it: add them to [services.zgw_nobody] or to [apps.\"APP_ID\".credentials.zgw_nobody]",
    ];
    for e in expected {
        assert!(
            found.iter().any(|f| f == e),
            "missing:\n{e}\nin:\n{found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

#[test]
fn app_credentials_are_validated_against_the_service_auth() {
    let found = problems(
        r#"
        [services.zaken]
        api_root = "https://zaken.example"
        api_type = "zrc"
        auth = "zgw"
        client_id = "bptl"
        secret = "s3cret-zaken"

        [services.open]
        api_root = "https://open.example"
        api_type = "drc"

        [services.weather]
        api_root = "https://weather.example"
        api_type = "weather"
        auth = "api_key"
        header = "X-Api-Key"
        value = "k"

        [services.objects]
        api_root = "https://objects.example"
        api_type = "objects"
        auth = "oauth2"
        token_url = "https://auth.example/token"
        client_id = "c"
        secret = "s"

        [apps."https://app.example".credentials.zaken]
        client_id = "app"
        secret = ""

        [apps."https://app.example".credentials.open]
        header = "X-Api-Key"
        value = "v"

        [apps."https://app.example".credentials.weather]
        header = "Bad Header"
        value = "v"
        scope = "x"

        [apps."https://app.example".credentials.objects]
        secret = "only-secret"
        "#,
    );
    let expected = [
        "apps.\"https://app.example\".credentials.zaken: The credentials of the application 'https://app.example' for the service 'zaken' need client_id and secret for auth = \"zgw\"; missing or empty: secret. An empty secret is refused: a token signed with an empty secret proves nothing.",
        "apps.\"https://app.example\".credentials.open: The credentials of the application 'https://app.example' for the service 'open' must be empty: the service uses no authentication (auth = \"none\") and takes no credentials, but header, value are set; remove them.",
        "apps.\"https://app.example\".credentials.weather: The credentials of the application 'https://app.example' for the service 'weather' set scope which do not apply to auth = \"api_key\"; remove it.",
        "apps.\"https://app.example\".credentials.weather: The credentials of the application 'https://app.example' for the service 'weather' have header = \"Bad Header\", which is not a valid HTTP header name.",
        "apps.\"https://app.example\".credentials.objects: The credentials of the application 'https://app.example' for the service 'objects' need client_id and secret for auth = \"oauth2\"; missing or empty: client_id.",
    ];
    for e in expected {
        assert!(
            found.iter().any(|f| f == e),
            "missing:\n{e}\nin:\n{found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}
