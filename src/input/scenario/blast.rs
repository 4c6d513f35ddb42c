//! `[blast_radius]`: what the experiment is declared to be allowed to hit
//! (`max_services`, `max_regions`; no limit when left out) and when a
//! service × region counts as degraded. Defaults (`defaults.rs`):
//! `degraded_when = { error_rate = 0.01, latency_factor = 2.0 }`. An entry
//! with faults or a rollout and no `[blast_radius]` breaks a catalog rule.

use serde::Deserialize;

use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::model::BlastRadius;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawBlastRadius {
    pub max_services: Option<i64>,
    pub max_regions: Option<i64>,
    pub degraded_when: Option<RawDegradedWhen>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawDegradedWhen {
    pub error_rate: Option<f64>,
    pub latency_factor: Option<f64>,
}

/// The largest declared radius.
const LIMIT_MAX: i64 = 1_000_000;

pub fn resolve(cx: &mut Ctx, raw: Option<&RawBlastRadius>, has_change: bool) -> Option<BlastRadius> {
    let root = KeyPath::root();
    let Some(b) = raw else {
        if has_change {
            cx.rule(
                &root,
                "no [blast_radius]: declare what the experiment is allowed to hit (max_services, max_regions)",
            );
        }
        return None;
    };
    let bp = root.k("blast_radius");
    for (key, v) in [("max_services", b.max_services), ("max_regions", b.max_regions)] {
        if let Some(v) = v {
            cx.check(
                &bp.k(key),
                (0..=LIMIT_MAX).contains(&v),
                format!("{key} must be at least 0, found {v}"),
            );
        }
    }
    let dw = b.degraded_when.as_ref();
    let er = dw.and_then(|d| d.error_rate).unwrap_or(defaults::DEGRADED_ERROR_RATE);
    let lf = (dw.and_then(|d| d.latency_factor)).unwrap_or(defaults::DEGRADED_LATENCY_FACTOR);
    cx.check(
        &bp.k("degraded_when").k("error_rate"),
        er.is_finite() && (0.0..=1.0).contains(&er),
        "error_rate must be between 0 and 1",
    );
    cx.check(
        &bp.k("degraded_when").k("latency_factor"),
        lf.is_finite() && lf >= 1.0,
        "latency_factor must be at least 1",
    );
    Some(BlastRadius {
        max_services: b.max_services.map(|v| v.clamp(0, LIMIT_MAX) as u32),
        max_regions: b.max_regions.map(|v| v.clamp(0, LIMIT_MAX) as u32),
        degraded_error_rate: er,
        degraded_latency_factor: lf,
    })
}
