//! What keeps history cheap: historic variable instances found by id, running instances
//! indexed by what `GET /process-instance` filters on, and a bound on the history of ended
//! instances.
//!
//! Invariants: [`HistoryIds`] names exactly the historic variable instances of the instances
//! in [`State::instances`]; [`ActiveInstances`] holds exactly the running ones; at most
//! [`HistoryLimit`] ended instances are kept, the oldest ended leaving first (Camunda removes
//! history by its removal time; the dev engine by count, so that a long run stays in bounded
//! memory and its history queries in bounded time).

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::{HistoryVar, Instance, LocalVar, State, Task, new_id};
use crate::variables::StoredVariable;

/// How many ended instances the dev engine keeps the history of, unless
/// [`DevEngineBuilder::history_limit`](crate::DevEngineBuilder::history_limit) says otherwise.
pub const DEFAULT_HISTORY_LIMIT: usize = 10_000;

/// The number of ended instances whose history is kept (at least 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HistoryLimit(pub usize);

impl Default for HistoryLimit {
    fn default() -> Self {
        Self(DEFAULT_HISTORY_LIMIT)
    }
}

/// Where a historic variable instance lives in its process instance.
#[derive(Debug, Clone)]
enum Scope {
    /// A process variable, by name.
    Process(String),
    /// A variable local to a task's execution: (name, execution id).
    Local(String, String),
}

/// Historic variable instance id → its process instance and scope.
#[derive(Debug, Default)]
pub(super) struct HistoryIds(HashMap<String, (String, Scope)>);

/// The running instances, by (start time, id), also per definition key and business key.
#[derive(Debug, Default)]
pub(super) struct ActiveInstances {
    all: BTreeSet<(i64, String)>,
    by_key: HashMap<String, BTreeSet<(i64, String)>>,
    by_business_key: HashMap<String, BTreeSet<(i64, String)>>,
}

impl ActiveInstances {
    pub(super) fn insert(&mut self, i: &Instance) {
        let entry = (i.start_time, i.id.clone());
        self.all.insert(entry.clone());
        let by_key = self.by_key.entry(i.definition.key.clone()).or_default();
        by_key.insert(entry.clone());
        if let Some(bk) = &i.business_key {
            self.by_business_key
                .entry(bk.clone())
                .or_default()
                .insert(entry);
        }
    }

    pub(super) fn remove(&mut self, i: &Instance) {
        let entry = (i.start_time, i.id.clone());
        self.all.remove(&entry);
        remove_from(&mut self.by_key, &i.definition.key, &entry);
        if let Some(bk) = &i.business_key {
            remove_from(&mut self.by_business_key, bk, &entry);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.all.len()
    }

    /// The ids of the running instances with this definition key and business key (each
    /// optional), oldest first, from the narrowest index.
    pub(super) fn matching<'a>(
        &'a self,
        key: Option<&str>,
        business_key: Option<&str>,
    ) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        static EMPTY: BTreeSet<(i64, String)> = BTreeSet::new();
        let set = match (business_key, key) {
            (Some(bk), _) => self.by_business_key.get(bk).unwrap_or(&EMPTY),
            (None, Some(key)) => self.by_key.get(key).unwrap_or(&EMPTY),
            (None, None) => &self.all,
        };
        Box::new(set.iter().map(|(_, id)| id))
    }
}

fn remove_from(
    index: &mut HashMap<String, BTreeSet<(i64, String)>>,
    name: &str,
    entry: &(i64, String),
) {
    if let Some(set) = index.get_mut(name) {
        set.remove(entry);
        if set.is_empty() {
            index.remove(name);
        }
    }
}

/// Sets process variables of an instance, giving the new ones a historic id.
pub(super) fn set_variables(
    instance: &mut Instance,
    ids: &mut HistoryIds,
    variables: Vec<(String, StoredVariable)>,
    now: i64,
) {
    for (name, var) in variables {
        instance.var_meta.entry(name.clone()).or_insert_with(|| {
            let id = new_id();
            ids.0.insert(
                id.clone(),
                (instance.id.clone(), Scope::Process(name.clone())),
            );
            HistoryVar {
                id,
                create_time: now,
            }
        });
        instance.variables.insert(name, var);
    }
}

/// Records variables set locally on `task`'s execution for the history.
pub(super) fn set_local_history(
    instance: &mut Instance,
    ids: &mut HistoryIds,
    task: &Task,
    local: &[(String, StoredVariable)],
    now: i64,
) {
    for (name, var) in local {
        let key = (name.clone(), task.execution_id.clone());
        match instance.local_history.get_mut(&key) {
            Some(existing) => existing.var = var.clone(),
            None => {
                let id = new_id();
                ids.0.insert(
                    id.clone(),
                    (
                        instance.id.clone(),
                        Scope::Local(name.clone(), task.execution_id.clone()),
                    ),
                );
                instance.local_history.insert(
                    key,
                    LocalVar {
                        var: var.clone(),
                        meta: HistoryVar {
                            id,
                            create_time: now,
                        },
                        activity_instance_id: task.activity_instance_id.clone(),
                    },
                );
            }
        }
    }
}

impl State {
    /// A historic variable instance by its id, looked up (not searched for).
    pub(super) fn historic_variable(&self, id: &str) -> Option<&StoredVariable> {
        let (instance_id, scope) = self.history_ids.0.get(id)?;
        let instance = self.instances.get(instance_id)?;
        match scope {
            Scope::Process(name) => instance.variables.get(name),
            Scope::Local(name, execution) => instance
                .local_history
                .get(&(name.clone(), execution.clone()))
                .map(|l| &l.var),
        }
    }

    /// Notes that an instance ended: it joins the kept history, and the oldest ended
    /// instances beyond the limit leave it (with their historic variables).
    pub(super) fn retire(&mut self, id: &str) {
        self.ended.push_back(id.to_string());
        while self.ended.len() > self.history_limit.0.max(1) {
            let Some(old) = self.ended.pop_front() else {
                break;
            };
            if let Some(instance) = self.instances.remove(&old) {
                for meta in instance.var_meta.values() {
                    self.history_ids.0.remove(&meta.id);
                }
                for local in instance.local_history.values() {
                    self.history_ids.0.remove(&local.meta.id);
                }
            }
        }
    }
}

/// The ended instances, oldest first.
pub(super) type Ended = VecDeque<String>;
