//! Deployments: parsing the BPMN resources, duplicate filtering, versions of definitions.

use std::collections::HashSet;
use std::sync::Arc;

use super::{Definition, Deployment, State, new_id, now_ms};
use crate::bpmn::parse_bpmn;
use crate::error::RestError;

/// What a deployment request gave: a new deployment, or (duplicate filtering, nothing
/// changed) the previous one of the same name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deployed {
    /// The deployment's place in the list of deployments.
    pub index: usize,
    /// Whether the request created it (its definitions are then answered with it).
    pub created: bool,
}

/// A file submitted for deployment.
#[derive(Debug, Clone)]
pub(crate) struct DeploymentResource {
    pub name: String,
    pub content: String,
}

/// Options of a deployment.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeploymentRequest {
    pub name: Option<String>,
    pub source: Option<String>,
    pub duplicate_filtering: bool,
    pub changed_only: bool,
    pub resources: Vec<DeploymentResource>,
}

impl State {
    /// Deploys resources; returns which deployment answers the request.
    pub(crate) fn deploy(&mut self, req: DeploymentRequest) -> Result<Deployed, RestError> {
        let mut resources = req.resources;
        if req.duplicate_filtering {
            let previous = |res: &DeploymentResource| -> Option<&str> {
                self.deployments
                    .iter()
                    .rev()
                    .filter(|d| d.name == req.name)
                    .find_map(|d| {
                        d.resources
                            .iter()
                            .find(|(n, _)| n == &res.name)
                            .map(|(_, c)| c.as_str())
                    })
            };
            let changed: Vec<bool> = resources
                .iter()
                .map(|r| previous(r) != Some(r.content.as_str()))
                .collect();
            if !changed.iter().any(|c| *c) {
                if let Some(index) = self.deployments.iter().rposition(|d| d.name == req.name) {
                    return Ok(Deployed {
                        index,
                        created: false,
                    });
                }
            } else if req.changed_only {
                resources = resources
                    .into_iter()
                    .zip(changed)
                    .filter_map(|(r, c)| c.then_some(r))
                    .collect();
            }
        }
        let mut parsed = Vec::new();
        let mut problems = Vec::new();
        for res in &resources {
            let lower = res.name.to_ascii_lowercase();
            if !(lower.ends_with(".bpmn") || lower.ends_with(".bpmn20.xml")) {
                continue;
            }
            match parse_bpmn(&res.content) {
                Ok(models) => parsed.extend(models.into_iter().map(|m| (res.name.clone(), m))),
                Err(errs) => problems.extend(
                    errs.into_iter()
                        .map(|e| format!("* {e} | resource {}", res.name)),
                ),
            }
        }
        if !problems.is_empty() {
            return Err(RestError::parse(format!(
                "ENGINE-09005 Could not parse BPMN process. Errors: \n{}",
                problems.join("\n")
            )));
        }
        let mut keys = HashSet::new();
        for (_, model) in &parsed {
            if !keys.insert(model.key.clone()) {
                return Err(RestError::parse(format!(
                    "ENGINE-09005 Could not parse BPMN process. Errors: \n* The deployment contains definitions with the same key '{}' (id attribute), this is not allowed",
                    model.key
                )));
            }
        }
        let deployment_id = new_id();
        let mut ids = Vec::new();
        for (resource, model) in parsed {
            let versions = self.versions.entry(model.key.clone()).or_default();
            let version = versions.last().map_or(1, |d| d.version + 1);
            let def = Arc::new(Definition {
                id: format!("{}:{}:{}", model.key, version, new_id()),
                key: model.key.clone(),
                version,
                resource,
                deployment_id: deployment_id.clone(),
                model,
            });
            versions.push(def.clone());
            ids.push(def.id.clone());
            self.definitions.insert(def.id.clone(), def);
        }
        let deployment = Deployment {
            id: deployment_id,
            name: req.name,
            source: req.source,
            time: now_ms(),
            resources: resources.into_iter().map(|r| (r.name, r.content)).collect(),
            definitions: ids,
        };
        self.deployments.push(deployment);
        Ok(Deployed {
            index: self.deployments.len() - 1,
            created: true,
        })
    }

    /// The definitions a deployment created (none for an unchanged duplicate).
    pub(crate) fn deployed_definitions(&self, deployed: &Deployed) -> Vec<Arc<Definition>> {
        match self.deployments.get(deployed.index) {
            Some(d) if deployed.created => d
                .definitions
                .iter()
                .filter_map(|id| self.definitions.get(id).cloned())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The latest definition of a key.
    pub(crate) fn latest(&self, key: &str) -> Result<Arc<Definition>, RestError> {
        self.versions
            .get(key)
            .and_then(|v| v.last().cloned())
            .ok_or_else(|| {
                RestError::not_found(format!(
                    "No matching process definition with key: {key} and no tenant-id"
                ))
            })
    }

    /// A definition by id.
    pub(crate) fn definition(&self, id: &str) -> Result<Arc<Definition>, RestError> {
        self.definitions
            .get(id)
            .cloned()
            .ok_or_else(|| RestError::not_found(format!("No matching definition with id {id}")))
    }
}
