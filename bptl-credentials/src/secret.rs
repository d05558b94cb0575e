//! Secrets in the configuration: a literal string, `{ env = "NAME" }` or `{ file = "PATH" }`.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::config::ConfigProblem;

/// Where a secret comes from, as written in the configuration.
///
/// ```toml
/// secret = "literal value"              # fine for development only
/// secret = { env = "ZAKEN_SECRET" }     # read from an environment variable
/// secret = { file = "/run/secrets/zaken" } # read from a file (a trailing newline is dropped)
/// ```
///
/// Its `Debug` output never shows a literal secret.
#[derive(Clone)]
#[non_exhaustive]
pub enum SecretConfig {
    /// The secret itself.
    Literal(SecretString),
    /// The name of an environment variable holding the secret.
    Env(String),
    /// A file holding the secret.
    File(PathBuf),
}

impl SecretConfig {
    /// Read the secret. `key` is the configuration key, quoted by errors; `env` looks up
    /// environment variables (normally `|name| std::env::var(name).ok()`).
    pub fn resolve(
        &self,
        key: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SecretString, ConfigProblem> {
        match self {
            SecretConfig::Literal(secret) => Ok(secret.clone()),
            SecretConfig::Env(name) => env(name).map(SecretString::from).ok_or_else(|| {
                ConfigProblem::new(
                    key,
                    format!(
                        "the environment variable {name} is not set: set it for the worker, or give the \
                         secret as {{ file = \"PATH\" }}"
                    ),
                )
            }),
            SecretConfig::File(path) => match std::fs::read_to_string(path) {
                Ok(mut text) => {
                    if text.ends_with('\n') {
                        text.pop();
                        if text.ends_with('\r') {
                            text.pop();
                        }
                    }
                    Ok(SecretString::from(text))
                }
                Err(err) => Err(ConfigProblem::new(
                    key,
                    format!(
                        "cannot read the secret file {}: {err}; make sure it exists and the worker may read it",
                        path.display()
                    ),
                )),
            },
        }
    }
}

/// Whether two secrets are equal, in time that depends on their lengths only (not on where they
/// differ): for checking a token a caller presents.
///
/// ```
/// use bptl_credentials::secrets_equal;
/// assert!(secrets_equal(b"s3cret", b"s3cret"));
/// assert!(!secrets_equal(b"s3cret", b"s3creT"));
/// assert!(!secrets_equal(b"s3cret", b"s3cret2"));
/// ```
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl From<&str> for SecretConfig {
    fn from(value: &str) -> Self {
        SecretConfig::Literal(SecretString::from(value))
    }
}

impl fmt::Debug for SecretConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretConfig::Literal(_) => f.write_str("SecretConfig::Literal(***)"),
            SecretConfig::Env(name) => write!(f, "SecretConfig::Env({name:?})"),
            SecretConfig::File(path) => write!(f, "SecretConfig::File({path:?})"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for SecretConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a secret: a string, { env = "NAME" } or { file = "PATH" }"#)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(SecretConfig::Literal(SecretString::from(v)))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(SecretConfig::Literal(SecretString::from(v)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: Option<SecretConfig> = None;
        while let Some(key) = map.next_key::<String>()? {
            let value = match key.as_str() {
                "env" => SecretConfig::Env(map.next_value()?),
                "file" => SecretConfig::File(map.next_value()?),
                other => return Err(de::Error::unknown_field(other, &["env", "file"])),
            };
            if found.is_some() {
                return Err(de::Error::custom(
                    "a secret is read from one place: write either env = \"NAME\" or file = \"PATH\", not both",
                ));
            }
            found = Some(value);
        }
        found.ok_or_else(|| {
            de::Error::custom(r#"a secret table needs env = "NAME" or file = "PATH""#)
        })
    }
}
