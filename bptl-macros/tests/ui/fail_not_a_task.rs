use bptl_core::prelude::*;
use bptl_macros::register;

#[register]
async fn wrong(_name: String) -> Result<Variables, UnitError> {
    Ok(Variables::new())
}

fn main() {}
