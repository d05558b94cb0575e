//! Zaak units for bptl, written the way a third-party crate writes them: against the facade's
//! public API only.
//!
//! * [`CreateZaak`] creates a zaak in the Zaken API (`zrc`).
//! * [`zaak_status`] reads the status of a zaak.
//!
//! A worker binary links them with `use units_outside as _;`.

use bptl::credentials::Method;
use bptl::prelude::*;
use serde_json::json;

/// Create a zaak.
///
/// **Required process variables**
///
/// * `bptlAppId`: the application on whose behalf the zaak is created
/// * `zaaktype`: the zaaktype URL
/// * `omschrijving`: a description of the zaak
///
/// **Sets the process variables**
///
/// * `zaak`: the URL of the new zaak
/// * `identificatie`: its identification
///
/// A zaak the Zaken API refuses (400) is a BPMN error `ZAAK_REFUSED` with the API's detail as
/// its message.
#[register]
#[require_service("zrc", "The Zaken API to create the zaak in", alias = "zrc")]
pub struct CreateZaak {
    task: TaskRef,
}

#[async_trait]
impl WorkUnit for CreateZaak {
    fn new(task: TaskRef) -> Self {
        Self { task }
    }

    async fn perform(&self) -> Result<Variables, UnitError> {
        let vars = self.task.get_variables()?;
        let zaaktype: String = check_variable_as(&vars, "zaaktype")?;
        let omschrijving: String = check_variable_as(&vars, "omschrijving")?;
        let zrc = self.task.client("zrc").await?;
        let answer = zrc
            .request(Method::POST, "zaken")
            .json(&json!({
                "zaaktype": zaaktype,
                "omschrijving": omschrijving,
                "bronorganisatie": "002220647",
            }))
            .send()
            .await?;
        if answer.status().as_u16() == 400 {
            let body: serde_json::Value = answer.json().unwrap_or_default();
            let detail = body["detail"].as_str().unwrap_or("the zaak was refused");
            return Err(BpmnError::new("ZAAK_REFUSED", detail).into());
        }
        let zaak: serde_json::Value = answer.error_for_status()?.json()?;
        Ok(variables! {
            "zaak": zaak["url"].as_str().unwrap_or_default(),
            "identificatie": zaak["identificatie"].as_str().unwrap_or_default(),
        })
    }
}

/// Read the status of a zaak.
///
/// **Required process variables**
///
/// * `bptlAppId`: the application on whose behalf the zaak is read
/// * `zaak`: the URL of the zaak, below the Zaken API's root
///
/// **Sets the process variables**
///
/// * `status`: the URL of the zaak's status, `null` when it has none
#[register]
#[require_service("zrc", "The Zaken API the zaak is in", alias = "zrc")]
pub async fn zaak_status(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let zaak: String = check_variable_as(&task.get_variables()?, "zaak")?;
    let found = task.client("zrc").await?.get(&zaak).await?;
    Ok(variables! { "status": found["status"].clone() })
}
