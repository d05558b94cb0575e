//! `http_request`: one request to the service under the alias `api`.

use bptl_core::prelude::*;
use bptl_core::{check_variable_allow_empty, optional_variable_as};
use bptl_credentials::{Method, ServiceResponse, TaskServices, redact_url};
use serde_json::Value as Json;

/// The alias of the service `http_request` calls.
const ALIAS: &str = "api";

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub(crate) async fn run(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    let path = path(&vars)?;
    let method = method(&vars)?;
    let query = query(&vars)?;
    let expected = expected_statuses(&vars)?;
    let body: Option<Json> = vars
        .get("body")
        .filter(|v| !matches!(v, Value::Null))
        .map(Value::to_json);

    let client = task.client(ALIAS).await?;
    let mut request = client.request(method, &path).query(&query);
    if let Some(body) = &body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let ok = match &expected {
        Some(list) => list.contains(&status),
        None => response.status().is_success(),
    };
    if !ok {
        let wanted = match &expected {
            Some(list) => list
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            None => "2xx".to_owned(),
        };
        let url = redact_url(response.url());
        // 4xx and 5xx carry the start of the answer (secrets scrubbed); others only the status.
        let failed = match response.error_for_status() {
            Err(error) => error.to_string(),
            Ok(_) => format!("{} {url} answered {status}", method_name(&vars)),
        };
        return Err(UnitError::failure(format!(
            "{failed} (expected {wanted}; set expectedStatuses to accept it)"
        )));
    }
    let answer = answer(&response)?;
    Ok(variables! { "status": i64::from(status), "response": answer })
}

fn path(vars: &Variables) -> Result<String, UnitError> {
    let value = check_variable_allow_empty(vars, "path")?;
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        other => Err(UnitError::InvalidVariable {
            name: "path".into(),
            expected: "a string (a path below the service's API root)".into(),
            found: other.describe(),
        }),
    }
}

fn method_name(vars: &Variables) -> String {
    method(vars).map(|m| m.to_string()).unwrap_or_default()
}

fn method(vars: &Variables) -> Result<Method, UnitError> {
    let Some(name) = optional_variable_as::<String>(vars, "method")? else {
        return Ok(Method::GET);
    };
    let upper = name.trim().to_ascii_uppercase();
    match Method::from_bytes(upper.as_bytes()) {
        Ok(method) if METHODS.contains(&upper.as_str()) => Ok(method),
        _ => Err(UnitError::InvalidVariable {
            name: "method".into(),
            expected: format!("one of {}", METHODS.join(", ")),
            found: describe(vars, "method"),
        }),
    }
}

/// `query` as name/value pairs; a list value repeats its parameter.
fn query(vars: &Variables) -> Result<Vec<(String, String)>, UnitError> {
    let Some(value) = vars.get("query").filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    let invalid = |found: String| UnitError::InvalidVariable {
        name: "query".into(),
        expected: "a JSON object of strings, numbers or booleans (or lists of them)".into(),
        found,
    };
    let Json::Object(map) = value.to_json() else {
        return Err(invalid(value.describe()));
    };
    let mut pairs = Vec::new();
    for (name, value) in map {
        let values = match value {
            Json::Array(items) => items,
            single => vec![single],
        };
        for item in values {
            let text = match item {
                Json::String(s) => s,
                Json::Number(n) => n.to_string(),
                Json::Bool(b) => b.to_string(),
                other => return Err(invalid(format!("{other} for the parameter '{name}'"))),
            };
            pairs.push((name.clone(), text));
        }
    }
    Ok(pairs)
}

fn expected_statuses(vars: &Variables) -> Result<Option<Vec<u16>>, UnitError> {
    let invalid = |found: String| UnitError::InvalidVariable {
        name: "expectedStatuses".into(),
        expected: "a list of HTTP status codes (integers from 100 to 599), e.g. [200, 404]".into(),
        found,
    };
    let Some(list) = optional_variable_as::<Vec<i64>>(vars, "expectedStatuses")
        .map_err(|_| invalid(describe(vars, "expectedStatuses")))?
    else {
        return Ok(None);
    };
    list.iter()
        .map(|&code| {
            u16::try_from(code)
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| invalid(format!("the status {code}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn describe(vars: &Variables, name: &str) -> String {
    vars.get(name)
        .map(Value::describe)
        .unwrap_or_else(|| "nothing".into())
}

/// The body as a variable: JSON when the answer says so, else text; empty is `null`.
fn answer(response: &ServiceResponse) -> Result<Json, UnitError> {
    if response.bytes().iter().all(u8::is_ascii_whitespace) {
        return Ok(Json::Null);
    }
    let is_json = response
        .header("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false);
    if is_json {
        Ok(response.json::<Json>()?)
    } else {
        Ok(Json::String(response.text()))
    }
}
