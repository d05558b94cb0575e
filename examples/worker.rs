//! The production worker: `cargo run --example worker -- --help`.

fn main() -> std::process::ExitCode {
    bptl::cli::main()
}
