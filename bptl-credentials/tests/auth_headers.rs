//! get_credentials: ZGW JWTs, API keys, bearer tokens, and app-over-service precedence.

use std::time::Duration;

use bptl_credentials::jwt::{JwtError, decode_hs256};
use bptl_credentials::{
    Application, Auth, CredentialStore, Credentials, CredentialsError, Service, ZgwClaims,
};

const SERVICE_SECRET: &str = "service-shared-secret-1234";
const APP_SECRET: &str = "app-shared-secret-5678";
const APP: &str = "https://app.example";

fn zgw_service(validity: Duration) -> Service {
    Service::new("zaken", "https://zaken.example/api/v1", "zrc")
        .expect("service")
        .auth(Auth::Zgw {
            user_id: "bptl-user".into(),
            user_representation: "BPTL".into(),
            jwt_validity: validity,
        })
        .credentials(Credentials::zgw("bptl", SERVICE_SECRET))
}

fn bearer_token(headers: &bptl_credentials::AuthHeaders) -> String {
    let value = headers
        .get("Authorization")
        .expect("an Authorization header")
        .to_str()
        .expect("ascii");
    value
        .strip_prefix("Bearer ")
        .expect("a bearer token")
        .to_owned()
}

fn verify(token: &str, secret: &str) -> ZgwClaims {
    decode_hs256::<ZgwClaims>(token, secret.as_bytes()).expect("a valid HS256 token")
}

#[tokio::test]
async fn zgw_jwt_is_hs256_with_exact_claims() {
    let store =
        CredentialStore::new([zgw_service(Duration::from_secs(12 * 3600))], []).expect("store");
    let before = jiff::Timestamp::now().as_second();
    let headers = store
        .credentials_for("https://unknown.example", "zaken")
        .await
        .expect("credentials");
    let after = jiff::Timestamp::now().as_second();
    let token = bearer_token(&headers);

    let header = token.split('.').next().expect("a header");
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
            .expect("base64url"),
    )
    .expect("a JSON header");
    assert_eq!(header["alg"], "HS256");
    let claims = verify(&token, SERVICE_SECRET);
    assert_eq!(claims.iss, "bptl");
    assert_eq!(claims.client_id, "bptl");
    assert_eq!(claims.user_id, "bptl-user");
    assert_eq!(claims.user_representation, "BPTL");
    assert!(claims.iat >= before && claims.iat <= after);
    assert_eq!(claims.exp, claims.iat + 12 * 3600);

    // Exactly these claims, nothing else.
    let payload: serde_json::Value =
        decode_hs256(&token, SERVICE_SECRET.as_bytes()).expect("decode");
    let mut keys: Vec<&str> = payload
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "client_id",
            "exp",
            "iat",
            "iss",
            "user_id",
            "user_representation"
        ]
    );

    // A token signed with another secret does not verify.
    let wrong = decode_hs256::<ZgwClaims>(&token, b"another secret");
    assert!(wrong.is_err());
}

#[tokio::test]
async fn zgw_tokens_are_cached_and_minted_again_before_expiry() {
    let store = CredentialStore::new([zgw_service(Duration::from_secs(2))], []).expect("store");
    let first = bearer_token(&store.credentials_for(APP, "zaken").await.expect("first"));
    let again = bearer_token(&store.credentials_for(APP, "zaken").await.expect("again"));
    assert_eq!(first, again, "a valid token is reused");
    // Validity 2 s, renewed 0.2 s before expiry: after 1.9 s a new token is minted.
    tokio::time::sleep(Duration::from_millis(1900)).await;
    let renewed = bearer_token(&store.credentials_for(APP, "zaken").await.expect("renewed"));
    assert_ne!(first, renewed);
    let (a, b) = (
        verify(&first, SERVICE_SECRET),
        verify(&renewed, SERVICE_SECRET),
    );
    assert!(b.iat > a.iat);
    assert_eq!(b.exp, b.iat + 2);
}

#[tokio::test]
async fn app_credentials_take_precedence_over_the_service_own() {
    let app = Application::new(APP).credentials(
        "zaken",
        Credentials::zgw("case-app", APP_SECRET).user_id("clerk-7"),
    );
    let store =
        CredentialStore::new([zgw_service(Duration::from_secs(3600))], [app]).expect("store");

    let token = bearer_token(&store.credentials_for(APP, "zaken").await.expect("app"));
    let claims = verify(&token, APP_SECRET);
    assert_eq!(claims.iss, "case-app");
    assert_eq!(claims.client_id, "case-app");
    assert_eq!(claims.user_id, "clerk-7", "the app overrides user_id");
    assert_eq!(
        claims.user_representation, "BPTL",
        "not overridden: the service's"
    );
    // Not signed with the service's secret: the app's credentials were not overridden.
    assert_eq!(
        decode_hs256::<ZgwClaims>(&token, SERVICE_SECRET.as_bytes()),
        Err(JwtError::Signature)
    );

    // Another application falls back to the service's own credentials.
    let other = bearer_token(
        &store
            .credentials_for("https://other.example", "zaken")
            .await
            .expect("other"),
    );
    assert_eq!(verify(&other, SERVICE_SECRET).iss, "bptl");
    assert_ne!(token, other, "tokens are cached per (app, service)");
}

#[tokio::test]
async fn api_keys_and_bearer_tokens() {
    let weather = Service::new("weather", "https://weather.example", "weather")
        .expect("service")
        .auth(Auth::ApiKey)
        .credentials(Credentials::api_key("X-Api-Key", "service-key"));
    let static_bearer = Service::new("static", "https://static.example", "orc")
        .expect("service")
        .auth(Auth::Bearer)
        .credentials(Credentials::bearer("static-token"));
    let open = Service::new("open", "https://open.example", "orc").expect("service");
    let app = Application::new(APP).credentials(
        "weather",
        Credentials::api_key("Authorization", "Token app-key"),
    );
    let store = CredentialStore::new([weather, static_bearer, open], [app]).expect("store");

    let all = store
        .get_credentials(APP, &["weather", "static", "open"])
        .await
        .expect("credentials");
    assert_eq!(all.len(), 3);
    let weather = &all["weather"];
    assert_eq!(weather.len(), 1);
    assert_eq!(
        weather.get("authorization").map(|v| v.to_str().ok()),
        Some(Some("Token app-key")),
        "the app's own header and value"
    );
    assert!(weather.get("x-api-key").is_none());
    assert!(
        weather
            .get("authorization")
            .is_some_and(|v| v.is_sensitive())
    );
    assert_eq!(
        all["static"].get("authorization").map(|v| v.to_str().ok()),
        Some(Some("Bearer static-token"))
    );
    assert!(all["open"].is_empty(), "no auth, no headers");

    let service_own = store
        .credentials_for("https://other.example", "weather")
        .await
        .expect("fallback");
    assert_eq!(
        service_own.get("X-API-KEY").map(|v| v.to_str().ok()),
        Some(Some("service-key"))
    );
}

#[tokio::test]
async fn missing_credentials_and_unknown_services_are_errors() {
    let zaken = Service::new("zaken", "https://zaken.example", "zrc")
        .expect("service")
        .auth(Auth::zgw());
    let app = Application::new(APP).credentials("zaken", Credentials::zgw("app", APP_SECRET));
    let store = CredentialStore::new([zaken], [app]).expect("store");
    assert!(store.credentials_for(APP, "zaken").await.is_ok());

    let err = store
        .credentials_for("https://stranger.example", "zaken")
        .await
        .expect_err("no credentials");
    assert!(matches!(err, CredentialsError::NoCredentials { .. }));
    assert_eq!(
        err.to_string(),
        "The application 'https://stranger.example' has no credentials for the service 'zaken', and the \
         service has none of its own: add [apps.\"https://stranger.example\".credentials.zaken] to the configuration."
    );
    let err = store
        .get_credentials(APP, &["zaken", "nope"])
        .await
        .expect_err("unknown service");
    assert_eq!(
        err.to_string(),
        "No service named 'nope' is configured: add [services.nope] to the configuration."
    );
}
