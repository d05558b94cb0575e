//! What a call sends: the JSON body (`topic`, `vars` typed as Camunda's or plain JSON values)
//! and the `Idempotency-Key` header, read with errors that name what is wrong.

use axum::http::HeaderMap;
use bptl_core::{Value, Variables};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

/// The body of `POST /api/v1/work-unit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    topic: String,
    #[serde(default)]
    vars: Option<Map<String, Json>>,
}

/// What the body asks for.
#[derive(Debug)]
pub(super) struct Call {
    pub(super) topic: String,
    pub(super) vars: Variables,
}

const SHAPE: &str =
    r#"send {"topic": "TOPIC", "vars": {"name": value or {"value": ..., "type": "Integer"}}}"#;

/// The longest `Idempotency-Key` accepted.
pub(super) const MAX_KEY_LEN: usize = 255;

/// Read the body: every problem names the field or variable and what to send.
pub(super) fn parse_body(bytes: &[u8]) -> Result<Call, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(format!("the request body is empty: {SHAPE}"));
    }
    let body: Body = serde_json::from_slice(bytes)
        .map_err(|e| format!("the request body is not valid: {e}; {SHAPE}"))?;
    if body.topic.trim().is_empty() {
        return Err(format!("the topic is empty: {SHAPE}"));
    }
    let mut vars = Variables::new();
    for (name, json) in body.vars.unwrap_or_default() {
        let value = parse_variable(&name, &json)?;
        vars.insert(name, value);
    }
    Ok(Call {
        topic: body.topic,
        vars,
    })
}

/// A variable: Camunda's typed form when it is an object with a string `type` and no keys but
/// `value`, `type` and `valueInfo`; any other JSON value as it is.
fn parse_variable(name: &str, json: &Json) -> Result<Value, String> {
    let typed = json.as_object().is_some_and(|fields| {
        fields.get("type").is_some_and(Json::is_string)
            && fields
                .keys()
                .all(|k| matches!(k.as_str(), "value" | "type" | "valueInfo"))
    });
    if typed {
        bptl_camunda::variables::from_typed(name, json).map_err(|e| {
            format!(
                "vars.{name}: {e} (an object with \"type\" and \"value\" is read as a Camunda typed value; send a plain object as {{\"type\": \"Json\", \"value\": ...}})"
            )
        })
    } else {
        Ok(Value::from(json.clone()))
    }
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, String> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        format!(
            "the Idempotency-Key header must be 1 to {MAX_KEY_LEN} visible ASCII characters (no spaces), e.g. a UUID"
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    if text.is_empty() || text.len() > MAX_KEY_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(text.to_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn typed_and_plain_variables() {
        let call = parse_body(
            br#"{"topic": "t", "vars": {"n": {"value": 5, "type": "Long"}, "plain": {"type": 3},
                 "s": "x", "o": {"type": "car", "wheels": 4}}}"#,
        )
        .unwrap();
        assert_eq!(call.vars.get("n"), Some(&Value::Long(5)));
        assert_eq!(call.vars.get("s"), Some(&Value::from("x")));
        assert!(matches!(call.vars.get("plain"), Some(Value::Json(_))));
        assert!(matches!(call.vars.get("o"), Some(Value::Json(_))));
        let err =
            parse_body(br#"{"topic": "t", "vars": {"n": {"value": "x", "type": "Integer"}}}"#)
                .unwrap_err();
        assert!(
            err.starts_with("vars.n: variable 'n' has type Integer"),
            "{err}"
        );
    }

    #[test]
    fn bad_bodies_name_the_problem() {
        assert!(
            parse_body(b"")
                .unwrap_err()
                .starts_with("the request body is empty")
        );
        let err = parse_body(br#"{"vars": {}}"#).unwrap_err();
        assert!(err.contains("missing field `topic`"), "{err}");
        let err = parse_body(br#"{"topic": "t", "variables": {}}"#).unwrap_err();
        assert!(err.contains("unknown field `variables`"), "{err}");
        let err = parse_body(br#"{"topic": " "}"#).unwrap_err();
        assert!(err.starts_with("the topic is empty"), "{err}");
    }

    #[test]
    fn idempotency_keys() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers).unwrap(), None);
        headers.insert("idempotency-key", "k-1".parse().unwrap());
        assert_eq!(idempotency_key(&headers).unwrap().as_deref(), Some("k-1"));
        headers.insert("idempotency-key", "with space".parse().unwrap());
        assert!(idempotency_key(&headers).is_err());
        headers.insert("idempotency-key", "x".repeat(256).parse().unwrap());
        assert!(idempotency_key(&headers).is_err());
    }
}
