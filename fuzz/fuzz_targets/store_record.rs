//! The SQL stores' record decoding (`bptl-store`'s `Columns::into_record`, feature `fuzzing`),
//! as reading a `bptl_tasks` row runs it: any columns are a record or a "corrupt" error, never
//! a panic; and a record read writes to columns that read back to the same record.
//!
//! Input, one column a line: `executions created_at updated_at lock_expires_at reported_at`
//! (numbers, `-` for NULL), `status`, `variables`, then `result_variables` (absent for NULL).
#![no_main]

use bptl_store::StoreError;
use bptl_store::fuzzing::{StoredColumns, read_record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(4, '\n');
    let (Some(numbers), Some(status), Some(variables)) = (lines.next(), lines.next(), lines.next())
    else {
        return;
    };
    let numbers: Option<Vec<Option<i64>>> = numbers
        .split(' ')
        .map(|n| if n == "-" { Some(None) } else { n.parse().ok().map(Some) })
        .collect();
    let Some(&[Some(executions), Some(created_at), Some(updated_at), lock_expires_at, reported_at]) =
        numbers.as_deref()
    else {
        return;
    };
    let row = StoredColumns {
        status,
        variables,
        result_variables: lines.next(),
        executions,
        created_at,
        updated_at,
        lock_expires_at,
        reported_at,
    };
    match read_record(row) {
        Ok((record, again)) => assert_eq!(again, record, "from {text:?}"),
        Err(e) => assert!(matches!(e, StoreError::Corrupt { .. }), "{e} from {text:?}"),
    }
});
