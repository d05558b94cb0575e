//! `send_email`: one message through the mail server under the alias `smtp`.

use bptl_core::EventKind;
use bptl_core::prelude::*;
use bptl_credentials::{ExposeSecret, Service, SmtpSecurity, SmtpServer, TaskServices};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value as Json;

use crate::files;

/// The alias of the mail server `send_email` sends through.
pub(crate) const ALIAS: &str = "smtp";

pub(crate) async fn run(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let vars = task.get_variables()?;
    let service = task.service(ALIAS)?;
    let Some(server) = service.smtp_server() else {
        return Err(UnitError::failure(format!(
            "the service '{}' under the alias 'smtp' is not a mail server: give it \
             api_type = \"smtp\" and a [services.{}.smtp] table",
            service.name(),
            service.name()
        )));
    };
    let to = addresses(&vars, "to")?;
    if to.is_empty() {
        return Err(UnitError::missing_variable("to"));
    }
    let cc = addresses(&vars, "cc")?;
    let bcc = addresses(&vars, "bcc")?;
    let templates = Templates::new(&vars);
    let subject = templates
        .render(&vars, "subject", true)?
        .unwrap_or_default();
    let text = templates.render(&vars, "text", false)?;
    let html = templates.render(&vars, "html", false)?;
    let attachments = attachments(task, &vars).await?;

    let from: Mailbox = server.from().parse().map_err(|e| {
        UnitError::failure(format!(
            "services.{}.smtp.from: {:?} is not a mail address ({e})",
            service.name(),
            server.from()
        ))
    })?;
    let message_id = format!("<bptl.{}@{}>", id_part(task.task_id()), from.email.domain());
    let mut builder = Message::builder()
        .from(from)
        .subject(subject)
        .message_id(Some(message_id.clone()))
        .date_now();
    for mailbox in to {
        builder = builder.to(mailbox);
    }
    for mailbox in cc {
        builder = builder.cc(mailbox);
    }
    for mailbox in bcc {
        builder = builder.bcc(mailbox);
    }
    let body = match (text, html) {
        (Some(text), Some(html)) => MultiPart::alternative_plain_html(text, html),
        (Some(text), None) => MultiPart::mixed().singlepart(SinglePart::plain(text)),
        (None, Some(html)) => MultiPart::mixed().singlepart(SinglePart::html(html)),
        (None, None) => {
            return Err(UnitError::failure(
                "send_email needs a body: set the variable text (a plain-text template), html \
                 (an HTML template) or both",
            ));
        }
    };
    let message = if attachments.is_empty() {
        builder.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for part in attachments {
            mixed = mixed.singlepart(part);
        }
        builder.multipart(mixed)
    }
    .map_err(|e| UnitError::failure(format!("the message cannot be built: {e}")))?;

    let transport = transport(&service, server)?;
    transport
        .send(message)
        .await
        .map_err(|e| send_error(&service, server, &e))?;
    if let Some(timeline) = task.timeline() {
        timeline.record(
            EventKind::Note,
            format!(
                "sent the message {message_id} through {}:{}",
                server.host(),
                server.port()
            ),
            serde_json::json!({
                "service": service.name(),
                "messageId": message_id,
                "recipients": recipient_count(&vars),
            }),
        );
    }
    Ok(variables! { "messageId": message_id })
}

/// The task id as the left part of a Message-ID: the same task (and its retries) always has
/// the same id, so a message sent twice is recognisable as one.
fn id_part(task_id: &str) -> String {
    task_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn recipient_count(vars: &Variables) -> usize {
    ["to", "cc", "bcc"]
        .iter()
        .map(|name| addresses(vars, name).map_or(0, |a| a.len()))
        .sum()
}

/// `name` as mailboxes: one address (`"a@example.org"`, `"Name <a@example.org>"`) or a list.
fn addresses(vars: &Variables, name: &str) -> Result<Vec<Mailbox>, UnitError> {
    let invalid = |found: String| UnitError::InvalidVariable {
        name: name.into(),
        expected: "a mail address (\"a@example.org\" or \"Name <a@example.org>\") or a list of \
                   them"
            .into(),
        found,
    };
    let Some(value) = vars.get(name).filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    let texts = match value.to_json() {
        Json::String(s) => vec![s],
        Json::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Json::String(s) => Ok(s),
                other => Err(invalid(format!("a list holding {other}"))),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid(value.describe())),
    };
    texts
        .iter()
        .map(|text| {
            text.trim()
                .parse::<Mailbox>()
                .map_err(|e| invalid(format!("{text:?}, which is not a mail address ({e})")))
        })
        .collect()
}

/// The templates' environment: strict about undefined variables, HTML escaped in `html`.
struct Templates {
    env: Environment<'static>,
    context: minijinja::Value,
}

impl Templates {
    fn new(vars: &Variables) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        Self {
            env,
            context: minijinja::Value::from(Serde(vars.to_json())),
        }
    }

    /// The variable `name` rendered as a template (`html` with HTML escaping).
    fn render(
        &self,
        vars: &Variables,
        name: &str,
        required: bool,
    ) -> Result<Option<String>, UnitError> {
        let source = match vars.get(name) {
            Some(Value::String(s)) if !s.is_empty() => s,
            None | Some(Value::Null) | Some(Value::String(_)) if !required => return Ok(None),
            None | Some(Value::Null) | Some(Value::String(_)) => {
                return Err(UnitError::missing_variable(name));
            }
            Some(other) => {
                return Err(UnitError::InvalidVariable {
                    name: name.into(),
                    expected: "a template string".into(),
                    found: other.describe(),
                });
            }
        };
        let template_name = if name == "html" { "html.html" } else { name };
        self.env
            .render_named_str(template_name, source, self.context.clone())
            .map(Some)
            .map_err(|e| {
                UnitError::failure(format!(
                    "the template in the variable {name} cannot be rendered: {e}"
                ))
            })
    }
}

/// The File variables `attachments` names, as attachment parts.
async fn attachments(task: &dyn BaseTask, vars: &Variables) -> Result<Vec<SinglePart>, UnitError> {
    let invalid = |found: String| UnitError::InvalidVariable {
        name: "attachments".into(),
        expected: "a list of names of File variables, e.g. [\"invoice\"]".into(),
        found,
    };
    let names: Vec<String> = match vars.get("attachments").filter(|v| !v.is_empty()) {
        None => return Ok(Vec::new()),
        Some(value) => match value.to_json() {
            Json::String(s) => vec![s],
            Json::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Json::String(s) => Ok(s),
                    other => Err(invalid(format!("a list holding {other}"))),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(invalid(value.describe())),
        },
    };
    let mut parts = Vec::new();
    for name in names {
        let file = match vars.get(&name) {
            Some(Value::File(file)) => file,
            Some(other) => {
                return Err(UnitError::InvalidVariable {
                    name: name.clone(),
                    expected: "a File (it is listed in attachments)".into(),
                    found: other.describe(),
                });
            }
            None => {
                return Err(UnitError::failure(format!(
                    "attachments names the variable '{name}', which the task does not have"
                )));
            }
        };
        let file = files::with_content(task, &name, file).await?;
        let content_type = file
            .mime_type
            .as_deref()
            .and_then(|m| ContentType::parse(m).ok())
            .unwrap_or_else(|| {
                ContentType::parse("application/octet-stream").expect("a valid content type")
            });
        parts.push(
            Attachment::new(file.filename.clone())
                .body(file.content.unwrap_or_default(), content_type),
        );
    }
    Ok(parts)
}

/// The SMTP transport for `server`, with its TLS, CA file, login and the service's timeout.
fn transport(
    service: &Service,
    server: &SmtpServer,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, UnitError> {
    let tls_parameters = || {
        let mut builder = TlsParameters::builder(server.host().to_owned());
        if let Some((path, pem)) = server.ca_file() {
            let certificate = Certificate::from_pem(pem).map_err(|e| {
                UnitError::failure(format!(
                    "services.{}.smtp.ca_file: {} is not a PEM certificate ({e})",
                    service.name(),
                    path.display()
                ))
            })?;
            builder = builder.add_root_certificate(certificate);
        }
        builder.build_rustls().map_err(|e| {
            UnitError::failure(format!(
                "TLS for the mail server of the service '{}' cannot be set up: {e}",
                service.name()
            ))
        })
    };
    let tls = match server.security() {
        SmtpSecurity::Starttls => Tls::Required(tls_parameters()?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        SmtpSecurity::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host())
        .port(server.port())
        .tls(tls)
        .timeout(Some(service.request_timeout()));
    if let Some((user, password)) = server.login() {
        builder = builder.credentials(Credentials::new(
            user.expose_secret().to_owned(),
            password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
}

/// What went wrong, naming the service and server; never the user name or password.
fn send_error(
    service: &Service,
    server: &SmtpServer,
    error: &lettre::transport::smtp::Error,
) -> UnitError {
    let name = service.name();
    let at = format!("{}:{}", server.host(), server.port());
    let code = error.status().map(|c| c.to_string());
    let login_refused =
        server.login().is_some() && matches!(code.as_deref(), Some("535" | "534" | "530" | "454"));
    let message = if login_refused {
        format!(
            "the mail server of the service '{name}' ({at}) refused the login: {error}; check \
             services.{name}.smtp.username and password"
        )
    } else if error.is_tls()
        || (server.security() != SmtpSecurity::None
            && error
                .to_string()
                .to_ascii_lowercase()
                .contains("certificate"))
    {
        // A handshake refused for the server's certificate comes as a connection error.
        format!(
            "TLS with the mail server of the service '{name}' ({at}) failed: {error}; check \
             services.{name}.smtp.security and ca_file"
        )
    } else {
        format!("sending through the mail server of the service '{name}' ({at}) failed: {error}")
    };
    UnitError::failure(message)
}
