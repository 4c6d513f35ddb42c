//! `[rollout]`: the experiment's change, a canary rollout of a new version
//! of one service (Argo Rollouts' canary with Istio traffic routing).
//!
//! ```toml
//! [rollout]
//! service = "ai-pricing"
//! start_s = 600
//! overrides = { quality = { wrong_rate = 0.02, wrong_effect = { discount = 0.5 } } }
//! steps = [
//!   { weight = 10 },
//!   { analysis = { max_error_rate = 0.01, interval_s = 60, count = 3 } },
//!   { weight = 100 },
//! ]
//! analysis = { max_wrong_rate = 0.001, interval_s = 30, starting_step = 1 }
//! ```
//!
//! Defaults (`defaults.rs`): `start_s = 0`; no `overrides`: the new
//! version behaves as the old one; an analysis' `initial_delay_s = 0`,
//! `failure_limit = 0` (−1: never fails), `inconclusive_limit = 0`, and
//! `count = 1` when neither `count` nor `interval_s` is given; a background
//! analysis without `count` measures until the rollout completes, from
//! `starting_step = 0`.
//!
//! A step is a table with exactly one key (`weight`, `pause_s` or
//! `analysis`), checked here rather than by a serde enum, so that a step
//! with two keys or none is reported at the step with what it may hold.

use std::path::Path;

use serde::Deserialize;

use super::known_services;
use super::run::Run;
use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::input::dist::{RawDist, Unit, dist};
use crate::input::topology::{RawQuality, RawRateLimit, RawValidates, quality, rate_limit, validates};
use crate::model::{Analysis, NS_PER_MS, NS_PER_S, Rollout, RolloutStep, Service, Topology};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollout {
    pub service: String,
    pub start_s: Option<f64>,
    #[serde(default)]
    pub overrides: RawOverrides,
    pub steps: Vec<RawStep>,
    pub analysis: Option<RawAnalysis>,
}

/// What the new version does differently: the service's own keys that a
/// deploy can change. Its calls, regions, replicas and routing stay.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverrides {
    pub service_time: Option<RawDist>,
    pub error_rate: Option<f64>,
    pub quality: Option<RawQuality>,
    pub validates: Option<RawValidates>,
    pub concurrency: Option<i64>,
    pub queue: Option<i64>,
    pub queue_timeout_ms: Option<f64>,
    pub rate_limit: Option<RawRateLimit>,
}

/// One step as written: exactly one of its keys.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub weight: Option<f64>,
    pub pause_s: Option<f64>,
    pub analysis: Option<RawAnalysis>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnalysis {
    pub max_error_rate: Option<f64>,
    pub max_p99_ms: Option<f64>,
    pub max_wrong_rate: Option<f64>,
    pub interval_s: Option<f64>,
    pub initial_delay_s: Option<f64>,
    pub count: Option<i64>,
    pub failure_limit: Option<i64>,
    pub inconclusive_limit: Option<i64>,
    pub starting_step: Option<i64>,
}

/// The most steps a rollout may have.
const STEPS_MAX: usize = 64;
/// The longest pause, interval or initial delay: a week.
const WEEK_S: f64 = 604_800.0;
/// The most measurements one analysis may take, and the largest limit.
const COUNT_MAX: i64 = 100_000;
/// The largest p99 limit: a day.
const DAY_MS: f64 = 86_400_000.0;

/// Resolves `[rollout]`, if any.
pub fn resolve(cx: &mut Ctx, raw: Option<&RawRollout>, topo: &Topology, run: &Run, base_dir: &Path) -> Option<Rollout> {
    let raw = raw?;
    let rp = KeyPath::root().k("rollout");
    let service = topo.service_by_name(&raw.service);
    if service.is_none() {
        cx.err(
            &rp.k("service"),
            format!("unknown service \"{}\" (known: {})", raw.service, known_services(topo)),
        );
    }
    let start_s = raw.start_s.unwrap_or(defaults::ROLLOUT_START_S);
    cx.check(
        &rp.k("start_s"),
        start_s.is_finite() && start_s >= 0.0 && start_s < run.duration_s,
        format!(
            "start_s (when the first step runs) must be at least 0 and less than duration_s ({}), found {start_s}",
            run.duration_s
        ),
    );
    if raw.steps.len() > STEPS_MAX {
        cx.err(&rp.k("steps"), format!("at most {STEPS_MAX} steps per rollout"));
    }
    let steps: Vec<RolloutStep> = (raw.steps.iter().enumerate())
        .filter_map(|(i, s)| step(cx, &rp.k("steps").i(i), s))
        .collect();
    let background = raw.analysis.as_ref().and_then(|a| {
        let ap = rp.k("analysis");
        let starting = a.starting_step.unwrap_or(defaults::ANALYSIS_STARTING_STEP);
        let last = raw.steps.len() as i64 - 1;
        cx.check(
            &ap.k("starting_step"),
            (0..=last).contains(&starting),
            if last < 0 {
                "a background analysis needs steps to run beside (steps is empty)".to_string()
            } else {
                format!("starting_step is the index of a step, between 0 and {last}, found {starting}")
            },
        );
        analysis(cx, &ap, a, true).map(|an| (an, starting.clamp(0, STEPS_MAX as i64) as usize))
    });
    let version = service.and_then(|s| {
        version(
            cx,
            &rp.k("overrides"),
            &raw.overrides,
            &topo.services[s.index()],
            base_dir,
        )
    });
    Some(Rollout {
        service: service?,
        start_ns: (start_s.clamp(0.0, WEEK_S) * NS_PER_S) as u64,
        version: version?,
        steps,
        background,
    })
}

/// One step: `{ weight }`, `{ pause_s }` or `{ analysis }`.
fn step(cx: &mut Ctx, sp: &KeyPath, s: &RawStep) -> Option<RolloutStep> {
    let written = [s.weight.is_some(), s.pause_s.is_some(), s.analysis.is_some()];
    if written.iter().filter(|w| **w).count() != 1 {
        cx.err(
            sp,
            "a step holds exactly one of `weight` (percent of calls to the new version), \
             `pause_s` (seconds) or `analysis` (a table)",
        );
        return None;
    }
    if let Some(w) = s.weight {
        cx.in_range(
            &sp.k("weight"),
            w,
            0.0,
            100.0,
            "weight (percent of the service's calls)",
        )
        .then_some(RolloutStep::Weight(w))
    } else if let Some(p) = s.pause_s {
        cx.in_range(&sp.k("pause_s"), p, 0.0, WEEK_S, "pause_s")
            .then_some(RolloutStep::Pause((p.clamp(0.0, WEEK_S) * NS_PER_S) as u64))
    } else {
        let a = s.analysis.as_ref()?;
        let ap = sp.k("analysis");
        if a.starting_step.is_some() {
            cx.err(
                &ap.k("starting_step"),
                "starting_step belongs to the background analysis (`rollout.analysis`); a step analysis runs where it stands",
            );
        }
        analysis(cx, &ap, a, false).map(RolloutStep::Analysis)
    }
}

/// An analysis, step (`background` false) or background.
fn analysis(cx: &mut Ctx, ap: &KeyPath, a: &RawAnalysis, background: bool) -> Option<Analysis> {
    let mut ok = true;
    if a.max_error_rate.is_none() && a.max_p99_ms.is_none() && a.max_wrong_rate.is_none() {
        cx.err(
            ap,
            "an analysis needs a limit to judge by: max_error_rate, max_p99_ms and/or max_wrong_rate",
        );
        ok = false;
    }
    for (key, v) in [
        ("max_error_rate", a.max_error_rate),
        ("max_wrong_rate", a.max_wrong_rate),
    ] {
        if let Some(v) = v {
            ok &= cx.in_range(&ap.k(key), v, 0.0, 1.0, key);
        }
    }
    if let Some(v) = a.max_p99_ms {
        ok &= cx.check(
            &ap.k("max_p99_ms"),
            v.is_finite() && v > 0.0 && v <= DAY_MS,
            format!("max_p99_ms must be more than 0 and at most 86400000 (a day), found {v}"),
        );
    }
    let seconds = |cx: &mut Ctx, key: &str, v: f64, min_exclusive: bool| {
        let fits = v.is_finite() && v <= WEEK_S && if min_exclusive { v > 0.0 } else { v >= 0.0 };
        let lower = if min_exclusive { "more than 0" } else { "at least 0" };
        cx.check(
            &ap.k(key),
            fits,
            format!("{key} must be {lower} and at most 604800 (a week), found {v}"),
        )
    };
    if let Some(v) = a.interval_s {
        ok &= seconds(cx, "interval_s", v, true);
    }
    let initial = a.initial_delay_s.unwrap_or(defaults::ANALYSIS_INITIAL_DELAY_S);
    ok &= seconds(cx, "initial_delay_s", initial, false);
    let count = match (a.count, a.interval_s) {
        (Some(c), _) => {
            ok &= cx.check(
                &ap.k("count"),
                (0..=COUNT_MAX).contains(&c),
                format!("count (measurements in all; 0: the analysis does not run) must be between 0 and {COUNT_MAX}, found {c}"),
            );
            ok &= cx.check(
                &ap.k("count"),
                c <= 1 || a.interval_s.is_some(),
                "more than one measurement needs `interval_s` (the time between them)",
            );
            Some(c.clamp(0, COUNT_MAX) as u32)
        }
        (None, None) => Some(defaults::ANALYSIS_COUNT as u32),
        (None, Some(_)) if background => None,
        (None, Some(_)) => {
            cx.err(
                ap,
                "a step analysis needs `count`: with only interval_s it measures until the rollout \
                 ends (Argo's rule), and the steps after it would never run",
            );
            ok = false;
            None
        }
    };
    let failure_limit = a.failure_limit.unwrap_or(defaults::ANALYSIS_FAILURE_LIMIT);
    ok &= cx.check(
        &ap.k("failure_limit"),
        (-1..=COUNT_MAX).contains(&failure_limit),
        format!("failure_limit must be between -1 (never fails) and {COUNT_MAX}, found {failure_limit}"),
    );
    let inconclusive = a.inconclusive_limit.unwrap_or(defaults::ANALYSIS_INCONCLUSIVE_LIMIT);
    ok &= cx.check(
        &ap.k("inconclusive_limit"),
        (0..=COUNT_MAX).contains(&inconclusive),
        format!("inconclusive_limit must be between 0 and {COUNT_MAX}, found {inconclusive}"),
    );
    ok.then(|| Analysis {
        max_error_rate: a.max_error_rate,
        max_p99_ns: a.max_p99_ms.map(|v| (v * NS_PER_MS) as u64),
        max_wrong_rate: a.max_wrong_rate,
        interval_ns: a.interval_s.map(|v| (v * NS_PER_S) as u64),
        initial_delay_ns: (initial * NS_PER_S) as u64,
        count,
        failure_limit: u32::try_from(failure_limit).ok(),
        inconclusive_limit: inconclusive as u32,
    })
}

/// The new version: the service with the overrides applied.
fn version(cx: &mut Ctx, op: &KeyPath, o: &RawOverrides, stable: &Service, base_dir: &Path) -> Option<Service> {
    // Errors leave the value as it was: the model is discarded then.
    let mut v = stable.clone();
    if let Some(d) = &o.service_time {
        v.service_time = dist(cx, &op.k("service_time"), d, Unit::Ms, base_dir)?;
    }
    if let Some(e) = o.error_rate {
        cx.in_range(&op.k("error_rate"), e, 0.0, 1.0, "error_rate");
        v.error_rate = e;
    }
    if let Some(q) = &o.quality {
        v.quality = Some(quality(cx, &op.k("quality"), q));
    }
    if let Some(x) = &o.validates {
        v.validates = Some(validates(cx, &op.k("validates"), x));
    }
    if o.concurrency.is_some() {
        v.concurrency = cx.count_in_range(&op.k("concurrency"), o.concurrency, 1, 1, 1_000_000, "concurrency");
    }
    if o.queue.is_some() {
        v.queue = cx.count_in_range(&op.k("queue"), o.queue, 0, 0, 100_000_000, "queue");
    }
    if let Some(t) = o.queue_timeout_ms {
        cx.in_range(&op.k("queue_timeout_ms"), t, 0.001, DAY_MS, "queue_timeout_ms");
        v.queue_timeout_ns = Some((t.clamp(0.0, DAY_MS) * NS_PER_MS) as u64);
    }
    if let Some(r) = &o.rate_limit {
        v.rate_limit = Some(rate_limit(cx, &op.k("rate_limit"), r));
    }
    Some(v)
}
