//! A production worker for the units of this workspace: `worker run --config worker.toml`,
//! `worker registry`, `worker check`, ... (`worker --help`).

// Name the units crates once, so that their units are linked into the binary.
bptl::link_units!(core_units, units_outside);

fn main() -> std::process::ExitCode {
    bptl::cli::main()
}
