use bptl_macros::register;

#[register]
enum NotAUnit {
    A,
}

fn main() {}
