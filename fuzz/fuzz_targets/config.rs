//! `Config::from_toml_str` (the facade's `src/config`): any text, with any `BPTL_*` overrides,
//! is a configuration or a non-empty list of problems, never a panic.
//!
//! Input: TOML, then optionally a NUL byte and `NAME=value` lines, the environment overrides.
#![no_main]

use bptl::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (toml, env) = text.split_once('\0').unwrap_or((text, ""));
    let vars: Vec<(&str, &str)> = env.lines().filter_map(|l| l.split_once('=')).collect();
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    match Config::from_toml_str(toml, &lookup) {
        Ok(config) => {
            let _ = config.mappings();
            let _ = config.worker_config();
            let _ = format!("{config:?}");
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem: {toml:?}");
            for p in problems {
                assert!(!p.to_string().is_empty());
            }
        }
    }
});
