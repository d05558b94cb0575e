use bptl_core::prelude::*;
use bptl_macros::register;

#[register]
async fn no_task() -> Result<Variables, UnitError> {
    Ok(Variables::new())
}

fn main() {}
