//! Validating task mappings against the services their units require.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bptl_core::{Registry, TaskMapping, TaskMappings, UnitEntry};

use crate::config::ServicesConfig;
use crate::model::ApiType;
use crate::store::CredentialStore;

/// A required service type that any service satisfies: `#[require_service("*", ...)]`.
pub const ANY_SERVICE_TYPE: &str = "*";

/// What is wrong with a task mapping's services. Messages of the first three are BPTL's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MappingProblem {
    /// `Missing service alias '{alias}'`
    MissingAlias {
        /// The alias the unit requires.
        alias: String,
    },
    /// `The service for alias '{alias}' must be a '{required}' service.`
    WrongServiceType {
        /// The alias.
        alias: String,
        /// The type the unit requires.
        required: String,
        /// The service under the alias.
        service: String,
        /// Its actual type.
        actual: String,
    },
    /// `Missing a service of type '{required}' which is required for this task.`
    MissingServiceType {
        /// The type the unit requires (under no alias).
        required: String,
    },
    /// The mapping names a service that is not configured.
    UnknownService {
        /// The alias.
        alias: String,
        /// The service name.
        service: String,
    },
    /// One service appears under several aliases.
    DuplicateService {
        /// The service name.
        service: String,
        /// Its aliases.
        aliases: Vec<String>,
    },
    /// One alias appears twice (reported by configuration loaders; a map cannot hold it).
    DuplicateAlias {
        /// The alias.
        alias: String,
    },
    /// The mapping's unit is not registered.
    UnknownUnit {
        /// The unit path the mapping names.
        callback: String,
    },
}

impl fmt::Display for MappingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingProblem::MissingAlias { alias } => write!(f, "Missing service alias '{alias}'"),
            MappingProblem::WrongServiceType {
                alias, required, ..
            } => write!(
                f,
                "The service for alias '{alias}' must be a '{required}' service."
            ),
            MappingProblem::MissingServiceType { required } => write!(
                f,
                "Missing a service of type '{required}' which is required for this task."
            ),
            MappingProblem::UnknownService { alias, service } => write!(
                f,
                "The service '{service}' for alias '{alias}' is not configured: add [services.{service}] or name a configured service."
            ),
            MappingProblem::DuplicateService { service, aliases } => write!(
                f,
                "The service '{service}' is used under several aliases ('{}'): each service may appear once per task mapping.",
                aliases.join("', '")
            ),
            MappingProblem::DuplicateAlias { alias } => write!(
                f,
                "The service alias '{alias}' is given twice: each alias may appear once per task mapping."
            ),
            MappingProblem::UnknownUnit { callback } => {
                write!(f, "Callback '{callback}' is not in the provided registry.")
            }
        }
    }
}

/// A problem with the task mapping of one topic.
///
/// ```
/// use bptl_credentials::{MappingProblem, Problem};
/// let p = Problem { topic: "create-zaak".into(), problem: MappingProblem::MissingAlias { alias: "zrc".into() } };
/// assert_eq!(p.to_string(), "topic 'create-zaak': Missing service alias 'zrc'");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic '{topic}': {problem}")]
pub struct Problem {
    /// The topic of the mapping.
    pub topic: String,
    /// What is wrong.
    pub problem: MappingProblem,
}

/// What mapping validation needs to know of the configured services: their API types.
///
/// Implemented by [`CredentialStore`] and by [`ServicesConfig`] (so that mappings can be
/// validated even when some credentials in the configuration are not usable).
pub trait ServiceCatalog {
    /// The API type of the service `name`, or `None` when it is not configured.
    fn service_type(&self, name: &str) -> Option<ApiType>;
}

impl ServiceCatalog for CredentialStore {
    fn service_type(&self, name: &str) -> Option<ApiType> {
        self.service(name).map(|s| s.api_type().clone())
    }
}

impl<T: ServiceCatalog + ?Sized> ServiceCatalog for std::sync::Arc<T> {
    fn service_type(&self, name: &str) -> Option<ApiType> {
        (**self).service_type(name)
    }
}

impl ServiceCatalog for ServicesConfig {
    fn service_type(&self, name: &str) -> Option<ApiType> {
        self.services
            .get(name)
            .map(|s| ApiType::from(s.api_type.as_str()))
    }
}

/// Check a mapping's services against its unit's `#[require_service]` declarations, as BPTL's
/// forms did, plus unknown and duplicated services.
///
/// An aliased requirement needs its alias, naming a service of the required type; an unaliased
/// requirement needs some service of that type among the mapping's services that no aliased
/// requirement pins. The type `*` ([`ANY_SERVICE_TYPE`]) accepts a service of any type.
pub fn validate_mapping(
    mapping: &TaskMapping,
    unit: &UnitEntry,
    store: &dyn ServiceCatalog,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut push = |problem| {
        problems.push(Problem {
            topic: mapping.topic.clone(),
            problem,
        })
    };
    // Unknown and duplicated services.
    let mut aliases_by_service: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (alias, service) in &mapping.services {
        aliases_by_service
            .entry(service.as_str())
            .or_default()
            .push(alias.clone());
        if store.service_type(service).is_none() {
            push(MappingProblem::UnknownService {
                alias: alias.clone(),
                service: service.clone(),
            });
        }
    }
    for (service, aliases) in aliases_by_service {
        if aliases.len() > 1 {
            push(MappingProblem::DuplicateService {
                service: service.to_owned(),
                aliases,
            });
        }
    }
    // Aliased requirements.
    let mut pinned: BTreeSet<&str> = BTreeSet::new();
    for required in unit.required_services {
        let Some(alias) = required.alias else {
            continue;
        };
        match mapping.services.get(alias) {
            None => push(MappingProblem::MissingAlias {
                alias: alias.to_owned(),
            }),
            Some(name) => {
                pinned.insert(name);
                if let Some(api_type) = store.service_type(name)
                    && !api_type.satisfies(required.service_type)
                {
                    push(MappingProblem::WrongServiceType {
                        alias: alias.to_owned(),
                        required: required.service_type.to_owned(),
                        service: name.clone(),
                        actual: api_type.to_string(),
                    });
                }
            }
        }
    }
    // Unaliased requirements: some unpinned service of the type.
    for required in unit.required_services.iter().filter(|r| r.alias.is_none()) {
        let found = mapping.services.values().any(|name| {
            !pinned.contains(name.as_str())
                && store
                    .service_type(name)
                    .is_some_and(|t| t.satisfies(required.service_type))
        });
        if !found {
            push(MappingProblem::MissingServiceType {
                required: required.service_type.to_owned(),
            });
        }
    }
    problems
}

/// [`validate_mapping`] for every mapping (active or not), sorted by topic; a mapping whose
/// unit is not in `registry` is a [`MappingProblem::UnknownUnit`].
pub fn validate_all(
    mappings: &TaskMappings,
    registry: &Registry,
    store: &dyn ServiceCatalog,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for mapping in mappings.iter() {
        match registry.get(&mapping.callback) {
            Some(unit) => problems.extend(validate_mapping(mapping, unit, store)),
            None => problems.push(Problem {
                topic: mapping.topic.clone(),
                problem: MappingProblem::UnknownUnit {
                    callback: mapping.callback.clone(),
                },
            }),
        }
    }
    problems
}
