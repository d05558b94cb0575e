//! The HTML pages (maud: compile-checked, every interpolation escaped).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use bptl_core::TaskStatus;
use bptl_core::store::{TaskRecord, encode_variables};
use jiff::{SignedDuration, Timestamp};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

use super::api::{Failure, TaskQuery, page_of};
use super::auth::User;
use super::{DashState, encode};

/// The page around `body`, with `active` highlighted in the navigation.
fn layout(title: &str, active: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · bptl" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header {
                    span.brand { "bptl" }
                    nav {
                        @for (href, label) in [("/", "Overview"), ("/tasks", "Tasks"), ("/units", "Units and mappings"), ("/api", "API")] {
                            a href=(href) class=[(label == active).then_some("active")] { (label) }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

fn page(markup: Markup) -> Response {
    Html(markup.into_string()).into_response()
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let body = layout(
        status.canonical_reason().unwrap_or("Error"),
        "",
        html! { p.error { (message) } p { a href="/" { "Back to the overview" } } },
    );
    (status, Html(body.into_string())).into_response()
}

impl Failure {
    fn page(self) -> Response {
        error_page(self.status, &self.message)
    }
}

fn status_badge(status: TaskStatus) -> Markup {
    html! { span class={ "status " (status.as_str()) } { (status.as_str()) } }
}

fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn task_href(r: &TaskRecord) -> String {
    format!("/tasks/{}", encode(&r.key().to_string()))
}

/// `GET /`.
pub(crate) async fn overview(State(state): State<Arc<DashState>>) -> Response {
    let now = Timestamp::now();
    let since = now - SignedDuration::from_hours(24);
    let (stats, hourly) = match tokio::try_join!(
        state.store.stats(Some(since)),
        state.store.hourly(now - SignedDuration::from_hours(23))
    ) {
        Ok(found) => found,
        Err(e) => return Failure::store(e).page(),
    };
    let mut topics: BTreeMap<&str, BTreeMap<TaskStatus, u64>> = BTreeMap::new();
    for row in &stats {
        topics
            .entry(row.topic.as_str())
            .or_default()
            .insert(row.status, row.count);
    }
    let hours = super::chart::last_24_hours(&hourly, now);
    let engine = engine_status(&state).await;
    let body = html! {
        section {
            h2 { "Outcomes per hour, last 24 hours" }
            (super::chart::chart(&hours))
        }
        section {
            h2 { "Tasks per topic and status, fetched in the last 24 hours" }
            @if topics.is_empty() {
                p.empty { "No task was fetched in the last 24 hours." }
            } @else {
                table.stats {
                    thead { tr { th { "Topic" } @for s in TaskStatus::ALL { th.num { (s.as_str()) } } th.num { "total" } } }
                    tbody {
                        @for (topic, counts) in &topics {
                            tr {
                                td { a href={ "/tasks?topic=" (encode(topic)) "&since=24h" } { (topic) } }
                                @for s in TaskStatus::ALL {
                                    td.num {
                                        @match counts.get(&s) {
                                            Some(n) => a href={ "/tasks?topic=" (encode(topic)) "&status=" (s.as_str()) "&since=24h" } { (n) },
                                            None => span.zero { "0" },
                                        }
                                    }
                                }
                                td.num { (counts.values().sum::<u64>()) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(engine) = engine {
            section { h2 { "Engine" } (engine) }
        }
        @if let Some(worker) = &state.worker {
            @let s = worker.stats();
            section {
                h2 { "This worker" }
                dl.fields {
                    dt { "Worker id" } dd { code { (worker.worker_id()) } }
                    dt { "Fetched" } dd { (s.fetched) }
                    dt { "Completed" } dd { (s.completed) }
                    dt { "Failed" } dd { (s.failed) }
                    dt { "BPMN errors" } dd { (s.bpmn_errors) }
                    dt { "Not reported" } dd { (s.not_reported) }
                    dt { "Recovered" } dd { (s.recovered) }
                    dt { "Running now" } dd { (s.in_flight) }
                }
            }
        }
    };
    page(layout("Overview", "Overview", body))
}

/// The engine's address (without credentials) and whether it answers.
async fn engine_status(state: &DashState) -> Option<Markup> {
    let config = state.config.as_ref()?;
    let shown = match bptl_credentials::Url::parse(&config.engine.url) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    };
    let answer = match config.engine_client() {
        Ok(client) => {
            match tokio::time::timeout(std::time::Duration::from_secs(3), client.version()).await {
                Ok(Ok(version)) => Ok(version),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer within 3 s".to_owned()),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    Some(html! {
        dl.fields {
            dt { "Engine" } dd { code { (shown) } }
            dt { "Reachable" }
            dd {
                @match &answer {
                    Ok(version) => span.ok { "yes, version " (version) },
                    Err(e) => span.error { "no: " (e) },
                }
            }
        }
    })
}

/// `GET /tasks`.
pub(crate) async fn tasks(
    State(state): State<Arc<DashState>>,
    Query(query): Query<TaskQuery>,
) -> Response {
    let (records, more) = match page_of(&state, &query).await {
        Ok(found) => found,
        Err(f) => return f.page(),
    };
    let page_no = query.page();
    let body = html! {
        form.filters method="get" action="/tasks" {
            label { "Status "
                select name="status" {
                    option value="" { "any" }
                    @for s in TaskStatus::ALL {
                        option value=(s.as_str()) selected[query.status == s.as_str()] { (s.as_str()) }
                    }
                }
            }
            label { "Topic " input type="text" name="topic" value=(query.topic); }
            label { "Process instance " input type="text" name="process_instance" value=(query.process_instance); }
            label { "Business key " input type="text" name="business_key" value=(query.business_key); }
            label { "Since " input type="text" name="since" placeholder="e.g. 24h, 7d" value=(query.since) size="6"; }
            button type="submit" { "Filter" }
            " " a href="/tasks" { "clear" }
        }
        @if records.is_empty() {
            p.empty { "No task record matches." }
        } @else {
            table.tasks {
                thead { tr { th { "Fetched" } th { "Status" } th { "Topic" } th { "Task" } th { "Process instance" } th { "Business key" } th { "Worker" } th.num { "Runs" } th { "Error" } } }
                tbody {
                    @for r in &records {
                        tr {
                            td.nowrap { (when(r.created_at)) }
                            td { (status_badge(r.status)) }
                            td { (r.topic) }
                            td { a href=(task_href(r)) { code { (r.task_id) } } }
                            td { @if let Some(pi) = &r.process_instance_id { a href={ "/tasks?process_instance=" (encode(pi)) } { code { (pi) } } } }
                            td { @if let Some(bk) = &r.business_key { (bk) } }
                            td { code { (r.worker_id) } }
                            td.num { (r.executions) }
                            td.error { @if let Some(e) = &r.execution_error { (first_line(e)) } }
                        }
                    }
                }
            }
        }
        nav.pager {
            @if page_no > 1 { a rel="prev" href={ "/tasks?" (query.to_query(page_no - 1)) } { "← newer" } }
            span { "page " (page_no) }
            @if more && page_no < super::MAX_PAGE { a rel="next" href={ "/tasks?" (query.to_query(page_no + 1)) } { "older →" } }
        }
        p.hint { "Newest first, " (super::PAGE_SIZE) " per page. The same list as JSON: " a href={ "/api/tasks?" (query.to_query(page_no)) } { "/api/tasks" } }
    };
    page(layout("Tasks", "Tasks", body))
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 120 {
        format!("{}…", line.chars().take(120).collect::<String>())
    } else {
        line.to_owned()
    }
}

fn pretty(json: &Value) -> String {
    serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string())
}

/// Typed variables (`{name: {type, value, valueInfo?}}`) as a table.
fn variables_table(vars: &Value) -> Markup {
    match vars.as_object() {
        Some(map) if !map.is_empty() => html! {
            table.vars {
                thead { tr { th { "Name" } th { "Type" } th { "Value" } } }
                tbody {
                    @for (name, typed) in map {
                        tr {
                            td { code { (name) } }
                            td { (typed.get("type").and_then(Value::as_str).unwrap_or("?")) }
                            td {
                                @let value = typed.get("value").unwrap_or(&Value::Null);
                                @match value {
                                    Value::String(s) => pre { (s) },
                                    other => pre { (pretty(other)) },
                                }
                                @if let Some(info) = typed.get("valueInfo").filter(|i| i.as_object().is_some_and(|o| !o.is_empty())) {
                                    details { summary { "value info" } pre { (pretty(info)) } }
                                }
                            }
                        }
                    }
                }
            }
        },
        _ => html! { p.empty { "none" } },
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct TaskPageQuery {
    #[serde(default)]
    ran: String,
}

/// `GET /tasks/{id}`.
pub(crate) async fn task(
    State(state): State<Arc<DashState>>,
    Path(id): Path<String>,
    Query(query): Query<TaskPageQuery>,
) -> Response {
    let record = match crate::ops::find(&*state.store, &id).await {
        Ok(r) => r,
        Err(e) => return Failure::ops(e).page(),
    };
    let timeline = match state.store.timeline(&record.key()).await {
        Ok(t) => t,
        Err(e) => return Failure::store(e).page(),
    };
    let results = record.result_variables.as_ref().map(encode_variables);
    let key = record.key().to_string();
    let body = html! {
        @if !query.ran.is_empty() {
            p.notice { "Run again: the task is now " strong { (query.ran) } "." }
        }
        dl.fields {
            dt { "Status" } dd { (status_badge(record.status)) }
            dt { "Task" } dd { code { (key) } }
            dt { "Topic" } dd { a href={ "/tasks?topic=" (encode(&record.topic)) } { (record.topic) } }
            dt { "Process instance" } dd { @match &record.process_instance_id { Some(pi) => a href={ "/tasks?process_instance=" (encode(pi)) } { code { (pi) } }, None => "—" } }
            dt { "Business key" } dd { (record.business_key.as_deref().unwrap_or("—")) }
            dt { "Worker" } dd { code { (record.worker_id) } }
            dt { "Priority" } dd { (record.priority) }
            dt { "Retries" } dd { @match record.retries { Some(n) => (n), None => "— (never failed)" } }
            dt { "Lock expires" } dd { @match record.lock_expires_at { Some(t) => (when(t)), None => "—" } }
            dt { "Executions" } dd { (record.executions) }
            dt { "Fetched" } dd { (when(record.created_at)) }
            dt { "Updated" } dd { (when(record.updated_at)) }
            dt { "Reported" } dd { @match record.reported_at { Some(t) => (when(t)), None => "—" } }
        }
        @if state.allow_actions && record.status != TaskStatus::InProgress {
            p { a.button href={ (task_href(&record)) "/run-again" } { "Run again…" } }
        }
        @if let Some(e) = &record.execution_error {
            section { h2 { "Unit error" } pre.error { (e) } }
        }
        @if let Some(e) = &record.engine_error {
            section { h2 { "Engine's last error" } pre.error { (e) } }
        }
        section { h2 { "Variables" } (variables_table(&record.variables)) }
        section {
            h2 { "Result variables" }
            @match &results { Some(r) => (variables_table(r)), None => p.empty { "none (not performed)" } }
        }
        section {
            h2 { "Timeline" }
            @if timeline.is_empty() { p.empty { "empty" } } @else {
                table.timeline {
                    thead { tr { th { "At" } th { "Kind" } th { "What" } } }
                    tbody {
                        @for e in &timeline {
                            tr class={ "kind-" (e.kind.as_str()) } {
                                td.nowrap { (e.at.strftime("%H:%M:%S%.3f")) }
                                td { (e.kind.as_str()) }
                                td {
                                    (e.message)
                                    @if !e.data.is_null() {
                                        details open[e.kind == bptl_core::EventKind::Request] { summary { "details" } pre { (pretty(&e.data)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.hint { "As JSON: " a href={ "/api/tasks/" (encode(&key)) } { "/api/tasks/" (key) } }
    };
    page(layout(&format!("Task {}", record.task_id), "Tasks", body))
}

/// `GET /tasks/{id}/run-again`: the confirmation.
pub(crate) async fn confirm_run_again(
    State(state): State<Arc<DashState>>,
    Path(id): Path<String>,
) -> Response {
    if !state.allow_actions {
        return error_page(
            StatusCode::FORBIDDEN,
            "Actions are off: set [dashboard] allow_actions = true to run tasks again from here.",
        );
    }
    let record = match crate::ops::find(&*state.store, &id).await {
        Ok(r) => r,
        Err(e) => return Failure::ops(e).page(),
    };
    let body = html! {
        p { "Run the unit of task " code { (record.key().to_string()) } " (topic " strong { (record.topic) } ", now " (status_badge(record.status)) ") again?" }
        p { "As " code { "worker execute --force" } ": the status is reset, a fresh lock is taken from the engine (a lock another worker holds is released first), the unit runs here and its outcome is reported. Your name goes on the task's timeline." }
        form method="post" action={ (task_href(&record)) "/run-again" } {
            input type="hidden" name="csrf" value=(state.csrf);
            button.danger type="submit" { "Run again" }
            " " a href=(task_href(&record)) { "Cancel" }
        }
    };
    page(layout("Run again?", "Tasks", body))
}

/// The confirmation form.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct RunAgainForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /tasks/{id}/run-again`.
pub(crate) async fn run_again(
    State(state): State<Arc<DashState>>,
    Path(id): Path<String>,
    axum::Extension(User(who)): axum::Extension<User>,
    headers: HeaderMap,
    Form(form): Form<RunAgainForm>,
) -> Response {
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site" || v == "same-site");
    if cross_site || !super::auth::same_token(&form.csrf, &state.csrf) {
        return error_page(
            StatusCode::FORBIDDEN,
            "This form did not come from this dashboard (its CSRF token is missing or stale): open the task again and confirm from there.",
        );
    }
    match super::run_again(&state, &id, &who).await {
        Ok(status) => {
            Redirect::to(&format!("/tasks/{}?ran={}", encode(&id), status.as_str())).into_response()
        }
        Err(message) => error_page(StatusCode::CONFLICT, &format!("Not run again: {message}")),
    }
}

/// A unit's documentation (Markdown-like) as HTML; raw HTML in it is shown as text.
fn markdown(doc: &str) -> Markup {
    use pulldown_cmark::{Event, Parser};
    let events = Parser::new(doc).map(|event| match event {
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        other => other,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    PreEscaped(out)
}

/// `GET /units`.
pub(crate) async fn units(State(state): State<Arc<DashState>>) -> Response {
    let Some(registry) = state.registry else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The registry of work units cannot be read (see the worker's log).",
        );
    };
    let mut units: Vec<_> = registry.iter().collect();
    units.sort_by_key(|u| u.path);
    let mappings = state.config.as_ref().map(|c| &c.task_mappings);
    let body = html! {
        section {
            h2 { "Task mappings" }
            @match mappings {
                None => p.empty { "No worker configuration here (serve with " code { "worker dashboard --config FILE" } " to see the mappings)." },
                Some(ms) if ms.is_empty() => p.empty { "No [[task_mappings]] configured." },
                Some(ms) => table.mappings {
                    thead { tr { th { "Topic" } th { "Unit" } th { "Active" } th { "Services" } th { "Problems" } } }
                    tbody {
                        @for (i, m) in ms.iter().enumerate() {
                            @let tag = format!("task_mappings[{i}]");
                            @let topic = format!("'{}'", m.topic);
                            @let problems: Vec<&String> = state.problems.iter().filter(|p| p.contains(&tag) || p.contains(&topic)).collect();
                            tr {
                                td { a href={ "/tasks?topic=" (encode(&m.topic)) } { (m.topic) } }
                                td { a href={ "#" (encode(&m.callback)) } { code { (m.callback) } } }
                                td { @if m.active { "yes" } @else { "no" } }
                                td { @for (alias, service) in &m.services { code { (alias) } " → " (service) br; } }
                                td { @if problems.is_empty() { span.ok { "none" } } @else { ul.problems { @for p in problems { li { (p) } } } } }
                            }
                        }
                    }
                },
            }
            @if !state.problems.is_empty() {
                details { summary { "All " (state.problems.len()) " problem(s) " code { "worker check" } " reports" } ul.problems { @for p in &state.problems { li { (p) } } } }
            }
        }
        section {
            h2 { "Work units (" (units.len()) ")" }
            @for u in &units {
                article.unit id=(encode(u.path)) {
                    h3 { code { (u.path) } }
                    div.doc { (markdown(u.documentation())) }
                    @if u.required_services.is_empty() {
                        p.hint { "Needs no service." }
                    } @else {
                        table.services {
                            thead { tr { th { "Service type" } th { "Alias" } th { "Used for" } } }
                            tbody { @for s in u.required_services { tr { td { code { (s.service_type) } } td { (s.alias.unwrap_or("any")) } td { (s.description) } } } }
                        }
                    }
                    p.hint { (u.location()) }
                }
            }
        }
    };
    page(layout("Units and mappings", "Units and mappings", body))
}

/// Anything else.
pub(crate) async fn not_found() -> Response {
    let mut response = error_page(
        StatusCode::NOT_FOUND,
        "No such page: the pages are the overview, the tasks and the units.",
    );
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::markdown;

    #[test]
    fn documentation_renders_and_html_in_it_stays_text() {
        let html = markdown("Doubles `amount`.\n\n* one\n* two\n\n<script>alert(1)</script>")
            .into_string();
        assert!(html.contains("<code>amount</code>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }
}
