//! The stores' record decoding, `decode_variables` (`bptl_core::store::codec`): any JSON is
//! variables or a "corrupt" error, never a panic; and, as its documentation promises, what it
//! reads encodes to a form that decodes back unchanged.
#![no_main]

use bptl_core::store::{decode_variables, encode_variables};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(vars) = decode_variables(&json) else {
        return;
    };
    let encoded = encode_variables(&vars);
    let text = serde_json::to_string(&encoded).expect("encoded variables serialise");
    let reread: serde_json::Value = serde_json::from_str(&text).expect("encoded text parses");
    let back = decode_variables(&reread).expect("encoded variables decode");
    assert_eq!(back, vars, "from {json}");
});
