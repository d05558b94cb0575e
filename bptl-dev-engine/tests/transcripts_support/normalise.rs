//! Normalising answers: what differs from run to run (ids, engine timestamps, the run token)
//! becomes a stable placeholder; everything else is kept exactly.
//!
//! * A value captured by the script as `{{name}}` becomes `<name>` wherever it appears.
//! * Any other id (the value of a field named `id`, `…Id` or `configuration`, and any UUID
//!   inside a string) becomes `<field:n>` / `<uuid:n>`, numbered by first appearance.
//! * Engine timestamps (`yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm` anywhere but a variable's `value`)
//!   become `<date>`; a `Date` variable's value is shown as the same instant in UTC, since
//!   engines print dates in their own time zone.
//! * `durationInMillis` becomes `<duration>`.
//! * In messages, dates and epoch milliseconds become `<date>` / `<ms>`.
//! * The run token becomes `RUN`, the engine-rest root URL `<engine-rest>`.
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Fields whose values are names from the BPMN or the request, not generated ids.
const NOT_IDS: &[&str] = &[
    "workerId",
    "activityId",
    "startActivityId",
    "endActivityId",
    "failedActivityId",
    "tenantId",
    "startUserId",
    "userId",
];

/// The normaliser of one script run.
#[derive(Debug)]
pub struct Normaliser {
    run: String,
    base: String,
    /// Known values and their placeholders.
    known: Vec<(String, String)>,
    counters: HashMap<String, usize>,
}

impl Normaliser {
    /// A normaliser for the run with this token.
    pub fn new(run: &str, base: &str) -> Self {
        Self {
            run: run.to_string(),
            base: base.to_string(),
            known: Vec::new(),
            counters: HashMap::new(),
        }
    }

    /// Names a value (captured by the script): it becomes `<name>`.
    pub fn name(&mut self, actual: &str, name: &str) {
        if actual.is_empty() || self.known.iter().any(|(k, _)| k == actual) {
            return;
        }
        self.known.push((actual.to_string(), format!("<{name}>")));
        self.known.sort_by_key(|k| std::cmp::Reverse(k.0.len()));
    }

    fn register(&mut self, actual: &str, kind: &str) {
        if actual.is_empty() || self.known.iter().any(|(k, _)| k == actual) {
            return;
        }
        let n = self.counters.entry(kind.to_string()).or_insert(0);
        *n += 1;
        let placeholder = format!("{kind}:{n}");
        self.name(actual, &placeholder);
    }

    /// Normalises a JSON answer.
    pub fn value(&mut self, value: &Value) -> Value {
        self.walk(value, None)
    }

    fn walk(&mut self, value: &Value, key: Option<&str>) -> Value {
        match value {
            Value::String(s) => Value::String(self.string(s, key)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.walk(v, key)).collect()),
            Value::Object(m) => {
                let mut values = Vec::with_capacity(m.len());
                for (k, v) in m {
                    values.push(self.walk(v, Some(k)));
                }
                let mut out = Map::new();
                for ((k, _), v) in m.iter().zip(values) {
                    let k = self.text(k);
                    out.insert(k, v);
                }
                Value::Object(out)
            }
            Value::Number(_) if key == Some("durationInMillis") => Value::from("<duration>"),
            other => other.clone(),
        }
    }

    fn string(&mut self, s: &str, key: Option<&str>) -> String {
        if is_date(s) {
            return if key == Some("value") {
                utc(s)
            } else {
                "<date>".to_string()
            };
        }
        if key == Some("message") {
            return self.message(s);
        }
        if let Some(key) = key
            && is_id_field(key)
        {
            self.register(s, key);
        }
        self.text(s)
    }

    /// Replaces known values, UUIDs and the run token in a text.
    fn text(&mut self, s: &str) -> String {
        for uuid in uuids(s) {
            self.register(&uuid, "uuid");
        }
        let mut out = if self.base.is_empty() {
            s.to_string()
        } else {
            s.replace(&self.base, "<engine-rest>")
        };
        for (actual, placeholder) in &self.known {
            if out.contains(actual.as_str()) {
                out = out.replace(actual.as_str(), placeholder);
            }
        }
        if !self.run.is_empty() {
            out = out.replace(&self.run, "RUN");
        }
        out
    }

    /// Normalises an error message or a text answer.
    pub fn message(&mut self, s: &str) -> String {
        let out = self.text(s);
        let out = replace_dates(&out);
        replace_millis(&out)
    }
}

fn is_id_field(key: &str) -> bool {
    (key == "id" || key.ends_with("Id") || key == "configuration") && !NOT_IDS.contains(&key)
}

/// Whether `s` is exactly a Camunda date `yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm`.
pub fn is_date(s: &str) -> bool {
    date_at(s.as_bytes(), 0) && s.len() == 28
}

fn date_at(b: &[u8], i: usize) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd.ddd+dddd";
    if b.len() < i + SHAPE.len() {
        return false;
    }
    SHAPE.iter().zip(&b[i..]).all(|(shape, c)| match shape {
        b'd' => c.is_ascii_digit(),
        b'+' => *c == b'+' || *c == b'-',
        other => c == other,
    })
}

fn utc(s: &str) -> String {
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", s)
        .and_then(|t| t.to_timestamp())
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())
        .unwrap_or_else(|_| s.to_string())
}

fn replace_dates(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if date_at(b, i) {
            out.push_str("<date>");
            i += 28;
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Replaces runs of exactly 13 digits (epoch milliseconds) by `<ms>`.
fn replace_millis(s: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() == 13 {
            out.push_str("<ms>");
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// The UUIDs (8-4-4-4-12 hex digits) inside a text.
fn uuids(s: &str) -> Vec<String> {
    const SHAPE: &[u8] = b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + SHAPE.len() <= b.len() {
        let fits = SHAPE.iter().zip(&b[i..]).all(|(shape, c)| match shape {
            b'x' => c.is_ascii_hexdigit(),
            other => c == other,
        });
        if fits {
            out.push(s[i..i + SHAPE.len()].to_string());
            i += SHAPE.len();
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_dates_and_the_run_token_become_placeholders() {
        let mut n = Normaliser::new("abcdefghij", "http://127.0.0.1:1/engine-rest");
        n.name("7f0c5a36-1111-4222-a333-444455556666", "pi");
        let out = n.value(&json!({
            "id": "00000000-aaaa-4bbb-accc-dddddddddddd",
            "processInstanceId": "7f0c5a36-1111-4222-a333-444455556666",
            "processDefinitionId": "tx_abcdefghij:1:12345678-9abc-4def-a123-456789abcdef",
            "lockExpirationTime": "2026-01-01T10:00:00.000+0100",
            "workerId": "w1",
            "variables": {"d": {"type": "Date", "value": "2015-10-06T16:34:42.000+0200"}},
            "message": "task 00000000-aaaa-4bbb-accc-dddddddddddd expired at 1767261600000",
        }));
        assert_eq!(
            out,
            json!({
                "id": "<id:1>",
                "processInstanceId": "<pi>",
                "processDefinitionId": "<processDefinitionId:1>",
                "lockExpirationTime": "<date>",
                "workerId": "w1",
                "variables": {"d": {"type": "Date", "value": "2015-10-06T14:34:42.000+0000"}},
                "message": "task <id:1> expired at <ms>",
            })
        );
    }
}
