//! TLS of bptl's HTTP clients: the crypto provider every client needs, and per connection a
//! custom CA bundle (`ca_file`) and a client certificate for mutual TLS (`client_cert`,
//! `client_key`).
//!
//! With the `tls` feature (on by default) clients speak HTTPS with rustls and its _ring_
//! provider, verifying servers against the system's trust store (`/etc/ssl/certs` on Linux).
//! A `ca_file` is **added** to those roots: a server whose certificate chains to one of its
//! certificates, or to a system root, is trusted.

use std::fmt;
#[cfg(feature = "tls")]
use std::path::Path;
use std::path::PathBuf;

use crate::config::ConfigProblem;
use crate::secret::SecretConfig;

/// Make rustls' _ring_ provider the process's default, unless one is installed already: the
/// one helper of `bptl-core`, which bptl calls before it builds a client ([`client_builder`]).
/// Call it yourself before building a `reqwest` client of your own ahead of bptl's (`reqwest`
/// panics without a provider). Does nothing without the `tls` feature.
///
/// ```
/// bptl_credentials::install_crypto_provider();
/// let client = bptl_credentials::reqwest::Client::new();
/// # drop(client);
/// ```
#[doc(inline)]
pub use bptl_core::install_crypto_provider;

/// A `reqwest` client builder with the crypto provider installed
/// ([`install_crypto_provider`]).
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// The TLS keys of one connection as written in the configuration (a `[services.NAME]`
/// section, or `[engine]`).
///
/// ```toml
/// ca_file = "/etc/bptl/pkioverheid-private-root.pem"  # PEM, added to the system's roots
/// client_cert = "/etc/bptl/worker.crt"              # PEM: the certificate (and its chain)
/// client_key = { file = "/run/secrets/worker.key" } # PEM private key: a secret
/// ```
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// `ca_file`: PEM certificates trusted besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// `client_cert`: the client certificate, PEM, the leaf first (its chain may follow).
    pub client_cert: Option<PathBuf>,
    /// `client_key`: the client certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub client_key: Option<SecretConfig>,
}

impl TlsFiles {
    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.ca_file.is_none() && self.client_cert.is_none() && self.client_key.is_none()
    }

    /// Read and check the files. `section` is the configuration section the keys are in
    /// (`services.zaken`, `engine`), quoted by the problems: a missing file, a file that is
    /// not PEM, a certificate without its key or the other way round, a key that does not
    /// belong to the certificate, or TLS not compiled in.
    ///
    /// ```
    /// use bptl_credentials::TlsFiles;
    /// let files = TlsFiles { ca_file: Some("/nonexistent/ca.pem".into()), ..TlsFiles::default() };
    /// let problems = files.load("services.zaken", &|_| None).unwrap_err();
    /// assert_eq!(problems[0].key, "services.zaken.ca_file");
    /// assert!(problems[0].message.contains("/nonexistent/ca.pem"), "{}", problems[0].message);
    /// ```
    pub fn load(
        &self,
        section: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClientTls, Vec<ConfigProblem>> {
        if self.is_empty() {
            return Ok(ClientTls::default());
        }
        self.read(section, env)
    }

    #[cfg(not(feature = "tls"))]
    fn read(
        &self,
        section: &str,
        _: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClientTls, Vec<ConfigProblem>> {
        let first = if self.ca_file.is_some() {
            "ca_file"
        } else if self.client_cert.is_some() {
            "client_cert"
        } else {
            "client_key"
        };
        Err(vec![ConfigProblem::new(
            format!("{section}.{first}"),
            "this worker was built without TLS (the `tls` feature of bptl): build it with \
             its default features, or remove ca_file, client_cert and client_key",
        )])
    }

    #[cfg(feature = "tls")]
    fn read(
        &self,
        section: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ClientTls, Vec<ConfigProblem>> {
        let key = |name: &str| format!("{section}.{name}");
        let mut problems = Vec::new();
        let roots = match &self.ca_file {
            None => Vec::new(),
            Some(path) => read_certificates(&key("ca_file"), path).unwrap_or_else(|p| {
                problems.push(p);
                Vec::new()
            }),
        };
        let identity = match (&self.client_cert, &self.client_key) {
            (None, None) => None,
            (Some(_), None) => {
                problems.push(ConfigProblem::new(
                    key("client_key"),
                    "client_cert is set but client_key is not: mutual TLS needs the \
                     certificate's private key too (client_key = { file = \"PATH\" })",
                ));
                None
            }
            (None, Some(_)) => {
                problems.push(ConfigProblem::new(
                    key("client_cert"),
                    "client_key is set but client_cert is not: add the client certificate \
                     (client_cert = \"PATH\", PEM)",
                ));
                None
            }
            (Some(cert), Some(secret)) => {
                client_identity(&key("client_cert"), cert, &key("client_key"), secret, env)
                    .map_err(|p| problems.push(p))
                    .ok()
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ClientTls {
            ca_file: self.ca_file.clone(),
            client_cert: self.client_cert.clone(),
            roots,
            identity,
        })
    }
}

/// A connection's TLS settings, read and checked ([`TlsFiles::load`]): the extra roots and the
/// client identity. `Debug` names the files, never the key.
#[derive(Clone, Default)]
pub struct ClientTls {
    ca_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    #[cfg(feature = "tls")]
    roots: Vec<reqwest::Certificate>,
    #[cfg(feature = "tls")]
    identity: Option<reqwest::Identity>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field(
                "client_key",
                &self.client_cert.as_ref().map(|_| crate::REDACTED),
            )
            .finish()
    }
}

impl ClientTls {
    /// Whether this changes nothing (no CA bundle, no client certificate).
    pub fn is_default(&self) -> bool {
        self.ca_file.is_none() && self.client_cert.is_none()
    }

    /// The extra root certificates (`ca_file`).
    #[cfg(feature = "tls")]
    pub fn roots(&self) -> &[reqwest::Certificate] {
        &self.roots
    }

    /// The client identity (`client_cert` and `client_key`), if any.
    #[cfg(feature = "tls")]
    pub fn identity(&self) -> Option<&reqwest::Identity> {
        self.identity.as_ref()
    }

    /// Apply the settings to a client builder: the roots added to the system's, the identity.
    pub fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        #[cfg(feature = "tls")]
        {
            let mut builder = builder;
            if !self.roots.is_empty() {
                builder = builder.tls_certs_merge(self.roots.iter().cloned());
            }
            if let Some(identity) = &self.identity {
                builder = builder.identity(identity.clone());
            }
            builder
        }
        #[cfg(not(feature = "tls"))]
        builder
    }
}

#[cfg(feature = "tls")]
use rustls::pki_types::pem::PemObject as _;
#[cfg(feature = "tls")]
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[cfg(feature = "tls")]
fn read_file(key: &str, path: &Path, what: &str) -> Result<Vec<u8>, ConfigProblem> {
    std::fs::read(path).map_err(|e| {
        ConfigProblem::new(
            key,
            format!(
                "cannot read the {what} {}: {e}; make sure it exists and the worker may read it",
                path.display()
            ),
        )
    })
}

/// The certificates of a PEM file, at least one.
#[cfg(feature = "tls")]
fn pem_certificates(
    key: &str,
    path: &Path,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, ConfigProblem> {
    let pem = read_file(key, path, what)?;
    let not_pem = |detail: String| {
        ConfigProblem::new(
            key,
            format!(
                "the {what} {} is not a PEM certificate file ({detail}): it must hold \
                 -----BEGIN CERTIFICATE----- blocks",
                path.display()
            ),
        )
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| not_pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(not_pem("no certificate found".to_owned()));
    }
    Ok(certs)
}

#[cfg(feature = "tls")]
fn read_certificates(key: &str, path: &Path) -> Result<Vec<reqwest::Certificate>, ConfigProblem> {
    pem_certificates(key, path, "CA bundle")?
        .iter()
        .map(|der| {
            reqwest::Certificate::from_der(der).map_err(|e| {
                ConfigProblem::new(
                    key,
                    format!(
                        "the CA bundle {} holds a certificate that cannot be used: {e}",
                        path.display()
                    ),
                )
            })
        })
        .collect()
}

/// The client certificate with its key, checked to belong together.
#[cfg(feature = "tls")]
fn client_identity(
    cert_key: &str,
    cert_path: &Path,
    key_key: &str,
    secret: &SecretConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<reqwest::Identity, ConfigProblem> {
    use secrecy::ExposeSecret as _;
    let certs = pem_certificates(cert_key, cert_path, "client certificate")?;
    let key_pem = secret.resolve(key_key, env)?;
    let where_from = match secret {
        SecretConfig::File(path) => format!("the file {}", path.display()),
        SecretConfig::Env(name) => format!("the environment variable {name}"),
        _ => "the value".to_owned(),
    };
    // The parse error is not echoed: it could quote part of the key.
    let key = PrivateKeyDer::from_pem_slice(key_pem.expose_secret().as_bytes()).map_err(|_| {
        ConfigProblem::new(
            key_key,
            format!(
                "{where_from} is not a PEM private key: it must hold a -----BEGIN PRIVATE KEY----- \
                 (or RSA / EC PRIVATE KEY) block"
            ),
        )
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider.key_provider.load_private_key(key).map_err(|e| {
        ConfigProblem::new(
            key_key,
            format!("the private key in {where_from} cannot be used: {e}"),
        )
    })?;
    rustls::sign::CertifiedKey::new(certs, signing)
        .keys_match()
        .map_err(|_| {
            ConfigProblem::new(
                key_key,
                format!(
                    "the private key in {where_from} does not belong to the client certificate {}",
                    cert_path.display()
                ),
            )
        })?;
    let mut pem = read_file(cert_key, cert_path, "client certificate")?;
    pem.push(b'\n');
    pem.extend_from_slice(key_pem.expose_secret().as_bytes());
    let identity = reqwest::Identity::from_pem(&pem);
    // The buffer held the key: overwrite it before it is freed.
    pem.iter_mut().for_each(|b| *b = 0);
    identity.map_err(|e| {
        ConfigProblem::new(
            cert_key,
            format!(
                "the client certificate {} and its key cannot be used together: {e}",
                cert_path.display()
            ),
        )
    })
}

#[cfg(all(test, not(feature = "tls")))]
mod tests {
    use super::*;

    #[test]
    fn without_tls_the_keys_are_refused_saying_why() {
        let files = TlsFiles {
            client_cert: Some("/etc/bptl/worker.crt".into()),
            ..TlsFiles::default()
        };
        let problems = files.load("engine", &|_| None).unwrap_err();
        assert_eq!(problems[0].key, "engine.client_cert");
        assert!(
            problems[0].message.contains("built without TLS"),
            "{problems:?}"
        );
    }
}
