//! Camunda's typed variables (`bptl_camunda::variables`), as fetchAndLock and the variable
//! endpoints answer them, into `Value`s (`bptl_core::value`): never a panic, and what was read
//! writes back in a form that reads back the same.
#![no_main]

use bptl_camunda::variables::{variables_from_typed, variables_to_typed};
use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Json>(data) else {
        return;
    };
    let Ok(read) = variables_from_typed(&json) else {
        return;
    };
    for (_, value) in &read {
        let _ = value.describe();
        let _ = value.to_json();
        let _ = value.is_empty();
    }
    // Writing may refuse (a File without content); what it writes must read back, and writing
    // that again is the same (the first write is the normal form: dates to milliseconds).
    let Ok(written) = variables_to_typed(&read) else {
        return;
    };
    let written = Json::Object(written);
    let again = variables_from_typed(&written).expect("written variables read back");
    let rewritten = variables_to_typed(&again).expect("read-back variables write again");
    assert_eq!(Json::Object(rewritten), written);
});
