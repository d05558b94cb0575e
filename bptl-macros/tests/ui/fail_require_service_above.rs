use bptl_core::prelude::*;
use bptl_macros::{register, require_service};

#[require_service("zrc", "Zaken", alias = "zrc")]
#[register]
async fn misordered(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    Ok(Variables::new())
}

fn main() {}
