//! [`StoreError`]: the kinds of store failure the runtime acts on.

/// A store failed: what kind of failure (what the caller can do about it), in which store, and
/// what to check.
///
/// The message names the store (its URL with the password replaced by `***`, set by the store
/// that failed) and the operation, and ends with what to check. The kinds are the ones the
/// runtime acts on: [`Unavailable`](Self::Unavailable) and [`Conflict`](Self::Conflict) are
/// worth retrying ([`is_transient`](Self::is_transient)); the others are not.
///
/// ```
/// use bptl_core::store::StoreError;
/// let err = StoreError::full("saving a task record: database or disk is full")
///     .in_store("sqlite:///var/lib/bptl/bptl.db");
/// let text = err.to_string();
/// assert!(text.starts_with("task store 'sqlite:///var/lib/bptl/bptl.db' is full"), "{text}");
/// assert!(text.contains("free disk space"), "{text}");
/// assert!(!err.is_transient());
/// assert!(StoreError::unavailable("connection refused").is_transient());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached or is busy (server down, connection lost, a lock held too
    /// long by another process): the same call may succeed later.
    Unavailable {
        /// The store (URL, password redacted); empty until the store names itself.
        store: String,
        /// What failed, naming the operation.
        message: String,
    },
    /// The store was closed ([`TaskStore::close`]): calls made afterwards fail.
    Closed {
        /// The store (URL, password redacted).
        store: String,
        /// What was attempted.
        message: String,
    },
    /// The store refuses writes because it is full (disk, quota); nothing written before is
    /// lost, and reads still work.
    Full {
        /// The store (URL, password redacted).
        store: String,
        /// What failed, naming the operation.
        message: String,
    },
    /// A concurrent write got in the way (a deadlock or serialization failure between
    /// processes sharing the store): the same call may succeed when retried.
    Conflict {
        /// The store (URL, password redacted).
        store: String,
        /// What failed, naming the operation.
        message: String,
    },
    /// Stored data cannot be read back (not what this version of bptl writes, or damaged).
    Corrupt {
        /// The store (URL, password redacted).
        store: String,
        /// What could not be read.
        message: String,
    },
    /// Anything else (a bug, a schema changed by hand, a permission).
    Other {
        /// The store (URL, password redacted).
        store: String,
        /// What failed, naming the operation.
        message: String,
    },
}

impl StoreError {
    /// [`StoreError::Unavailable`] with this message.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            store: String::new(),
            message: message.into(),
        }
    }

    /// [`StoreError::Closed`] with this message.
    pub fn closed(message: impl Into<String>) -> Self {
        Self::Closed {
            store: String::new(),
            message: message.into(),
        }
    }

    /// [`StoreError::Full`] with this message.
    pub fn full(message: impl Into<String>) -> Self {
        Self::Full {
            store: String::new(),
            message: message.into(),
        }
    }

    /// [`StoreError::Conflict`] with this message.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            store: String::new(),
            message: message.into(),
        }
    }

    /// [`StoreError::Corrupt`] with this message.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::Corrupt {
            store: String::new(),
            message: message.into(),
        }
    }

    /// [`StoreError::Other`] with this message.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other {
            store: String::new(),
            message: message.into(),
        }
    }

    /// The same error naming `store` (a URL with its password redacted), unless it names one
    /// already.
    pub fn in_store(mut self, name: &str) -> Self {
        let (store, _) = self.parts_mut();
        if store.is_empty() {
            name.clone_into(store);
        }
        self
    }

    /// The store the error names (empty if none).
    pub fn store(&self) -> &str {
        self.parts().0
    }

    /// What failed, without the store's name and the hint.
    pub fn message(&self) -> &str {
        self.parts().1
    }

    /// Whether the same call may succeed later ([`Unavailable`](Self::Unavailable),
    /// [`Conflict`](Self::Conflict)).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Conflict { .. })
    }

    fn parts(&self) -> (&str, &str) {
        match self {
            Self::Unavailable { store, message }
            | Self::Closed { store, message }
            | Self::Full { store, message }
            | Self::Conflict { store, message }
            | Self::Corrupt { store, message }
            | Self::Other { store, message } => (store, message),
        }
    }

    fn parts_mut(&mut self) -> (&mut String, &mut String) {
        match self {
            Self::Unavailable { store, message }
            | Self::Closed { store, message }
            | Self::Full { store, message }
            | Self::Conflict { store, message }
            | Self::Corrupt { store, message }
            | Self::Other { store, message } => (store, message),
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (store, message) = self.parts();
        if store.is_empty() {
            f.write_str("task store")?;
        } else {
            write!(f, "task store '{store}'")?;
        }
        match self {
            Self::Unavailable { .. } => write!(
                f,
                " is unavailable: {message}; check that the database is reachable and not locked by another program (the call may succeed when retried)"
            ),
            Self::Closed { .. } => write!(
                f,
                " is closed: {message}; the store was closed by its owner (a worker that stopped): open it again"
            ),
            Self::Full { .. } => write!(
                f,
                " is full: {message}; free disk space or raise the database's quota (nothing written before was lost)"
            ),
            Self::Conflict { .. } => write!(
                f,
                ": a concurrent write got in the way: {message}; retry (several processes wrote the same records at once)"
            ),
            Self::Corrupt { .. } => write!(
                f,
                " holds data this worker cannot read: {message}; check that only bptl writes its tables and that the database is intact (SQLite: PRAGMA integrity_check)"
            ),
            Self::Other { .. } => write!(f, ": {message}"),
        }
    }
}

impl std::error::Error for StoreError {}
