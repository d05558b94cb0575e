//! `parse_duration` (`bptl_core::duration`), the configuration's durations: never a panic, an
//! error's message is written, and a parsed duration formats to text that parses back to it
//! (within the second `format_duration` rounds to).
#![no_main]

use std::time::Duration;

use bptl_core::duration::{format_duration, parse_duration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_duration(text) {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(d) => {
            let shown = format_duration(d);
            let back = parse_duration(&shown)
                .unwrap_or_else(|e| panic!("{text:?} = {d:?} formats as {shown:?}: {e}"));
            let diff = if back > d { back - d } else { d - back };
            assert!(
                diff < Duration::from_secs(1),
                "{text:?} = {d:?} formats as {shown:?} = {back:?}"
            );
        }
    }
});
