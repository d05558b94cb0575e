//! The checks of credentials against their service's auth scheme, and across services and
//! applications (duplicates, unknown services, services nobody can authenticate to).

use std::collections::{BTreeMap, BTreeSet};

use secrecy::{ExposeSecret, SecretString};

use crate::model::{Application, Auth, Credentials, Service};

use super::{ConfigProblem, Owner, app_key};

fn is_blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

fn secret_blank(s: Option<&SecretString>) -> bool {
    s.is_none_or(|s| s.expose_secret().is_empty())
}

/// Check credentials against the service's auth, BPTL's rules: none takes no credentials; ZGW
/// and OAuth2 need client_id and secret; API key needs header and value; bearer needs token.
/// Empty values count as missing: an empty secret never signs a token.
pub(crate) fn credential_problems(auth: &Auth, owner: &Owner<'_>, c: &Credentials) -> Vec<String> {
    let kind = auth.kind();
    let mut out = Vec::new();
    let (needed, optional): (&[&str], &[&str]) = match auth {
        Auth::None => (&[], &[]),
        Auth::ApiKey => (&["header", "value"], &[]),
        Auth::Zgw { .. } => (
            &["client_id", "secret"],
            &["user_id", "user_representation"],
        ),
        Auth::OAuth2 { .. } => (&["client_id", "secret"], &["scope"]),
        Auth::Bearer => (&["token"], &[]),
    };
    let set = c.set_fields();
    if matches!(auth, Auth::None) {
        if !set.is_empty() {
            out.push(format!(
                "{owner} must be empty: the service uses no authentication (auth = \"none\") and takes no credentials, but {} {} set; remove {}.",
                set.join(", "),
                if set.len() == 1 { "is" } else { "are" },
                if set.len() == 1 { "it" } else { "them" },
            ));
        }
        return out;
    }
    let extra: Vec<&str> = set
        .iter()
        .copied()
        .filter(|f| !needed.contains(f) && !optional.contains(f))
        .collect();
    if !extra.is_empty() {
        out.push(format!(
            "{owner} set {} which do not apply to auth = \"{kind}\"; remove {}.",
            extra.join(", "),
            if extra.len() == 1 { "it" } else { "them" },
        ));
    }
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|f| match *f {
            "client_id" => is_blank(c.client_id.as_deref()),
            "header" => is_blank(c.header.as_deref()),
            "secret" => secret_blank(c.secret.as_ref()),
            "value" => secret_blank(c.value.as_ref()),
            "token" => secret_blank(c.token.as_ref()),
            _ => false,
        })
        .collect();
    if !missing.is_empty() {
        let empty_secret = missing.contains(&"secret") && c.secret.is_some();
        out.push(format!(
            "{owner} need {} for auth = \"{kind}\"; missing or empty: {}.{}",
            needed.join(" and "),
            missing.join(", "),
            if empty_secret {
                " An empty secret is refused: a token signed with an empty secret proves nothing."
            } else {
                ""
            }
        ));
    }
    if let (Auth::ApiKey, Some(header)) = (auth, &c.header)
        && !header.trim().is_empty()
        && reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err()
    {
        out.push(format!(
            "{owner} have header = {header:?}, which is not a valid HTTP header name."
        ));
    }
    out
}

/// Check services and applications together: duplicates, credentials per auth scheme,
/// credentials for unknown services, services nobody can authenticate to.
pub(crate) fn model_problems(
    services: &[Service],
    apps: &[Application],
    configured: &BTreeSet<String>,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut by_name: BTreeMap<&str, &Service> = BTreeMap::new();
    for s in services {
        if by_name.insert(s.name(), s).is_some() {
            problems.push(ConfigProblem::new(
                format!("services.{}", s.name()),
                format!(
                    "the service '{}' is defined twice: service names are unique",
                    s.name()
                ),
            ));
        }
        if let Some(c) = s.own_credentials() {
            for m in credential_problems(s.auth_scheme(), &Owner::Service(s.name()), c) {
                problems.push(ConfigProblem::new(format!("services.{}", s.name()), m));
            }
        }
    }
    let mut seen_apps = BTreeSet::new();
    for app in apps {
        let akey = app_key(app.app_id());
        if !seen_apps.insert(app.app_id()) {
            problems.push(ConfigProblem::new(
                akey.clone(),
                format!(
                    "the application '{}' is defined twice: app ids are unique",
                    app.app_id()
                ),
            ));
        }
        if app.app_id().trim().is_empty() {
            problems.push(ConfigProblem::new(
                akey.clone(),
                "an application needs a non-empty app id (the value of the process variable bptlAppId)",
            ));
        }
        for (service, creds) in app.all_credentials() {
            let key = format!("{akey}.credentials.{service}");
            match by_name.get(service) {
                Some(s) => {
                    let owner = Owner::App {
                        app_id: app.app_id(),
                        service,
                    };
                    for m in credential_problems(s.auth_scheme(), &owner, creds) {
                        problems.push(ConfigProblem::new(key.clone(), m));
                    }
                }
                None if configured.contains(service) => {}
                None => problems.push(ConfigProblem::new(
                    key,
                    format!(
                        "the application '{}' has credentials for the service '{service}', which is not configured: add [services.{service}] or remove them",
                        app.app_id()
                    ),
                )),
            }
        }
    }
    for s in services {
        if matches!(s.auth_scheme(), Auth::None) || s.own_credentials().is_some() {
            continue;
        }
        let some_app = apps.iter().any(|a| a.credentials_for(s.name()).is_some());
        if !some_app {
            problems.push(ConfigProblem::new(
                format!("services.{}", s.name()),
                format!(
                    "the service '{}' uses auth = \"{}\" but has no credentials, and no application has credentials for it: \
                     add them to [services.{}] or to [apps.\"APP_ID\".credentials.{}]",
                    s.name(),
                    s.auth_scheme().kind(),
                    s.name(),
                    s.name()
                ),
            ));
        }
    }
    problems
}
