//! HS256 JSON Web Tokens (RFC 7519 in the JWS compact form of RFC 7515), as the ZGW APIs take
//! them: HMAC-SHA-256 over `base64url(header).base64url(claims)` with a shared secret.
//!
//! Only HS256 exists here, on purpose: a general JWT library brings RSA and elliptic-curve
//! code that ZGW never uses (see README, "Supply chain").
//!
//! ```
//! use bptl_credentials::jwt::{decode_hs256, encode_hs256};
//! let token = encode_hs256(&serde_json::json!({"iss": "bptl"}), b"secret").unwrap();
//! let claims: serde_json::Value = decode_hs256(&token, b"secret").unwrap();
//! assert_eq!(claims["iss"], "bptl");
//! assert!(decode_hs256::<serde_json::Value>(&token, b"another secret").is_err());
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

/// The header of every token made here.
const HEADER: &str = r#"{"typ":"JWT","alg":"HS256"}"#;

/// Seconds an `exp` claim may lie in the past when a token is read (clock skew).
pub const LEEWAY_SECONDS: i64 = 60;

/// Why a token could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url parts with a JSON header and payload.
    #[error("not a JWT: {0}")]
    Malformed(String),
    /// The header names another algorithm than HS256.
    #[error("the JWT is signed with {0}, not HS256")]
    Algorithm(String),
    /// The signature does not match the secret.
    #[error("the JWT's signature does not match the secret")]
    Signature,
    /// The `exp` claim lies in the past (beyond [`LEEWAY_SECONDS`]).
    #[error("the JWT expired at {0} (seconds since the epoch)")]
    Expired(i64),
    /// The claims could not be written, or not read as the type asked for.
    #[error("the JWT's claims: {0}")]
    Claims(String),
}

fn mac(secret: &[u8], signed: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length (longer ones are hashed first): this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(signed.as_bytes());
    mac
}

/// Sign `claims` as an HS256 token with `secret`.
pub fn encode_hs256<T: Serialize>(claims: &T, secret: &[u8]) -> Result<String, JwtError> {
    let payload = serde_json::to_vec(claims).map_err(|e| JwtError::Claims(e.to_string()))?;
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &signed).finalize().into_bytes());
    Ok(format!("{signed}.{signature}"))
}

/// Read an HS256 token: its header must say HS256, its signature must match `secret`
/// (compared in constant time) and an `exp` claim, if present, must not have passed; then the
/// claims are read as `T`.
pub fn decode_hs256<T: DeserializeOwned>(token: &str, secret: &[u8]) -> Result<T, JwtError> {
    let malformed = |why: &str| JwtError::Malformed(why.to_owned());
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("a JWT has three parts separated by '.'"));
    };
    let json = |part: &str, what: &str| -> Result<serde_json::Value, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| JwtError::Malformed(format!("the {what} is not base64url ({e})")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| JwtError::Malformed(format!("the {what} is not JSON ({e})")))
    };
    let alg = json(header, "header")?["alg"].clone();
    if alg != "HS256" {
        return Err(JwtError::Algorithm(alg.to_string()));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| JwtError::Malformed(format!("the signature is not base64url ({e})")))?;
    mac(secret, &token[..header.len() + 1 + payload.len()])
        .verify_slice(&signature)
        .map_err(|_| JwtError::Signature)?;
    let claims = json(payload, "payload")?;
    if let Some(exp) = claims.get("exp") {
        let exp = exp
            .as_i64()
            .ok_or_else(|| malformed("the 'exp' claim is not a whole number of seconds"))?;
        if jiff::Timestamp::now().as_second() > exp.saturating_add(LEEWAY_SECONDS) {
            return Err(JwtError::Expired(exp));
        }
    }
    serde_json::from_value(claims).map_err(|e| JwtError::Claims(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7515, appendix A.1: the HS256 example, its key and its signature.
    const RFC_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_KEY: &str =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

    fn rfc_key() -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(RFC_KEY).expect("the RFC's key")
    }

    #[test]
    fn the_rfc_example_verifies_and_is_expired() {
        // Its signature matches (else Signature), and its exp of 2011 has passed.
        let read = decode_hs256::<serde_json::Value>(RFC_TOKEN, &rfc_key());
        assert_eq!(read, Err(JwtError::Expired(1_300_819_380)));
        let other = decode_hs256::<serde_json::Value>(RFC_TOKEN, b"not the key");
        assert_eq!(other, Err(JwtError::Signature));
    }

    #[test]
    fn a_token_made_here_has_the_rfc_layout_and_reads_back() {
        let claims =
            serde_json::json!({"iss": "bptl", "exp": jiff::Timestamp::now().as_second() + 60});
        let token = encode_hs256(&claims, b"s3cret").expect("encode");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[0]).expect("header"),
            HEADER.as_bytes()
        );
        let signature = mac(b"s3cret", &format!("{}.{}", parts[0], parts[1]))
            .finalize()
            .into_bytes();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[2]).expect("sig"),
            &signature[..]
        );
        let back: serde_json::Value = decode_hs256(&token, b"s3cret").expect("decode");
        assert_eq!(back, claims);
    }

    #[test]
    fn bad_tokens_say_why() {
        let token = encode_hs256(&serde_json::json!({"a": 1}), b"k").expect("encode");
        assert!(matches!(
            decode_hs256::<serde_json::Value>("a.b", b"k"),
            Err(JwtError::Malformed(_))
        ));
        assert!(matches!(
            decode_hs256::<serde_json::Value>(&format!("{token}.x"), b"k"),
            Err(JwtError::Malformed(_))
        ));
        let none_alg = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            token.split_once('.').expect("dot").1
        );
        assert_eq!(
            decode_hs256::<serde_json::Value>(&none_alg, b"k"),
            Err(JwtError::Algorithm("\"none\"".into()))
        );
        let expired = encode_hs256(&serde_json::json!({"exp": 1}), b"k").expect("encode");
        assert_eq!(
            decode_hs256::<serde_json::Value>(&expired, b"k"),
            Err(JwtError::Expired(1))
        );
        let wrong_shape = decode_hs256::<Vec<u8>>(&token, b"k").expect_err("not a list");
        assert!(
            wrong_shape.to_string().starts_with("the JWT's claims:"),
            "{wrong_shape}"
        );
    }
}
