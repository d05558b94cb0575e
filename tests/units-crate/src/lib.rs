//! Units of a third-party crate that depends on `bptl` only (no `bptl-core`, no `linkme`).

use bptl::prelude::*;

/// Greet someone.
///
/// **Required process variables**
///
/// * `name`: who to greet
///
/// **Sets the process variables**
///
/// * `greeting`: the greeting
#[register]
#[require_service("zrc", "The Zaken API to use", alias = "zrc")]
#[require_service("drc", "The Documenten API to use")]
pub async fn greet(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let name: String = check_variable_as(&task.get_variables()?, "name")?;
    Ok(variables! { "greeting": format!("Hello, {name}!") })
}
