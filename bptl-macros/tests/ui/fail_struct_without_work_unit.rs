use bptl_core::TaskRef;
use bptl_macros::register;

#[register]
struct NotImplemented {
    task: TaskRef,
}

fn main() {}
