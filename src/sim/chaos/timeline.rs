//! Fault timelines: when each fault is active in one replication.
//!
//! A scheduled fault has one window: `[start, start + duration)` (no end
//! without a duration). A random fault (`random = { mtbf_s, mttr_s }`)
//! alternates healthy periods (exponential, mean MTBF) and faulty periods
//! (exponential, mean MTTR) from its start to the end of the run; a random
//! `kill` runs that process for each targeted replica on its own. Every
//! window is drawn up front from the replication's fault stream, in catalog
//! order, so the timeline is logged and never depends on the traffic.

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1};

use crate::model::Scenario;

/// The most windows one fault may open in one replication (a limit on memory
/// for random faults with a short MTBF).
pub const MAX_WINDOWS_PER_FAULT: usize = 100_000;

/// One period during which a fault is active in one replication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FaultWindow {
    pub fault: u16,
    /// For a random kill, the targeted replica (counted over the target's
    /// groups in order); otherwise 0.
    pub unit: u32,
    pub start_ns: u64,
    /// `None`: until the end of the run.
    pub end_ns: Option<u64>,
}

/// Draws every fault's windows from the fault stream, in catalog order.
/// `units(i)` is how many independent units fault i has (replicas for a
/// random kill, else 1); `horizon_ns` is where random processes stop.
pub fn draw_windows(
    scn: &Scenario,
    rng: &mut ChaCha8Rng,
    horizon_ns: u64,
    units: impl Fn(usize) -> u32,
) -> Vec<FaultWindow> {
    let mut out = Vec::new();
    for (i, f) in scn.faults.iter().enumerate() {
        let start_ns = f.start.sample_ns(rng);
        match f.random {
            None => {
                let end_ns = f.duration.as_ref().map(|d| start_ns + d.sample_ns(rng));
                out.push(FaultWindow {
                    fault: i as u16,
                    unit: 0,
                    start_ns,
                    end_ns,
                });
            }
            Some(r) => {
                let mut drawn = 0;
                for unit in 0..units(i).max(1) {
                    let mut t = start_ns as f64;
                    while drawn < MAX_WINDOWS_PER_FAULT {
                        let up: f64 = Exp1.sample(rng);
                        t += up * r.mtbf_ns as f64;
                        if t >= horizon_ns as f64 {
                            break;
                        }
                        let down: f64 = Exp1.sample(rng);
                        let end = t + (down * r.mttr_ns as f64).max(1.0);
                        out.push(FaultWindow {
                            fault: i as u16,
                            unit,
                            start_ns: t as u64,
                            end_ns: Some(end as u64),
                        });
                        drawn += 1;
                        t = end;
                    }
                }
            }
        }
    }
    out
}
