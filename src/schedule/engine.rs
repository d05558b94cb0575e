//! [`ScheduleEngine`]: the clock as an [`Engine`](bptl_core::Engine) (a [`PushEngine`]). Its fetch waits for the next due tick and
//! takes the tick in the store before handing it out; outcomes end the tick or hand it out
//! again after the retry wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::{Notify, watch};
use tracing::{debug, info, warn};

use bptl_core::store::TaskFilter;
use bptl_core::{
    BpmnError, EngineError, EngineErrorKind, FailureReport, FetchRequest, PushEngine, TaskRecord,
    TaskRef, TaskStatus, TaskStore, Variables,
};

use super::{CatchUp, Schedule, ScheduleTask};

/// The engine type of schedules: what their mappings name (`engine = "schedule"`) and the
/// first half of their records' keys.
pub const ENGINE_TYPE: &str = "schedule";

/// The longest the engine sleeps without reading the clock again (the system clock may jump).
const MAX_NAP: Duration = Duration::from_secs(60);

/// Schedules as a task source for a [`Worker`](bptl_core::Worker).
///
/// Give it the worker's own store: a tick is handed out only once its record is stored with
/// [`TaskStore::insert_new`], which is what makes every tick run once across restarts and
/// across workers sharing the store. Cheap to clone (one shared state); [`stop`](Self::stop)
/// ends a fetch that is waiting for the clock.
///
/// At its first fetch it reads the store: for a schedule with `catch_up = one` whose last
/// recorded tick is older than the latest due tick, that tick runs once; ticks this worker took
/// and did not finish (never started, abandoned by a crash, failed with a retry to come) are
/// handed out again. A failed tick's record keeps the retries its failure left: one with none
/// left is over at once, only one with a retry to come has its timeline read (for when), so
/// the start's cost does not grow with the history of failed ticks. In a store shared by several processes only ticks recorded under this
/// worker's id are resumed (give each worker of a fleet a stable `worker_id`).
#[derive(Clone)]
pub struct ScheduleEngine {
    inner: Arc<Inner>,
}

struct Inner {
    schedules: Vec<Schedule>,
    store: Arc<dyn TaskStore>,
    state: Mutex<State>,
    wake: Notify,
    stop: watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    started: bool,
    /// Per schedule (by index): the next tick is the first one strictly after this instant.
    after: Vec<Option<Timestamp>>,
    /// Ticks to hand out again at their instant: retries, unlocked and resumed ticks.
    again: Vec<(Timestamp, ScheduleTask)>,
    /// Ticks handed out whose outcome has not come yet, by task id.
    out: HashMap<String, ScheduleTask>,
}

/// A tick that is due: a new one of schedule `index`, or one handed out again.
enum Due {
    New { index: usize, tick: Timestamp },
    Again(ScheduleTask),
}

impl std::fmt::Debug for ScheduleEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduleEngine")
            .field(
                "schedules",
                &self
                    .inner
                    .schedules
                    .iter()
                    .map(Schedule::name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ScheduleEngine {
    /// An engine for `schedules` (inactive ones never tick) that takes ticks in `store`.
    pub fn new(schedules: Vec<Schedule>, store: Arc<dyn TaskStore>) -> Self {
        let (stop, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                schedules,
                store,
                state: Mutex::new(State::default()),
                wake: Notify::new(),
                stop,
            }),
        }
    }

    /// The schedules.
    pub fn schedules(&self) -> &[Schedule] {
        &self.inner.schedules
    }

    /// Stop handing out ticks: a waiting fetch answers at once with nothing, and later fetches
    /// too. Call it when the worker's shutdown begins.
    pub fn stop(&self) {
        self.inner.stop.send_replace(true);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The schedules a fetch serves: active, with a topic the worker asks for.
    fn wanted<'a>(
        &'a self,
        request: &'a FetchRequest,
    ) -> impl Iterator<Item = (usize, &'a Schedule)> + 'a {
        self.inner
            .schedules
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_active() && request.topics.iter().any(|t| t.topic == s.topic))
    }

    /// Read the store once, at the first fetch: where each schedule resumes, and this
    /// worker's unfinished ticks.
    async fn start(&self, request: &FetchRequest) -> Result<(), EngineError> {
        let now = Timestamp::now();
        let mut after = vec![None; self.inner.schedules.len()];
        for (index, schedule) in self.wanted(request) {
            after[index] = Some(match schedule.catch_up {
                CatchUp::None => now,
                CatchUp::One => self.last_recorded(schedule).await?.unwrap_or(now),
            });
        }
        let again = self.unfinished(request, now).await?;
        let mut state = self.state();
        state.after = after;
        state.again.extend(again);
        state.started = true;
        Ok(())
    }

    /// The latest tick of `schedule` recorded in the store.
    async fn last_recorded(&self, schedule: &Schedule) -> Result<Option<Timestamp>, EngineError> {
        let recent = self
            .inner
            .store
            .list(
                &TaskFilter::default()
                    .engine(ENGINE_TYPE)
                    .business_key(schedule.name())
                    .page(0, 20),
            )
            .await
            .map_err(store_error)?;
        Ok(recent
            .iter()
            .filter_map(|r| schedule.tick_of(&r.task_id))
            .max())
    }

    /// Ticks this worker took and did not finish, with the instant each is due again.
    async fn unfinished(
        &self,
        request: &FetchRequest,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, ScheduleTask)>, EngineError> {
        let store = &self.inner.store;
        let records = store
            .list(&TaskFilter {
                engine: Some(ENGINE_TYPE.to_owned()),
                statuses: vec![
                    TaskStatus::Initial,
                    TaskStatus::InProgress,
                    TaskStatus::Failed,
                ],
                ..TaskFilter::default()
            })
            .await
            .map_err(store_error)?;
        let mine =
            |r: &TaskRecord| !store.shared_by_processes() || r.worker_id == request.worker_id;
        let mut again = Vec::new();
        for record in records.into_iter().filter(|r| mine(r)) {
            let Some((index, schedule)) = self
                .wanted(request)
                .find(|(_, s)| s.tick_of(&record.task_id).is_some())
            else {
                continue;
            };
            let (due, retries) = match record.status {
                // Its failure left no retries (the record keeps the reported retries): over,
                // without reading its timeline, so the ticks that are over cost nothing here.
                TaskStatus::Failed if record.retries == Some(0) => continue,
                TaskStatus::Failed => match self.retry_after_failure(&record).await? {
                    Some(retry) => retry,
                    None => continue,
                },
                // Abandoned by a crash: due when its lock expires.
                TaskStatus::InProgress => (
                    record.lock_expires_at.unwrap_or(now).max(now),
                    record.retries,
                ),
                _ => (now, record.retries),
            };
            info!(
                schedule = schedule.name(), task_id = %record.task_id, status = %record.status,
                "resuming an unfinished tick of this worker"
            );
            let tick = schedule.tick_of(&record.task_id).unwrap_or(now);
            let mut task = self.task(index, tick, request, now);
            task.retries = retries;
            again.push((due, task));
        }
        Ok(again)
    }

    /// When a failed tick with retries to come runs again and with how many retries, from the
    /// failure report on its timeline (`None`: no retries were left, the tick is over). Read
    /// only for ticks whose record has retries left.
    async fn retry_after_failure(
        &self,
        record: &TaskRecord,
    ) -> Result<Option<(Timestamp, Option<i32>)>, EngineError> {
        let timeline = self
            .inner
            .store
            .timeline(&record.key())
            .await
            .map_err(store_error)?;
        let report = timeline.iter().rev().find_map(|e| {
            let retries = e.data.get("retries")?.as_i64()?;
            let wait = e.data.get("retryTimeoutMs")?.as_u64()?;
            Some((e.at, retries, wait))
        });
        Ok(match report {
            Some((_, 0, _)) => None,
            Some((at, retries, wait)) => Some((
                at.saturating_add(SignedDuration::from_millis(
                    i64::try_from(wait).unwrap_or(i64::MAX),
                ))
                .unwrap_or(at),
                i32::try_from(retries).ok(),
            )),
            // The failure never reached the engine: run it again now.
            None => Some((Timestamp::now(), record.retries)),
        })
    }

    /// The task of schedule `index`'s tick at `tick`.
    fn task(
        &self,
        index: usize,
        tick: Timestamp,
        request: &FetchRequest,
        now: Timestamp,
    ) -> ScheduleTask {
        let schedule = &self.inner.schedules[index];
        ScheduleTask {
            id: schedule.task_id(tick),
            schedule: schedule.name.clone(),
            tick,
            topic: schedule.topic.clone(),
            variables: schedule.variables.clone(),
            retries: None,
            lock_expires_at: lock_expiry(&schedule.topic, request, now),
        }
    }

    /// The ticks due at `now` (at most `request.max_tasks`).
    fn due(&self, request: &FetchRequest, now: Timestamp) -> Vec<Due> {
        let mut state = self.state();
        let mut due = Vec::new();
        let mut i = 0;
        while i < state.again.len() {
            if state.again[i].0 <= now && due.len() < request.max_tasks {
                let (_, task) = state.again.swap_remove(i);
                due.push(Due::Again(task));
            } else {
                i += 1;
            }
        }
        for (index, schedule) in self.wanted(request) {
            let Some(after) = state.after.get(index).copied().flatten() else {
                continue;
            };
            let Some(first) = schedule.next_after(after) else {
                continue;
            };
            if first > now || due.len() >= request.max_tasks {
                continue;
            }
            let latest = schedule.last_at_or_before(now).unwrap_or(first).max(first);
            if latest != first {
                info!(
                    schedule = schedule.name(),
                    "ticks from {first} to before {latest} passed unrun here (no worker ran, or all slots were busy): running the latest, {latest}, once"
                );
            }
            due.push(Due::New {
                index,
                tick: latest,
            });
        }
        due
    }

    /// When the next tick is due, or a tick handed out again.
    fn next_due(&self, request: &FetchRequest) -> Option<Timestamp> {
        let state = self.state();
        let again = state.again.iter().map(|(at, _)| *at);
        let ticks = self.wanted(request).filter_map(|(index, schedule)| {
            schedule.next_after(state.after.get(index).copied().flatten()?)
        });
        again.chain(ticks).min()
    }

    /// Take a new tick in the store; whether this worker got it.
    async fn take(&self, task: &ScheduleTask, worker_id: &str) -> Result<bool, EngineError> {
        let record = TaskRecord::from_task(task, worker_id);
        self.inner
            .store
            .insert_new(&record)
            .await
            .map_err(store_error)
    }

    /// Hand out again after `wait` (a retry) or at once (an unlocked tick).
    fn again(&self, task: ScheduleTask, wait: Duration) {
        let due = expiry(Timestamp::now(), wait).unwrap_or_else(Timestamp::now);
        self.state().again.push((due, task));
        self.inner.wake.notify_one();
    }

    fn ended(&self, task_id: &str) -> Option<ScheduleTask> {
        self.state().out.remove(task_id)
    }
}

/// When a lock taken now on a task of `topic` expires (the worker's lock duration for it).
fn lock_expiry(topic: &str, request: &FetchRequest, now: Timestamp) -> Option<Timestamp> {
    let lock = request
        .topics
        .iter()
        .find(|t| t.topic == topic)
        .map_or(Duration::from_secs(300), |t| t.lock_duration);
    expiry(now, lock)
}

fn expiry(now: Timestamp, after: Duration) -> Option<Timestamp> {
    SignedDuration::try_from(after)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
}

fn store_error(e: bptl_core::StoreError) -> EngineError {
    EngineError::new(
        EngineErrorKind::Transient,
        format!("schedules: the task store failed, so no tick can be taken: {e}"),
    )
}

/// A push engine: a tick is handed to the one worker whose insert stored its record, so there
/// is no lock to keep; a released tick is handed out again at once.
#[async_trait]
impl PushEngine for ScheduleEngine {
    fn engine_type(&self) -> &str {
        ENGINE_TYPE
    }

    async fn fetch_and_lock(&self, request: &FetchRequest) -> Result<Vec<TaskRef>, EngineError> {
        let mut stop = self.inner.stop.subscribe();
        if *stop.borrow_and_update() || request.max_tasks == 0 {
            return Ok(Vec::new());
        }
        if !self.state().started {
            self.start(request).await?;
        }
        let deadline = request
            .async_response_timeout
            .map(|t| tokio::time::Instant::now() + t);
        loop {
            let woken = self.inner.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let now = Timestamp::now();
            let due = self.due(request, now);
            let mut tasks: Vec<TaskRef> = Vec::new();
            for item in due {
                let task = match item {
                    Due::Again(mut task) => {
                        task.lock_expires_at = lock_expiry(&task.topic, request, now);
                        task
                    }
                    Due::New { index, tick } => {
                        let task = self.task(index, tick, request, now);
                        match self.take(&task, &request.worker_id).await {
                            Ok(taken) => {
                                self.state().after[index] = Some(tick);
                                if !taken {
                                    debug!(task_id = %task.id, "tick taken by another worker (or already run)");
                                    continue;
                                }
                                task
                            }
                            Err(e) if tasks.is_empty() => return Err(e),
                            Err(e) => {
                                warn!("{e}");
                                break;
                            }
                        }
                    }
                };
                self.state().out.insert(task.id.clone(), task.clone());
                tasks.push(Arc::new(task));
            }
            if !tasks.is_empty() {
                return Ok(tasks);
            }
            let Some(deadline) = deadline else {
                return Ok(tasks);
            };
            let mut nap = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Some(next) = self.next_due(request) {
                let until = next.duration_since(Timestamp::now());
                nap = nap.min(Duration::try_from(until).unwrap_or(Duration::ZERO));
            }
            tokio::select! {
                () = tokio::time::sleep(nap.min(MAX_NAP)) => {}
                () = &mut woken => {}
                _ = stop.changed() => return Ok(Vec::new()),
            }
            if *stop.borrow() || tokio::time::Instant::now() >= deadline {
                return Ok(Vec::new());
            }
        }
    }

    async fn complete(
        &self,
        task_id: &str,
        _worker_id: &str,
        _variables: &Variables,
    ) -> Result<(), EngineError> {
        // Also a tick performed before a restart: nothing to tell, the record is the result.
        self.ended(task_id);
        Ok(())
    }

    async fn failure(
        &self,
        task_id: &str,
        _worker_id: &str,
        failure: &FailureReport,
    ) -> Result<(), EngineError> {
        let Some(mut task) = self.ended(task_id) else {
            return Ok(());
        };
        if failure.retries > 0 {
            task.retries = Some(failure.retries);
            self.again(task, failure.retry_timeout);
        } else {
            warn!(
                task_id,
                "the tick failed with no retries left: it is over (its record says failed)"
            );
        }
        Ok(())
    }

    async fn bpmn_error(
        &self,
        task_id: &str,
        _worker_id: &str,
        _error: &BpmnError,
    ) -> Result<(), EngineError> {
        self.ended(task_id);
        Ok(())
    }

    async fn release(&self, task_id: &str) -> Result<(), EngineError> {
        if let Some(task) = self.ended(task_id) {
            self.again(task, Duration::ZERO);
        }
        Ok(())
    }
}
