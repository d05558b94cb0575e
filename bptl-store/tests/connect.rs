//! `connect` picks the store by URL, and its errors name the URL (never a password) and say
//! what to do.
#![allow(clippy::unwrap_used)]

mod support;

use bptl_core::store::TaskFilter;

#[tokio::test]
async fn unknown_schemes_are_refused_with_the_accepted_forms() {
    for url in ["bptl.db", "mysql://root:hunter2@db/bptl", "sqlite3://x.db"] {
        let err = bptl_store::connect(url).await.err().unwrap();
        let text = err.to_string();
        assert!(
            matches!(err, bptl_store::ConnectError::UnsupportedScheme { .. }),
            "{text}"
        );
        assert!(text.contains("use sqlite://PATH"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_named_without_its_password() {
    // Port 1 on localhost refuses connections at once.
    let err = bptl_store::connect("postgres://bptl:s3cret-pw@127.0.0.1:1/bptl?password=s3cret-pw")
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        matches!(err, bptl_store::ConnectError::Open { .. }),
        "{text}"
    );
    assert!(
        text.contains("postgres://bptl:***@127.0.0.1:1/bptl?password=***"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    assert!(
        text.contains("check that the PostgreSQL server runs"),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_postgres_database_says_to_create_it() {
    let base = support::admin_url();
    let base = base.rsplit_once('/').unwrap().0;
    let err = bptl_store::connect(&format!("{base}/bptl_no_such_database"))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("bptl_no_such_database"), "{err}");
    assert!(err.contains("CREATE DATABASE"), "{err}");
}

#[tokio::test]
async fn a_sqlite_file_in_a_missing_directory_says_what_to_check() {
    let dir = support::TempDir::new();
    let url = format!("sqlite://{}/no/such/dir/bptl.db", dir.0.display());
    let err = bptl_store::connect(&url).await.err().unwrap().to_string();
    assert!(err.contains(&url), "{err}");
    assert!(err.contains("check that the directory exists"), "{err}");
}

#[tokio::test]
async fn every_accepted_form_opens_a_working_store() {
    let dir = support::TempDir::new();
    let db = support::TestDatabase::create().await;
    let postgresql = db.url.replacen("postgres://", "postgresql://", 1);
    for url in [
        "sqlite::memory:".to_owned(),
        dir.sqlite_url("a.db"),
        format!("sqlite:{}", dir.0.join("b.db").display()),
        db.url.clone(),
        postgresql,
    ] {
        let store = bptl_store::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(
            store.list(&TaskFilter::default()).await.unwrap().is_empty(),
            "{url}"
        );
    }
    assert!(dir.0.join("a.db").exists() && dir.0.join("b.db").exists());
}

#[tokio::test]
async fn postgres_over_tls_when_the_url_asks_for_it() {
    use bptl_core::store::TaskStore as _;
    use sqlx::Row as _;
    let db = support::TestDatabase::create().await;
    let sep = if db.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}sslmode=require", db.url);
    let store = bptl_store::PostgresStore::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let row = sqlx::query("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(row.get::<bool, _>("ssl"), "the connection is encrypted");
    let version: Option<String> = row.get("version");
    assert!(version.is_some_and(|v| v.starts_with("TLS")));
    store
        .save(&bptl_core::store::TaskRecord::from_task(
            &bptl_core::InMemoryTask::new("tls", bptl_core::variables! {}),
            "w",
        ))
        .await
        .unwrap();
    store.close().await;

    // verify-full checks the certificate: the test server's is self-signed.
    let err = bptl_store::connect(&format!("{}{sep}sslmode=verify-full", db.url))
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        matches!(err, bptl_store::ConnectError::Open { .. }),
        "{text}"
    );
    assert!(text.contains("certificate"), "{text}");
    assert!(text.contains("sslrootcert"), "{text}");
}
