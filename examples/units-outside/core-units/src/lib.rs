//! Units for bptl written against `bptl-core` alone, the smallest dependency a units crate can
//! have:
//!
//! * [`greet`], a function unit, greets someone;
//! * [`CountWords`], a struct unit, counts the words of a text.
//!
//! A worker binary that depends on `bptl` links them with `bptl::link_units!(core_units);`.

use bptl_core::prelude::*;

/// Greet someone.
///
/// **Required process variables**
///
/// * `name`: who to greet
///
/// **Sets the process variables**
///
/// * `greeting`: the greeting
#[register]
pub async fn greet(task: &dyn BaseTask) -> Result<Variables, UnitError> {
    let name: String = check_variable_as(&task.get_variables()?, "name")?;
    Ok(variables! { "greeting": format!("Hello, {name}!") })
}

/// Count the words of a text.
///
/// **Required process variables**
///
/// * `text`: a string
///
/// **Sets the process variables**
///
/// * `words`: the number of words in `text`
#[register]
pub struct CountWords {
    task: TaskRef,
}

#[async_trait]
impl WorkUnit for CountWords {
    fn new(task: TaskRef) -> Self {
        Self { task }
    }

    async fn perform(&self) -> Result<Variables, UnitError> {
        let text: String = check_variable_as(&self.task.get_variables()?, "text")?;
        let words = i64::try_from(text.split_whitespace().count()).unwrap_or(i64::MAX);
        Ok(variables! { "words": words })
    }
}
