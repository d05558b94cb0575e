//! Units of a crate that depends on `bptl-core` under another name (`units_core`): the macros'
//! expansions must name it as this crate does.

use units_core::prelude::*;

/// Say which crate this is.
///
/// **Sets the process variables**
///
/// * `crate`: `renamed`
#[register]
pub fn which_crate(_task: &dyn BaseTask) -> Variables {
    variables! { "crate": "renamed" }
}

/// Count the letters of `word`.
///
/// **Required process variables**
///
/// * `word`: a string
///
/// **Sets the process variables**
///
/// * `letters`: the number of letters
#[register]
#[require_service("*", "Any service, to show a declaration")]
pub struct CountLetters {
    task: TaskRef,
}

#[async_trait]
impl WorkUnit for CountLetters {
    fn new(task: TaskRef) -> Self {
        Self { task }
    }

    async fn perform(&self) -> Result<Variables, UnitError> {
        let word: String = check_variable_as(&self.task.get_variables()?, "word")?;
        Ok(variables! { "letters": word.chars().filter(|c| c.is_alphabetic()).count() as i64 })
    }
}
