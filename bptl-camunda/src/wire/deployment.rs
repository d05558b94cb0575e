//! Deployments and process definitions as Camunda's engine-rest answers them: read by the
//! client ([`CamundaClient::deploy`](crate::CamundaClient::deploy),
//! [`get_process_definition_by_key`](crate::CamundaClient::get_process_definition_by_key), ...)
//! and written by the dev engine.

use std::collections::BTreeMap;

use bptl_core::DateValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::fields::{empty_as_null, null_as_default, optional_date};

/// A process definition (`GET /process-definition/...`, and in a deployment's answer).
///
/// Fields are in the order of their JSON names (see [`ExternalTaskBody`](super::ExternalTaskBody));
/// every one is written, `null` when unset, as Camunda writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessDefinition {
    /// The definitions' `targetNamespace`.
    #[serde(default)]
    pub category: Option<String>,
    /// The deployment it came with.
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// The description.
    #[serde(default)]
    pub description: Option<String>,
    /// The diagram resource, if any.
    #[serde(default)]
    pub diagram: Option<String>,
    /// The history time to live, in days.
    #[serde(default)]
    pub history_time_to_live: Option<i64>,
    /// The definition id.
    pub id: String,
    /// The key (the BPMN process id).
    #[serde(default, deserialize_with = "null_as_default")]
    pub key: String,
    /// The name.
    #[serde(default)]
    pub name: Option<String>,
    /// The resource (file) name.
    #[serde(default)]
    pub resource: Option<String>,
    /// Whether Tasklist may start it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub startable_in_tasklist: bool,
    /// Whether it is suspended.
    #[serde(default, deserialize_with = "null_as_default")]
    pub suspended: bool,
    /// The tenant, if any.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The version (1, 2, ...).
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: i32,
    /// The version tag.
    #[serde(default)]
    pub version_tag: Option<String>,
}

/// A link of a resource (`{"method", "href", "rel"}`); the dev engine writes none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The URL.
    #[serde(default)]
    pub href: Option<String>,
    /// The HTTP method.
    #[serde(default)]
    pub method: Option<String>,
    /// The relation.
    #[serde(default)]
    pub rel: Option<String>,
}

/// A deployment as `POST /deployment/create` answers it (Camunda's
/// `DeploymentWithDefinitionsDto`), with the process definitions it created; `GET
/// /deployment` answers it without the `deployed*Definitions`
/// ([`Deployment::resource_json`]).
///
/// ```
/// use bptl_camunda::wire::Deployment;
///
/// let deployment: Deployment = serde_json::from_str(
///     r#"{"id": "d1", "deployedProcessDefinitions": null, "deploymentTime": "2015-10-06T16:34:42.000+0200"}"#,
/// )?;
/// assert!(deployment.deployed_process_definitions.is_empty());
/// assert_eq!(
///     deployment.resource_json()["deploymentTime"],
///     "2015-10-06T16:34:42.000+0200"
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The case definitions it created (the dev engine has none).
    #[serde(default)]
    pub deployed_case_definitions: Option<Map<String, Value>>,
    /// The decision definitions it created (the dev engine has none).
    #[serde(default)]
    pub deployed_decision_definitions: Option<Map<String, Value>>,
    /// The decision requirements definitions it created (the dev engine has none).
    #[serde(default)]
    pub deployed_decision_requirements_definitions: Option<Map<String, Value>>,
    /// The process definitions it created, by id (written `null` when none).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub deployed_process_definitions: BTreeMap<String, ProcessDefinition>,
    /// When it was deployed.
    #[serde(default, with = "optional_date")]
    pub deployment_time: Option<DateValue>,
    /// The deployment id.
    pub id: String,
    /// Links to related resources.
    #[serde(default, deserialize_with = "null_as_default")]
    pub links: Vec<Link>,
    /// The name.
    #[serde(default)]
    pub name: Option<String>,
    /// The source.
    #[serde(default)]
    pub source: Option<String>,
    /// The tenant, if any.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

impl Deployment {
    /// The fields only the create answer has.
    const CREATE_ONLY: [&'static str; 4] = [
        "deployedCaseDefinitions",
        "deployedDecisionDefinitions",
        "deployedDecisionRequirementsDefinitions",
        "deployedProcessDefinitions",
    ];

    /// The deployment as `GET /deployment` and `GET /deployment/{id}` answer it (Camunda's
    /// `DeploymentDto`): without the `deployed*Definitions` fields.
    pub fn resource_json(&self) -> Value {
        let mut json = serde_json::to_value(self).unwrap_or_default();
        if let Value::Object(map) = &mut json {
            for field in Self::CREATE_ONLY {
                map.remove(field);
            }
        }
        json
    }
}
