//! Single-flight bookkeeping: at most one load per key and process, whose outcome
//! reaches every caller waiting for it.
//!
//! The load runs in a spawned task that owns a [`FlightTicket`]; callers only hold a
//! `watch` receiver, so a cancelled caller never cancels the load. The map holds a key
//! only while its load runs: the ticket removes it on drop (also on panic).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::entry::Entry;

/// Where a flight's value came from, which decides how its waiters are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Found in Redis: no fill was needed (a hit of the shared layer).
    Redis,
    /// Computed by this process's fill.
    Fill,
    /// Computed by another replica's fill that this process waited for.
    Peer,
}

pub(crate) enum Outcome<V> {
    Value {
        entry: Arc<Entry<V>>,
        source: Source,
    },
    Failed {
        reason: Arc<str>,
        /// The newest old value the flight knew of, for stale-on-error.
        fallback: Option<Arc<Entry<V>>>,
    },
}

// Manual impl: cloning shares the value, so `V` need not be `Clone`.
impl<V> Clone for Outcome<V> {
    fn clone(&self) -> Self {
        match self {
            Self::Value { entry, source } => Self::Value {
                entry: Arc::clone(entry),
                source: *source,
            },
            Self::Failed { reason, fallback } => Self::Failed {
                reason: Arc::clone(reason),
                fallback: fallback.clone(),
            },
        }
    }
}

/// `None` until the flight has something for its waiters.
type Slot<V> = Option<Outcome<V>>;

pub(crate) struct Flights<V> {
    running: Mutex<HashMap<String, Running<V>>>,
    next_id: AtomicU64,
}

struct Running<V> {
    id: u64,
    outcome: watch::Receiver<Slot<V>>,
}

pub(crate) enum Flight<V> {
    /// A load for the key was already running; wait on it.
    Joined(watch::Receiver<Slot<V>>),
    /// The caller must run the load with this ticket.
    Started(FlightTicket<V>, watch::Receiver<Slot<V>>),
}

impl<V> Flights<V> {
    pub fn new() -> Self {
        Self {
            running: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    fn running(&self) -> MutexGuard<'_, HashMap<String, Running<V>>> {
        // Every critical section is a single map operation; a panic cannot tear it.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn join_or_start(self: &Arc<Self>, key: &str) -> Flight<V> {
        let mut running = self.running();
        if let Some(flight) = running.get(key) {
            return Flight::Joined(flight.outcome.clone());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, outcome) = watch::channel(None);
        running.insert(
            key.to_owned(),
            Running {
                id,
                outcome: outcome.clone(),
            },
        );
        let ticket = FlightTicket {
            flights: Arc::clone(self),
            key: key.to_owned(),
            id,
            sender,
        };
        Flight::Started(ticket, outcome)
    }

    /// Forgets every running flight (after an invalidation): new callers start new
    /// loads, while the old ones still answer the callers already waiting on them.
    pub fn detach_all(&self) {
        self.running().clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.running().len()
    }
}

/// The right and duty to run one key's load.
pub(crate) struct FlightTicket<V> {
    flights: Arc<Flights<V>>,
    key: String,
    id: u64,
    sender: watch::Sender<Slot<V>>,
}

impl<V> FlightTicket<V> {
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Hands an outcome to the waiters. May be called twice: first with a stale value
    /// found in Redis (waiters may serve it at once), then with the refreshed one.
    pub fn publish(&self, outcome: Outcome<V>) {
        self.sender.send_replace(Some(outcome));
    }
}

impl<V> Drop for FlightTicket<V> {
    fn drop(&mut self) {
        let mut running = self.flights.running();
        // After `detach_all` the key may belong to a newer flight; leave that one be.
        if running
            .get(&self.key)
            .is_some_and(|flight| flight.id == self.id)
        {
            running.remove(&self.key);
        }
    }
}

/// Waits for the flight's first outcome; `None` if it ended without one (its task
/// panicked or was aborted).
pub(crate) async fn outcome<V>(mut receiver: watch::Receiver<Slot<V>>) -> Option<Outcome<V>> {
    let outcome = receiver.wait_for(Option::is_some).await.ok()?;
    outcome.clone()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_key_has_one_flight_and_is_forgotten_when_it_ends() {
        let flights = Arc::new(Flights::<u32>::new());
        let Flight::Started(ticket, first) = flights.join_or_start("k") else {
            panic!("the first caller starts the flight");
        };
        let Flight::Joined(second) = flights.join_or_start("k") else {
            panic!("the second caller joins it");
        };
        let entry = Arc::new(Entry::computed_now(7, Duration::ZERO));
        ticket.publish(Outcome::Value {
            entry,
            source: Source::Fill,
        });
        drop(ticket);
        assert_eq!(flights.len(), 0);
        for receiver in [first, second] {
            match outcome(receiver).await {
                Some(Outcome::Value { entry, .. }) => assert_eq!(*entry.value, 7),
                _ => panic!("every waiter gets the value"),
            }
        }
    }

    #[tokio::test]
    async fn a_flight_without_an_outcome_ends_its_waiters() {
        let flights = Arc::new(Flights::<u32>::new());
        let Flight::Started(ticket, receiver) = flights.join_or_start("k") else {
            panic!("the first caller starts the flight");
        };
        drop(ticket);
        assert!(outcome(receiver).await.is_none());
    }

    #[tokio::test]
    async fn a_detached_flight_does_not_remove_its_successor() {
        let flights = Arc::new(Flights::<u32>::new());
        let Flight::Started(old, _) = flights.join_or_start("k") else {
            panic!("starts");
        };
        flights.detach_all();
        let Flight::Started(_new, _) = flights.join_or_start("k") else {
            panic!("a new flight starts after detaching");
        };
        drop(old);
        assert_eq!(flights.len(), 1);
    }
}
