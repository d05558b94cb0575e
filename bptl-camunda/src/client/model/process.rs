//! What to start a process instance with (the answers are in [`crate::wire::process`]).

use bptl_core::Variables;

/// What to start a process instance with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartProcess {
    /// The instance's variables.
    pub variables: Variables,
    /// The business key.
    pub business_key: Option<String>,
}

impl StartProcess {
    /// Start with these variables.
    pub fn new(variables: Variables) -> Self {
        Self {
            variables,
            business_key: None,
        }
    }

    /// Set the business key.
    pub fn business_key(mut self, key: impl Into<String>) -> Self {
        self.business_key = Some(key.into());
        self
    }
}
