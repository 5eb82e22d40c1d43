//! Optional records for finding where a phase's p99 came from, and knobs for shorter
//! runs while looking. All off unless set:
//! - `VIBE_BENCH_TIMELINE=dir`: each open-loop phase writes `dir/NNN-<path>.csv` (per
//!   call: scheduled send time in µs since the run began, latency in µs), and `stalls.csv`
//!   lists when the server's or the client's runtime ran a 1 ms ticker more than 2 ms
//!   late (a busy or descheduled worker); its first line gives the run's start in Unix
//!   time and in `CLOCK_MONOTONIC` (what `perf record -k mono` stamps), and it notes each grpc-web
//!   connection the client had to open again (`reopen`); `sched.csv` samples, every
//!   2 ms from a thread of its own, the server threads' time on a CPU and waiting for one
//!   (`/proc/self/task/*/schedstat`) and the server core's steal time (`/proc/stat`), to
//!   tell a busy server from a descheduled one and from a host that took the core;
//! - `VIBE_BENCH_PATHS=ab`: only these paths (the direct one is always the baseline);
//! - `VIBE_BENCH_ROUNDS=3`: open-loop rounds per rate;
//! - `VIBE_BENCH_TICK_US=100`: the open loop's clock (`pacer/mod.rs`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::{Instant, MissedTickBehavior};

use super::Path;

/// Later than this, a tick counts as a stall.
const STALL: Duration = Duration::from_millis(2);

static START: Mutex<Option<Instant>> = Mutex::new(None);
static PHASES: AtomicUsize = AtomicUsize::new(0);
static STALLS: Mutex<Vec<(&'static str, Duration, Duration)>> = Mutex::new(Vec::new());
/// (since start, server run µs, server wait µs, steal ticks), from [`sample_sched`].
static SCHED: Mutex<Vec<(Duration, u64, u64, u64)>> = Mutex::new(Vec::new());

fn start() -> Instant {
    *START.lock().unwrap().get_or_insert_with(Instant::now)
}

fn dir() -> Option<PathBuf> {
    std::env::var_os("VIBE_BENCH_TIMELINE").map(Into::into)
}

/// The paths of `all` that `VIBE_BENCH_PATHS` picks.
pub fn paths(all: &[Path]) -> Vec<Path> {
    let Ok(picked) = std::env::var("VIBE_BENCH_PATHS") else {
        return all.to_vec();
    };
    all.iter()
        .copied()
        .filter(|path| *path == Path::Direct || picked.contains(&path.tag()[1..2]))
        .collect()
}

/// Open-loop rounds per rate.
pub fn rounds(default: usize) -> usize {
    std::env::var("VIBE_BENCH_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(default)
}

/// Writes one open-loop phase: call `n` was due at `first + n / rate`.
pub fn phase(path: Path, rate: f64, first: Instant, calls: &[(usize, Duration)]) {
    let Some(dir) = dir() else {
        return;
    };
    let phase = PHASES.fetch_add(1, Ordering::Relaxed);
    let began = first.duration_since(start()).as_secs_f64();
    let file = dir.join(format!("{phase:03}-{}.csv", &path.tag()[1..2]));
    let mut out = std::io::BufWriter::new(std::fs::File::create(file).unwrap());
    writeln!(out, "# {} at {rate:.0}/s", path.name()).unwrap();
    for (n, latency) in calls {
        let due = began + *n as f64 / rate;
        writeln!(out, "{:.0},{}", due * 1e6, latency.as_micros()).unwrap();
    }
}

/// Ticks every millisecond on the current runtime, noting each tick later than
/// [`STALL`]; runs until the runtime ends.
pub async fn watch(runtime: &'static str) {
    if dir().is_none() {
        return;
    }
    let start = start();
    let mut ticks = tokio::time::interval(Duration::from_millis(1));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        let due = ticks.tick().await;
        let late = due.elapsed();
        if late > STALL {
            STALLS
                .lock()
                .unwrap()
                .push((runtime, due.duration_since(start), late));
        }
    }
}

/// Samples, every 2 ms until the process ends, the summed run and run-queue wait time of
/// the threads whose name starts with `server` (a sum that drops when one of them ends)
/// and the steal time of `cpu` (in 10 ms clock ticks); [`write`] saves them as
/// `sched.csv`.
pub fn sample_sched(server: &'static str, cpu: usize) {
    if dir().is_none() {
        return;
    }
    let start = start();
    std::thread::spawn(move || {
        let mut threads = Vec::new();
        for n in 0u64.. {
            if n % 500 == 0 {
                threads = threads_named(server);
            }
            let (run, wait) = threads.iter().fold((0, 0), |(run, wait), path| {
                let (r, w) = schedstat(path);
                (run + r, wait + w)
            });
            let sample = (start.elapsed(), run / 1000, wait / 1000, steal_ticks(cpu));
            SCHED.lock().unwrap().push(sample);
            std::thread::sleep(Duration::from_millis(2));
        }
    });
}

fn threads_named(prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .map(|task| task.path())
        .filter(|task| {
            std::fs::read_to_string(task.join("comm")).is_ok_and(|comm| comm.starts_with(prefix))
        })
        .map(|task| task.join("schedstat"))
        .collect()
}

/// Time on a CPU so far of the threads whose name starts with `prefix`, summed (always
/// on: the open loop prints how busy each runtime kept its core).
pub fn cpu_time(prefix: &str) -> Duration {
    let nanos = threads_named(prefix)
        .iter()
        .map(|path| schedstat(path).0)
        .sum();
    Duration::from_nanos(nanos)
}

/// (ns on a CPU, ns waiting in a run queue) of one thread; zeros once it has ended.
fn schedstat(path: &std::path::Path) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut fields = text.split_whitespace().map(|f| f.parse().unwrap_or(0));
    (fields.next().unwrap_or(0), fields.next().unwrap_or(0))
}

/// The steal column of `cpuN` in `/proc/stat`, in clock ticks.
fn steal_ticks(cpu: usize) -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let name = format!("cpu{cpu} ");
    stat.lines()
        .find(|line| line.starts_with(&name))
        .and_then(|line| line.split_whitespace().nth(8))
        .and_then(|steal| steal.parse().ok())
        .unwrap_or(0)
}

/// Writes the stalls [`watch`] noted and the samples [`sample_sched`] took.
pub fn write() {
    let Some(dir) = dir() else { return };
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("stalls.csv")).unwrap());
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() - start().elapsed();
    writeln!(
        out,
        "# runtime,µs since start,µs late; start = {} µs Unix time, {:?} (CLOCK_MONOTONIC, as `perf record -k mono` stamps)",
        unix.as_micros(),
        start()
    )
    .unwrap();
    for (runtime, at, late) in STALLS.lock().unwrap().iter() {
        writeln!(out, "{runtime},{},{}", at.as_micros(), late.as_micros()).unwrap();
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("sched.csv")).unwrap());
    writeln!(
        out,
        "# µs since start,server run µs,server wait µs,cpu steal ticks"
    )
    .unwrap();
    for (at, run, wait, steal) in SCHED.lock().unwrap().iter() {
        writeln!(out, "{},{run},{wait},{steal}", at.as_micros()).unwrap();
    }
}

/// Notes an event on the client at this moment.
pub fn note(event: &'static str) {
    if dir().is_some() {
        let at = start().elapsed();
        STALLS.lock().unwrap().push((event, at, Duration::ZERO));
    }
}
