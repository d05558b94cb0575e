//! `DateValue::parse` (`bptl_core::value::date`): never a panic; a date read writes as Camunda's
//! format, which reads back to the same date up to the milliseconds that format keeps.
#![no_main]

use bptl_core::DateValue;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(date) = DateValue::parse(text) else {
        return;
    };
    let written = date.to_camunda_string();
    let again = DateValue::parse(&written)
        .unwrap_or_else(|e| panic!("{text:?} was written as {written:?}, which does not read back: {e}"));
    assert_eq!(again.to_camunda_string(), written, "{text:?}");
    assert_eq!(again.offset, date.offset, "{text:?} written as {written:?}");
    let lost = date.timestamp.duration_since(again.timestamp);
    assert!(
        !lost.is_negative() && lost.as_millis() < 1,
        "{text:?} written as {written:?} moved by {lost:?}"
    );
});
