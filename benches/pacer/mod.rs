//! The open loop's clock. By default tokio's timer, which counts whole milliseconds: the
//! loop wakes once a millisecond and sends every call then due together (12 at 12,000/s).
//! `VIBE_BENCH_TICK_US=100` wakes it on a timerfd every 100 µs instead, so calls leave
//! one or two at a time, as from many independent clients; what that does to each path's
//! cost is in BENCHMARKS.md (run AL).

use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_stream::StreamExt as _;

pub enum Pacer {
    Tokio(tokio::time::Interval),
    TimerFd(tokio_timerfd::Interval),
}

impl Pacer {
    /// Ticks from now, on the current tokio runtime.
    pub fn start() -> Self {
        match tick() {
            None => {
                let mut interval = tokio::time::interval(Duration::from_millis(1));
                // Whatever fell due meanwhile goes at the next tick; no catching up.
                interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
                Pacer::Tokio(interval)
            }
            Some(tick) => Pacer::TimerFd(
                tokio_timerfd::Interval::new_interval(tick).expect("a timerfd for the pacer"),
            ),
        }
    }

    /// Waits for the next tick.
    pub async fn tick(&mut self) {
        match self {
            Pacer::Tokio(interval) => {
                interval.tick().await;
            }
            Pacer::TimerFd(interval) => {
                let tick = interval
                    .next()
                    .await
                    .expect("a timerfd interval never ends");
                tick.expect("a timerfd tick");
            }
        }
    }

    /// What the table headings say of it.
    pub fn describe() -> String {
        match tick() {
            None => "tokio's 1 ms timer".to_owned(),
            Some(tick) => format!("a {} µs timerfd", tick.as_micros()),
        }
    }
}

fn tick() -> Option<Duration> {
    let micros: u64 = std::env::var("VIBE_BENCH_TICK_US").ok()?.parse().ok()?;
    (micros > 0).then(|| Duration::from_micros(micros))
}
