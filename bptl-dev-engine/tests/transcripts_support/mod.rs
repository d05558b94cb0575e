//! Differential transcripts: scripted engine-rest exchanges, recorded against real engines
//! (Operaton, Camunda 7) and replayed against the dev engine.
//!
//! A [`Script`] is an ordered list of steps: HTTP requests (with `{{name}}` placeholders
//! filled from earlier answers) and waits. Running it gives a [`Recording`]: every request as
//! written in the script and every answer normalised (ids, timestamps and the run token
//! replaced by stable placeholders), so two runs against the same engine give the same
//! recording and runs against different engines can be compared field by field.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
// Test support shared by several test crates: its `pub` items are used across modules.
#![allow(unreachable_pub)]

pub mod normalise;
pub mod scripts;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};

use normalise::Normaliser;

/// Where the committed recordings live: `<repo>/tests/fixtures/transcripts/<engine>/`.
pub fn recordings_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("fixtures")
        .join("transcripts")
}

/// The engines recordings exist for, in the order the dev engine is compared with them.
pub const ENGINES: &[&str] = &["operaton", "camunda"];

/// What the dev engine may answer differently from a real engine in one step, and why.
#[derive(Debug, Clone)]
pub struct Tolerance {
    /// The engines this applies to (empty: every engine).
    pub engines: &'static [&'static str],
    /// The JSON pointers into the recorded response that are not compared
    /// (`/body/message`, `/body`, ...).
    pub pointers: &'static [&'static str],
    /// The id of the documented difference in README's dev-engine section.
    pub id: &'static str,
    /// The real engine's own answer at `pointers` varies from one start of the engine to the
    /// next, so the staleness check of a new recording does not compare them either.
    pub varies_between_starts: bool,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    None,
    /// A JSON body (`Content-Type: application/json`).
    Json(Value),
    /// Raw bytes sent as `application/json` (malformed JSON cases).
    Raw(String),
    /// `POST /deployment/create`: a multipart deployment of one BPMN file.
    Deploy {
        /// `deployment-name`.
        name: String,
        /// The file name.
        file: String,
        /// The BPMN XML.
        xml: String,
    },
}

/// One step of a script.
#[derive(Debug, Clone)]
pub enum Action {
    /// An HTTP request.
    Http {
        /// `GET`, `POST`, `PUT`, `DELETE`.
        method: &'static str,
        /// The path below the engine-rest root, with placeholders.
        path: String,
        /// The body.
        body: Body,
    },
    /// Sleeps, e.g. to let a lock expire.
    Wait(u64),
}

/// A step with its captures and tolerances.
#[derive(Debug, Clone)]
pub struct Step {
    /// What the step does, in words.
    pub label: String,
    /// The request or wait.
    pub action: Action,
    /// `(placeholder name, JSON pointer into the answer)`: values later steps use.
    pub captures: Vec<(String, String)>,
    /// Differences the dev engine is allowed (documented in README).
    pub tolerances: Vec<Tolerance>,
}

/// An ordered list of steps.
#[derive(Debug, Clone)]
pub struct Script {
    /// The file name of the recording (without `.json`).
    pub name: &'static str,
    /// What the transcript covers.
    pub about: &'static str,
    /// The steps.
    pub steps: Vec<Step>,
}

impl Script {
    /// An empty script.
    pub fn new(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            about,
            steps: Vec::new(),
        }
    }

    fn push(&mut self, label: &str, action: Action) -> &mut Step {
        self.steps.push(Step {
            label: label.to_string(),
            action,
            captures: Vec::new(),
            tolerances: Vec::new(),
        });
        self.steps.last_mut().expect("just pushed")
    }

    /// A `GET`.
    pub fn get(&mut self, label: &str, path: &str) -> &mut Step {
        self.push(
            label,
            Action::Http {
                method: "GET",
                path: path.to_string(),
                body: Body::None,
            },
        )
    }

    /// A `DELETE`.
    pub fn delete(&mut self, label: &str, path: &str) -> &mut Step {
        self.push(
            label,
            Action::Http {
                method: "DELETE",
                path: path.to_string(),
                body: Body::None,
            },
        )
    }

    /// A `POST` with a JSON body.
    pub fn post(&mut self, label: &str, path: &str, body: Value) -> &mut Step {
        self.push(
            label,
            Action::Http {
                method: "POST",
                path: path.to_string(),
                body: Body::Json(body),
            },
        )
    }

    /// A `POST` with a raw body sent as `application/json`.
    pub fn post_raw(&mut self, label: &str, path: &str, body: &str) -> &mut Step {
        self.push(
            label,
            Action::Http {
                method: "POST",
                path: path.to_string(),
                body: Body::Raw(body.to_string()),
            },
        )
    }

    /// A `PUT` with a JSON body.
    pub fn put(&mut self, label: &str, path: &str, body: Value) -> &mut Step {
        self.push(
            label,
            Action::Http {
                method: "PUT",
                path: path.to_string(),
                body: Body::Json(body),
            },
        )
    }

    /// `POST /deployment/create` with one BPMN file.
    pub fn deploy(&mut self, label: &str, name: &str, file: &str, xml: String) -> &mut Step {
        self.push(
            label,
            Action::Http {
                method: "POST",
                path: "/deployment/create".to_string(),
                body: Body::Deploy {
                    name: name.to_string(),
                    file: file.to_string(),
                    xml,
                },
            },
        )
    }

    /// `POST /process-definition/key/{key}/start`; captures the instance id as `capture`.
    pub fn start(&mut self, label: &str, key: &str, body: Value, capture: &str) -> &mut Step {
        self.post(label, &format!("/process-definition/key/{key}/start"), body)
            .capture(capture, "/id")
    }

    /// Sleeps `ms` milliseconds.
    pub fn wait(&mut self, label: &str, ms: u64) -> &mut Step {
        self.push(label, Action::Wait(ms))
    }

    /// The number of HTTP requests of the script.
    pub fn request_count(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.action, Action::Http { .. }))
            .count()
    }
}

impl Step {
    /// Captures the value at `pointer` of the answer body as `{{name}}`.
    pub fn capture(&mut self, name: &str, pointer: &str) -> &mut Self {
        self.captures.push((name.to_string(), pointer.to_string()));
        self
    }

    /// Allows the dev engine to differ from `engines` (all if empty) at `pointers`, as
    /// documented in README under `id`.
    pub fn tolerate(
        &mut self,
        engines: &'static [&'static str],
        pointers: &'static [&'static str],
        id: &'static str,
    ) -> &mut Self {
        self.tolerances.push(Tolerance {
            engines,
            pointers,
            id,
            varies_between_starts: false,
        });
        self
    }

    /// Like [`Step::tolerate`] for every engine, for an answer the real engines themselves give
    /// in more than one form depending on the start (neither the dev engine nor a new
    /// recording is compared there).
    pub fn varies_between_starts(
        &mut self,
        pointers: &'static [&'static str],
        id: &'static str,
    ) -> &mut Self {
        self.tolerances.push(Tolerance {
            engines: &[],
            pointers,
            id,
            varies_between_starts: true,
        });
        self
    }
}

/// Fills `{{name}}` placeholders from the captured values.
fn fill(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (name, value) in vars {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

fn fill_json(value: &Value, vars: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(fill(s, vars)),
        Value::Array(a) => Value::Array(a.iter().map(|v| fill_json(v, vars)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (fill(k, vars), fill_json(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A multipart/form-data body with a deployment name and one file.
fn multipart(name: &str, file: &str, xml: &str) -> (String, Vec<u8>) {
    let boundary = "----bptl-transcript-boundary";
    let mut body = String::new();
    let _ = write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"deployment-name\"\r\n\r\n{name}\r\n"
    );
    let _ = write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n{xml}\r\n"
    );
    let _ = write!(body, "--{boundary}--\r\n");
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// The request as the recording shows it (placeholders unfilled, BPMN XML left out).
fn request_json(method: &str, path: &str, body: &Body) -> Value {
    let mut out = Map::new();
    out.insert("method".into(), json!(method));
    out.insert("path".into(), json!(path));
    match body {
        Body::None => {}
        Body::Json(v) => {
            out.insert("body".into(), v.clone());
        }
        Body::Raw(s) => {
            out.insert("rawBody".into(), json!(s));
        }
        Body::Deploy { name, file, .. } => {
            out.insert(
                "multipart".into(),
                json!({"deployment-name": name, "file": file}),
            );
        }
    }
    Value::Object(out)
}

/// A random run token: makes process keys and topics unique per run, so a script can run
/// many times against the same engine. Recordings show it as `RUN`.
pub fn run_token() -> String {
    (0..10)
        .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
        .collect()
}

/// The recording of one script run: `{"transcript", "about", "steps": [...]}`.
pub type Recording = Value;

/// Runs a script against the engine-rest root `base` and returns the normalised recording.
pub async fn run(script: &Script, base: &str) -> Recording {
    // reqwest needs a TLS crypto provider before its first client.
    bptl_camunda::install_crypto_provider();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client");
    let run = run_token();
    let mut vars = BTreeMap::new();
    vars.insert("run".to_string(), run.clone());
    let mut normaliser = Normaliser::new(&run, base);
    let mut steps = Vec::new();
    for step in &script.steps {
        let (method, path, body) = match &step.action {
            Action::Wait(ms) => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                steps.push(json!({"label": step.label, "waitMs": ms}));
                continue;
            }
            Action::Http { method, path, body } => (*method, path, body),
        };
        let url = format!("{base}{}", fill(path, &vars));
        let mut request = match method {
            "GET" => http.get(&url),
            "POST" => http.post(&url),
            "PUT" => http.put(&url),
            "DELETE" => http.delete(&url),
            other => panic!("unsupported method {other}"),
        };
        request = match body {
            Body::None => request,
            Body::Json(v) => request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&fill_json(v, &vars)).expect("JSON")),
            Body::Raw(s) => request
                .header("content-type", "application/json")
                .body(fill(s, &vars)),
            Body::Deploy { name, file, xml } => {
                let (content_type, bytes) =
                    multipart(&fill(name, &vars), &fill(file, &vars), &fill(xml, &vars));
                request.header("content-type", content_type).body(bytes)
            }
        };
        let response = request.send().await.unwrap_or_else(|e| {
            panic!("{}: step {:?} got no answer: {e}", script.name, step.label)
        });
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.unwrap_or_default();
        let raw: Option<Value> = if text.is_empty() {
            None
        } else {
            serde_json::from_str(&text).ok()
        };
        for (name, pointer) in &step.captures {
            // A value that is not there stays unfilled: later steps then show what the
            // engine answers to the literal placeholder, and the recording shows why.
            if let Some(captured) = raw
                .as_ref()
                .and_then(|b| b.pointer(pointer))
                .and_then(Value::as_str)
            {
                normaliser.name(captured, name);
                vars.insert(name.clone(), captured.to_string());
            }
        }
        let mut response_json = Map::new();
        response_json.insert("status".into(), json!(status));
        response_json.insert("contentType".into(), json!(content_type));
        match raw {
            Some(body) => {
                response_json.insert("body".into(), normaliser.value(&body));
            }
            None if !text.is_empty() => {
                response_json.insert("text".into(), json!(normaliser.message(&text)));
            }
            None => {}
        }
        steps.push(json!({
            "label": step.label,
            "request": request_json(method, path, body),
            "response": Value::Object(response_json),
        }));
    }
    json!({"transcript": script.name, "about": script.about, "steps": steps})
}

/// Serialises a recording the way it is committed (pretty JSON, newline at the end).
pub fn to_file_text(recording: &Recording) -> String {
    let mut text = serde_json::to_string_pretty(recording).expect("JSON");
    text.push('\n');
    text
}

/// The committed recording of a script for an engine, if any.
pub fn committed(engine: &str, script: &str) -> Option<Recording> {
    let path = recordings_dir().join(engine).join(format!("{script}.json"));
    let text = std::fs::read_to_string(&path).ok()?;
    Some(
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display())),
    )
}

/// Writes a recording as the committed one.
pub fn write_committed(engine: &str, script: &str, recording: &Recording) {
    let dir = recordings_dir().join(engine);
    std::fs::create_dir_all(&dir).expect("create the recordings directory");
    std::fs::write(dir.join(format!("{script}.json")), to_file_text(recording))
        .expect("write the recording");
}

/// The recording without what varies between starts of a real engine: what the staleness
/// check compares.
pub fn stable_view(script: &Script, recording: &Recording) -> Recording {
    let mut view = recording.clone();
    if let Some(steps) = view.get_mut("steps").and_then(Value::as_array_mut) {
        for (step, recorded) in script.steps.iter().zip(steps.iter_mut()) {
            for t in step.tolerances.iter().filter(|t| t.varies_between_starts) {
                for p in t.pointers {
                    remove_pointer(recorded, &format!("/response{p}"));
                }
            }
        }
    }
    view
}

/// Removes the tolerated pointers from a response (in place).
fn remove_pointer(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let target = if parent.is_empty() {
        Some(value)
    } else {
        value.pointer_mut(parent)
    };
    match target {
        Some(Value::Object(m)) => {
            m.remove(last);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = last.parse::<usize>()
                && i < a.len()
            {
                a[i] = Value::Null;
            }
        }
        _ => {}
    }
}

/// Lists the differences between two JSON values as lines `path: expected …, got …`.
pub fn json_diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}/{k}");
                match a.get(k) {
                    Some(av) => json_diff(&p, ev, av, out),
                    None => out.push(format!("{p}: missing (expected {ev})")),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("{path}/{k}: unexpected field (got {av})"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                json_diff(&format!("{path}/{i}"), ev, av, out);
            }
        }
        (e, a) if e == a => {}
        (e, a) => out.push(format!("{path}: expected {e}, got {a}")),
    }
}

/// Compares a dev-engine recording with an engine's recording, applying the tolerances
/// of the script for `engine`. Returns a readable report of every mismatching step.
pub fn compare(
    script: &Script,
    engine: &str,
    expected: &Recording,
    actual: &Recording,
) -> Vec<String> {
    let mut report = Vec::new();
    let empty = Vec::new();
    let e_steps = expected["steps"].as_array().unwrap_or(&empty);
    let a_steps = actual["steps"].as_array().unwrap_or(&empty);
    if e_steps.len() != script.steps.len() {
        report.push(format!(
            "{}: the {engine} recording has {} steps, the script {} (re-record it)",
            script.name,
            e_steps.len(),
            script.steps.len()
        ));
        return report;
    }
    for (i, ((step, e), a)) in script.steps.iter().zip(e_steps).zip(a_steps).enumerate() {
        if e.get("request") != a.get("request") || e.get("label") != a.get("label") {
            report.push(format!(
                "{} step {i} ({}): the {engine} recording was made from another script (re-record it)",
                script.name, step.label
            ));
            continue;
        }
        let mut e = e.clone();
        let mut a = a.clone();
        for t in &step.tolerances {
            if t.engines.is_empty() || t.engines.contains(&engine) {
                for p in t.pointers {
                    remove_pointer(&mut e, &format!("/response{p}"));
                    remove_pointer(&mut a, &format!("/response{p}"));
                }
            }
        }
        let mut lines = Vec::new();
        json_diff("", &e["response"], &a["response"], &mut lines);
        if !lines.is_empty() {
            let mut text = format!(
                "{} step {i} ({}): {} {}\n",
                script.name,
                step.label,
                e["request"]["method"].as_str().unwrap_or(""),
                e["request"]["path"].as_str().unwrap_or("")
            );
            for line in lines {
                let _ = writeln!(text, "    {line}");
            }
            report.push(text);
        }
    }
    report
}
