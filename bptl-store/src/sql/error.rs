//! Database errors as [`StoreError`]s of the kinds the runtime acts on.

use bptl_core::store::StoreError;

/// A database error as a [`StoreError`] of the kind the caller can act on, naming the operation.
pub(crate) fn db_error(operation: &str, err: sqlx::Error) -> StoreError {
    let message = format!("{operation}: {err}");
    match &err {
        sqlx::Error::PoolClosed => StoreError::closed(operation.to_owned()),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => StoreError::unavailable(message),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::TypeNotFound { .. } => StoreError::corrupt(message),
        sqlx::Error::Database(db) => match db.code().as_deref().map(code_kind) {
            Some(Kind::Unavailable) => StoreError::unavailable(message),
            Some(Kind::Full) => StoreError::full(message),
            Some(Kind::Conflict) => StoreError::conflict(message),
            Some(Kind::Corrupt) => StoreError::corrupt(message),
            _ => StoreError::other(message),
        },
        _ => StoreError::other(message),
    }
}

/// What a database error code means for the caller.
#[derive(Debug, PartialEq)]
enum Kind {
    Unavailable,
    Full,
    Conflict,
    Corrupt,
    Other,
}

/// The kind of a database error code: PostgreSQL's are five-character SQLSTATEs, SQLite's
/// (extended) result codes are numbers below 10 000.
fn code_kind(code: &str) -> Kind {
    if code.len() < 5
        && let Ok(extended) = code.parse::<i64>()
    {
        return match extended & 0xff {
            5 | 6 => Kind::Unavailable, // SQLITE_BUSY, SQLITE_LOCKED
            13 => Kind::Full,           // SQLITE_FULL
            11 | 26 => Kind::Corrupt,   // SQLITE_CORRUPT, SQLITE_NOTADB
            _ => Kind::Other,
        };
    }
    match code {
        "40001" | "40P01" => Kind::Conflict, // serialization failure, deadlock
        "XX001" | "XX002" => Kind::Corrupt,  // data or index corrupted
        c if c.starts_with("53") => Kind::Full, // insufficient resources (disk full, ...)
        c if c.starts_with("08") || c.starts_with("57P") => Kind::Unavailable,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::{Kind, code_kind};

    #[test]
    fn error_codes_map_to_kinds() {
        assert_eq!(code_kind("5"), Kind::Unavailable);
        assert_eq!(code_kind("517"), Kind::Unavailable); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(code_kind("13"), Kind::Full);
        assert_eq!(code_kind("26"), Kind::Corrupt);
        assert_eq!(code_kind("2067"), Kind::Other); // a unique constraint
        assert_eq!(code_kind("40P01"), Kind::Conflict);
        assert_eq!(code_kind("53100"), Kind::Full);
        assert_eq!(code_kind("57P01"), Kind::Unavailable);
        assert_eq!(code_kind("23505"), Kind::Other);
    }
}
