use bptl_core::prelude::*;
use bptl_macros::register;

#[register]
#[require_service("zrc", "Zaken", name = "zrc")]
async fn bad_args(_task: &dyn BaseTask) -> Result<Variables, UnitError> {
    Ok(Variables::new())
}

fn main() {}
