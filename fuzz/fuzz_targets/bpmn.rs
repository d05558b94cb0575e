//! The dev engine's BPMN parser (`bptl-dev-engine/src/bpmn.rs`), as a deployment runs it: any
//! text is a list of processes or a non-empty list of problems, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    match bptl_dev_engine::parse_bpmn_for_fuzzing(xml) {
        Ok(keys) => assert!(keys.iter().all(|k| !k.is_empty())),
        Err(problems) => assert!(!problems.is_empty()),
    }
});
