//! The production worker: `cargo run --example worker -- --help`.
//!
//! A binary chooses its memory allocator. This one takes jemalloc: in `bench/peers.sh` it
//! spends a quarter to a third less CPU per task than glibc's malloc, for about 6 MB more peak
//! RSS (README, "Benchmark"). A binary of your own around `bptl::cli::main()` can do the same
//! with a dependency on `tikv-jemallocator` and these two lines.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    bptl::cli::main()
}
