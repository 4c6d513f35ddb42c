//! `[run]`: how long one replication runs, how much of it is warm-up, how
//! many replications and the seed; and for telemetry (`run --trace` and
//! `--metrics`), the wall-clock instant simulated time starts at (`epoch`)
//! and the scrape interval. Defaults (`defaults.rs`): `warmup_s = 0`,
//! `seed = 1`; without `replications`, `run` and `check` add replications
//! until the verdicts are decided (the command line's `--replications` and
//! `--seed` override those two); `epoch = 2026-01-01T00:00:00Z`,
//! `scrape_interval_s = 15`.

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
    pub epoch: Option<toml::value::Datetime>,
    pub scrape_interval_s: Option<f64>,
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
    pub epoch_unix_ns: u64,
    pub scrape_interval_ns: u64,
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
            (1..=crate::model::MAX_REPLICATIONS as i64).contains(&replications),
            format!(
                "replications must be between 1 and {} (the most one run keeps in memory), found {replications}",
                crate::model::MAX_REPLICATIONS
            ),
        );
    }
    let epoch = match &run.epoch {
        Some(d) => unix_ns(d),
        None => Ok(defaults::EPOCH_UNIX_NS),
    };
    cx.check(
        &rp.k("epoch"),
        epoch.is_ok(),
        format!(
            "epoch must be a date-time with its offset, from 1970 to 2262, as in epoch = 2026-01-01T09:00:00Z{}",
            epoch.as_ref().err().map(|e| format!(" ({e})")).unwrap_or_default()
        ),
    );
    let scrape_s = run.scrape_interval_s.unwrap_or(defaults::SCRAPE_INTERVAL_S);
    cx.check(
        &rp.k("scrape_interval_s"),
        scrape_s.is_finite() && (0.001..=86_400.0).contains(&scrape_s),
        format!("scrape_interval_s must be between 0.001 and 86400 (a day), found {scrape_s}"),
    );
    Run {
        epoch_unix_ns: epoch.unwrap_or(defaults::EPOCH_UNIX_NS),
        scrape_interval_ns: (scrape_s.clamp(0.001, 86_400.0) * NS_PER_S) as u64,
        duration_s: run.duration_s,
        warmup_s,
        duration_ns: (run.duration_s.clamp(0.0, WEEK_S) * NS_PER_S) as u64,
        warmup_ns: (warmup_s.clamp(0.0, WEEK_S) * NS_PER_S) as u64,
        replications: run
            .replications
            .map(|r| r.clamp(1, crate::model::MAX_REPLICATIONS as i64) as u32),
        seed: run.seed.unwrap_or(defaults::SEED),
    }
}

/// Nanoseconds since 1970-01-01T00:00:00Z of an offset date-time.
fn unix_ns(d: &toml::value::Datetime) -> Result<u64, &'static str> {
    use toml::value::Offset;
    let (Some(date), Some(time), Some(offset)) = (d.date, d.time, d.offset) else {
        return Err("a date, a time and an offset (Z or ±hh:mm) are all needed");
    };
    // Days from the civil date (Howard Hinnant's algorithm), proleptic Gregorian.
    let (y, m, day) = (date.year as i64, date.month as i64, date.day as i64);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let offset_min = match offset {
        Offset::Z => 0,
        Offset::Custom { minutes } => minutes as i64,
    };
    let secs = days * 86_400 + time.hour as i64 * 3600 + time.minute as i64 * 60 + time.second.unwrap_or(0) as i64
        - offset_min * 60;
    let ns = secs as i128 * 1_000_000_000 + time.nanosecond.unwrap_or(0) as i128;
    u64::try_from(ns).map_err(|_| "before 1970 or too far ahead")
}

#[cfg(test)]
mod tests {
    #[test]
    fn epochs_convert_to_unix_time() {
        // Known instants: the Unix epoch, the default, and an offset that moves it back an hour.
        let at = |s: &str| super::unix_ns(&s.parse().unwrap());
        assert_eq!(at("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(at("2026-01-01T00:00:00Z"), Ok(1_767_225_600_000_000_000));
        assert_eq!(at("2026-01-01T01:00:00+01:00"), Ok(1_767_225_600_000_000_000));
        assert_eq!(at("2000-02-29T12:30:15.5Z"), Ok(951_827_415_500_000_000));
        assert!(at("1969-12-31T23:59:59Z").is_err());
        assert!(at("2026-01-01T00:00:00").is_err(), "no offset");
    }
}
