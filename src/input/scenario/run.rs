//! `[run]`: how long one replication runs, how much of it is warm-up, how
//! many replications and the seed. Defaults (`defaults.rs`): `warmup_s = 0`,
//! `seed = 1`; without `replications`, `run` and `check` add replications
//! until the verdicts are decided (the command line's `--replications` and
//! `--seed` override the last two).

use serde::Deserialize;

use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::model::NS_PER_S;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub duration_s: f64,
    pub warmup_s: Option<f64>,
    pub replications: Option<i64>,
    pub seed: Option<u64>,
}

/// The longest run: a week.
const WEEK_S: f64 = 7.0 * 86_400.0;

/// `[run]` resolved; the seconds as written are kept for checks that
/// compare other keys with them.
pub struct Run {
    pub duration_s: f64,
    pub warmup_s: f64,
    pub duration_ns: u64,
    pub warmup_ns: u64,
    /// `None`: decided sequentially.
    pub replications: Option<u32>,
    pub seed: u64,
}

pub fn resolve(cx: &mut Ctx, run: &RawRun) -> Run {
    let rp = KeyPath::root().k("run");
    let dur_ok = cx.check(
        &rp.k("duration_s"),
        run.duration_s.is_finite() && run.duration_s > 0.0 && run.duration_s <= WEEK_S,
        format!(
            "duration_s must be more than 0 and at most 604800 (a week), found {}",
            run.duration_s
        ),
    );
    let warmup_s = run.warmup_s.unwrap_or(defaults::WARMUP_S);
    cx.check(
        &rp.k("warmup_s"),
        warmup_s.is_finite() && warmup_s >= 0.0 && (!dur_ok || warmup_s < run.duration_s),
        format!(
            "warmup_s must be at least 0 and less than duration_s ({}), found {warmup_s}",
            run.duration_s
        ),
    );
    if let Some(replications) = run.replications {
        cx.check(
            &rp.k("replications"),
            (1..=10_000_000).contains(&replications),
            format!("replications must be between 1 and 10000000, found {replications}"),
        );
    }
    Run {
        duration_s: run.duration_s,
        warmup_s,
        duration_ns: (run.duration_s.clamp(0.0, WEEK_S) * NS_PER_S) as u64,
        warmup_ns: (warmup_s.clamp(0.0, WEEK_S) * NS_PER_S) as u64,
        replications: run.replications.map(|r| r.clamp(1, 10_000_000) as u32),
        seed: run.seed.unwrap_or(defaults::SEED),
    }
}
