//! WatchDashboard: one driver per process follows the cached dashboard and publishes
//! each new value to every watcher, so a thousand watchers cost one fill, not a thousand.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use vibe_cache::Served;

use crate::Dashboard;
use crate::model::DashboardSnapshot;

type Update = Option<Arc<Served<DashboardSnapshot>>>;

/// Re-check at least this often even without a change notification, so a fresh value
/// turning stale (and its refresh) is noticed.
const MIN_RECHECK: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct WatchHub {
    state: Mutex<Option<watch::Sender<Update>>>,
}

impl WatchHub {
    /// A receiver of dashboard updates; starts the driver when it is not running.
    pub(crate) fn subscribe(
        &self,
        dashboard: Dashboard,
        fresh_for: Duration,
    ) -> watch::Receiver<Update> {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(sender) = state.as_ref().filter(|sender| !sender.is_closed()) {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(None);
        *state = Some(sender.clone());
        tokio::spawn(drive(dashboard, sender, fresh_for));
        receiver
    }
}

/// Publishes the dashboard whenever its value or freshness changes, until nobody watches.
async fn drive(dashboard: Dashboard, sender: watch::Sender<Update>, fresh_for: Duration) {
    let mut changes = dashboard.dashboard_changes();
    let recheck = fresh_for.clamp(MIN_RECHECK, MIN_RECHECK.max(fresh_for / 4));
    loop {
        match dashboard.snapshot().await {
            Ok(served) => {
                let changed = sender.borrow().as_ref().is_none_or(|current| {
                    current.as_of != served.as_of || current.freshness != served.freshness
                });
                if changed {
                    sender.send_replace(Some(Arc::new(served)));
                }
            }
            // Watchers keep the last value; the next round tries again.
            Err(error) => tracing::warn!(%error, "dashboard watch refresh failed"),
        }
        tokio::select! {
            () = sender.closed() => return,
            _ = changes.recv() => {}
            () = tokio::time::sleep(recheck) => {}
        }
    }
}
