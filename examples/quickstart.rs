//! Interim quickstart: runs the dummy units against in-memory tasks (until the dev engine lands).

use bptl::{InMemoryTask, Registry, TaskMapping, TaskMappings, TaskRun, execute, variables};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::global()?;
    let mappings = TaskMappings::new([
        TaskMapping::new("double", "bptl_dummy::Double").engine("memory"),
        TaskMapping::new("echo", "bptl_dummy::echo").engine("memory"),
        TaskMapping::new("fail", "bptl_dummy::fail").engine("memory"),
    ])?;
    let tasks = [
        InMemoryTask::new("double", variables! { "amount": 21 }),
        InMemoryTask::new("echo", variables! { "name": "Ada" }),
        InMemoryTask::new("fail", variables! { "message": "on purpose" }),
    ];
    for task in tasks {
        let topic = task.topic.clone();
        let mut run = TaskRun::new(task.into_ref());
        let outcome = execute(&mut run, registry, &mappings).await;
        match outcome {
            Ok(vars) => println!("{topic}: {} → {}", run.status, vars.to_json()),
            Err(e) => println!("{topic}: {} → {e}", run.status),
        }
    }
    Ok(())
}
