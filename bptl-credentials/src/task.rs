//! What a unit reaches through its task: services by alias, credentials, clients.

use std::future::Future;
use std::sync::Arc;

use bptl_core::{BaseTask, check_variable_as};

use crate::client::ServiceClient;
use crate::error::CredentialsError;
use crate::model::Service;
use crate::store::{AuthHeaders, CredentialStore};

/// The process variable naming the application a process runs for.
pub const APP_ID_VARIABLE: &str = "bptlAppId";

/// Services, credentials and clients for a task, by the aliases of its task mapping.
///
/// Implemented for `dyn BaseTask`, so it works on the `&dyn BaseTask` of a function unit and,
/// through auto-deref, on the `TaskRef` of a struct unit (`self.task.client("zrc").await?`).
/// Needs the runtime to have attached an `Arc<CredentialStore>` to the task's extensions.
///
/// ```
/// use bptl_core::prelude::*;
/// use bptl_credentials::TaskServices;
///
/// async fn list_zaken(task: &dyn BaseTask) -> Result<Variables, UnitError> {
///     let zrc = task.client("zrc").await?; // authenticated for bptlAppId, logged on the timeline
///     let zaken = zrc.get("zaken").await?;
///     Ok(variables! { "zaken": zaken })
/// }
/// ```
pub trait TaskServices {
    /// The service under `alias` in the task's mapping; `No '{alias}' service configured.`
    /// when there is none.
    fn service(&self, alias: &str) -> Result<Arc<Service>, CredentialsError>;

    /// The task's `bptlAppId` (a missing or empty variable is a
    /// [`UnitError::MissingVariable`](bptl_core::UnitError::MissingVariable)).
    fn app_id(&self) -> Result<String, CredentialsError>;

    /// The auth headers for the task's `bptlAppId` on the service under `alias`.
    fn credentials(
        &self,
        alias: &str,
    ) -> impl Future<Output = Result<AuthHeaders, CredentialsError>> + Send;

    /// An authenticated client for the service under `alias`, recording on the task's
    /// timeline.
    fn client(
        &self,
        alias: &str,
    ) -> impl Future<Output = Result<ServiceClient, CredentialsError>> + Send;
}

fn store(task: &dyn BaseTask) -> Result<Arc<CredentialStore>, CredentialsError> {
    task.context()
        .and_then(|c| c.extensions.get::<CredentialStore>())
        .ok_or(CredentialsError::NoStore)
}

impl TaskServices for dyn BaseTask {
    fn service(&self, alias: &str) -> Result<Arc<Service>, CredentialsError> {
        let mapping = self.mapping().ok_or(CredentialsError::NoMapping)?;
        let name = mapping
            .services
            .get(alias)
            .ok_or_else(|| CredentialsError::NoServiceForAlias(alias.to_owned()))?;
        store(self)?
            .service(name)
            .ok_or_else(|| CredentialsError::UnknownServiceForAlias {
                alias: alias.to_owned(),
                service: name.clone(),
            })
    }

    fn app_id(&self) -> Result<String, CredentialsError> {
        let vars = self.get_variables().map_err(CredentialsError::Variable)?;
        check_variable_as::<String>(&vars, APP_ID_VARIABLE).map_err(CredentialsError::Variable)
    }

    async fn credentials(&self, alias: &str) -> Result<AuthHeaders, CredentialsError> {
        let service = self.service(alias)?;
        let app_id = self.app_id()?;
        store(self)?.credentials_for(&app_id, service.name()).await
    }

    async fn client(&self, alias: &str) -> Result<ServiceClient, CredentialsError> {
        let service = self.service(alias)?;
        let app_id = self.app_id()?;
        store(self)?
            .client(&app_id, service.name(), self.timeline().cloned())
            .await
    }
}
