//! File variables with their content: a Camunda task brings only a file's metadata, its content
//! is downloaded from the engine the task came from.

use bptl_camunda::{CamundaClient, ExternalTask};
use bptl_core::FileValue;
use bptl_core::prelude::*;

/// The worker's own engine: the [`CamundaClient`] the runtime attaches to the task's extensions
/// (`worker run`, the test kit's `TestEngine` and `ops execute` do).
pub(crate) fn own_engine(task: &dyn BaseTask) -> Option<std::sync::Arc<CamundaClient>> {
    task.context()
        .and_then(|c| c.extensions.get::<CamundaClient>())
}

/// The File variable `name` with its content: as it is when the content came with the task,
/// else downloaded from the task's engine.
pub(crate) async fn with_content(
    task: &dyn BaseTask,
    name: &str,
    file: &FileValue,
) -> Result<FileValue, UnitError> {
    if file.content.is_some() {
        return Ok(file.clone());
    }
    let external = task.downcast_ref::<ExternalTask>();
    let client = own_engine(task);
    let (Some(external), Some(client)) = (external, client) else {
        return Err(UnitError::failure(format!(
            "the File variable '{name}' ({}) came without its content and there is no engine \
             to download it from (a Camunda task run by a worker has one)",
            file.filename
        )));
    };
    external.download_file(&client, name).await.map_err(|e| {
        UnitError::failure(format!(
            "cannot download the File variable '{name}' from the engine: {e}"
        ))
    })
}
