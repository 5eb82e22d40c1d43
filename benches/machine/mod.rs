//! What an idle moment costs on the server's core, measured before each run: the same
//! walk through a buffer of half a core's L2, and the same chain of multiplications,
//! timed once while the core stays busy and once right after it slept 1 ms. An idle core
//! halts and may wake with its caches cold (the host ran something else there, or its core
//! slept deeply), and a call after a pause then costs more than one in a burst. How much
//! differs between VMs, and it sets how busy "half the saturation rate" keeps the server,
//! so each run prints it beside its numbers.

use std::hint::black_box;
use std::time::{Duration, Instant};

use super::median;

/// Half a core's L2 on the machines seen here (AMD EPYC, Zen 3: 512 KiB), so the walk fits
/// with room for the rest of the process.
const WALK_BYTES: usize = 256 * 1024;
const LINE: usize = 64;
const SAMPLES: usize = 300;
const IDLE: Duration = Duration::from_millis(1);
const CHAIN_STEPS: u64 = 5_000;

/// Nanoseconds a step, medians over [`SAMPLES`].
pub struct IdleCost {
    pub walk_busy: f64,
    pub walk_after_idle: f64,
    pub chain_busy: f64,
    pub chain_after_idle: f64,
}

impl std::fmt::Display for IdleCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a {} KiB walk {:.1} ns a line busy, {:.1} after {} ms idle ({:.1}x); \
             a multiply chain {:.2} ns a step busy, {:.2} after idle ({:.2}x: the clock)",
            WALK_BYTES / 1024,
            self.walk_busy,
            self.walk_after_idle,
            IDLE.as_millis(),
            self.walk_after_idle / self.walk_busy,
            self.chain_busy,
            self.chain_after_idle,
            self.chain_after_idle / self.chain_busy,
        )
    }
}

/// Measures on the calling thread; pin it to the server's core first.
pub fn idle_cost() -> IdleCost {
    let walk = Walk::new();
    let sample = |idle: bool| {
        let mut walks = Vec::with_capacity(SAMPLES);
        let mut chains = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            if idle {
                std::thread::sleep(IDLE);
            }
            walks.push(walk.ns_per_line());
            chains.push(chain_ns_per_step());
        }
        (median(walks), median(chains))
    };
    // Once unmeasured: the first pass loads the buffer and faults its pages in.
    sample(false);
    let (walk_busy, chain_busy) = sample(false);
    let (walk_after_idle, chain_after_idle) = sample(true);
    IdleCost {
        walk_busy,
        walk_after_idle,
        chain_busy,
        chain_after_idle,
    }
}

/// One cache line after another in a fixed random cycle, so no prefetcher guesses the next.
struct Walk {
    next: Vec<usize>,
}

impl Walk {
    fn new() -> Self {
        let lines = WALK_BYTES / LINE;
        let stride = LINE / size_of::<usize>();
        let mut order: Vec<usize> = (0..lines).collect();
        // Fisher-Yates with xorshift: the same cycle every run.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for i in (1..lines).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut next = vec![0; lines * stride];
        for (k, &line) in order.iter().enumerate() {
            next[line * stride] = order[(k + 1) % lines] * stride;
        }
        Self { next }
    }

    fn ns_per_line(&self) -> f64 {
        let lines = self.next.len() / (LINE / size_of::<usize>());
        let began = Instant::now();
        let mut at = 0;
        for _ in 0..lines {
            at = self.next[at];
        }
        black_box(at);
        began.elapsed().as_nanos() as f64 / lines as f64
    }
}

/// Dependent multiplications: no memory, so only the clock (and the host) sets their pace.
fn chain_ns_per_step() -> f64 {
    let began = Instant::now();
    let mut x = black_box(1u64);
    for _ in 0..CHAIN_STEPS {
        // The shift keeps the compiler from folding steps together (it does for an LCG).
        x = (x ^ (x >> 29)).wrapping_mul(6_364_136_223_846_793_005);
    }
    black_box(x);
    began.elapsed().as_nanos() as f64 / CHAIN_STEPS as f64
}
