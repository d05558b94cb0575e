use bptl_core::prelude::*;
use bptl_macros::register;

#[register]
async fn two(_task: &dyn BaseTask, _extra: u32) -> Result<Variables, UnitError> {
    Ok(Variables::new())
}

fn main() {}
