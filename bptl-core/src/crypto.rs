//! The process's rustls crypto provider: one helper every HTTP client of bptl calls before it
//! is built.
//!
//! `reqwest` is built with rustls but without a default provider (bptl uses _ring_, the
//! provider sqlx's PostgreSQL TLS uses too); building a `reqwest` client before a provider is
//! installed panics. The engine client (`bptl-camunda`), the service and OAuth2 clients
//! (`bptl-credentials`) and the callback sender all call [`install_crypto_provider`] first, so
//! no caller can hit that panic, whichever of their `tls` features a build enables: each
//! crate's `tls` feature enables this crate's `tls` feature, and features are unified, so the
//! helper installs the provider whenever any of them compiled rustls into `reqwest`.

/// Make rustls' _ring_ provider the process's default, unless one is installed already
/// (feature `tls`; without it there is no TLS and nothing to do). Idempotent and safe to call
/// from many threads at once.
///
/// bptl's own clients call this before they are built; call it yourself before building a
/// `reqwest` client of your own ahead of bptl's.
///
/// ```
/// bptl_core::install_crypto_provider();
/// bptl_core::install_crypto_provider(); // a second call changes nothing
/// ```
pub fn install_crypto_provider() {
    #[cfg(feature = "tls")]
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may win the race; its provider is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
