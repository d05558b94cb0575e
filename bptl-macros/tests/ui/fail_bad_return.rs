use bptl_core::prelude::*;
use bptl_macros::register;

#[register]
async fn returns_a_number(_task: &dyn BaseTask) -> u32 {
    7
}

fn main() {}
