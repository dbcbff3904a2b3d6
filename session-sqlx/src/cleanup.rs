//! The background task that deletes expired rows.

use std::time::Duration;

use session_core::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The shortest cleanup period; shorter periods are raised to it.
pub const MIN_CLEANUP_PERIOD: Duration = Duration::from_millis(100);

/// Handle of a cleanup task started by `spawn_cleanup`. The task runs
/// [`Store::delete_expired`] once per period (the first time one period
/// after the start) and logs failures with `tracing` without stopping.
///
/// [`CleanupHandle::shutdown`] stops it and waits for a run in progress to
/// finish; dropping the handle stops it too, without waiting. So
/// `store.spawn_cleanup(period);` as a statement would start a task and stop
/// it at once: the type is `#[must_use]`, and the compiler warns.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// async fn start(store: session_sqlx::SqliteStore) {
///     store.spawn_cleanup(std::time::Duration::from_secs(600));
/// }
/// ```
#[derive(Debug)]
#[must_use = "dropping the CleanupHandle stops the cleanup task at once: keep it (`let cleanup = ...`) for as long as expired sessions should be deleted"]
pub struct CleanupHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl CleanupHandle {
    /// Stops the task and waits until it has exited.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::warn!(error = %e, "session cleanup task ended abnormally");
        }
    }

    /// Whether the task has exited.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for CleanupHandle {
    fn drop(&mut self) {
        // Dropping the sender wakes the task, which then exits.
        self.stop.take();
    }
}

/// Spawns the cleanup loop for `store` on the current Tokio runtime.
pub(crate) fn spawn<S: Store>(store: S, period: Duration) -> CleanupHandle {
    let period = period.max(MIN_CLEANUP_PERIOD);
    let (stop, mut stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = tick.tick() => {}
            }
            // A run in progress finishes before a shutdown is seen: the
            // batches are short, and a cancelled batch would be harmless too.
            match store.delete_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deleted = n, "expired sessions deleted"),
                Err(e) => tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "session cleanup failed"
                ),
            }
        }
    });
    CleanupHandle {
        stop: Some(stop),
        task: Some(task),
    }
}
