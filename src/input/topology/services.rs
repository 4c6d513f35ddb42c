//! `[[services]]`: each service's replicas in the regions it runs in, its
//! own work and failures, how callers pick its replicas, its service-level
//! mechanisms (health checks, rate limit, queue timeout, outlier detection,
//! AI output quality and validation) and its calls (`calls.rs`); then its
//! execution plan per flow. Its `kubernetes` labels resolve in `kubernetes.rs`.
//!
//! Defaults (`defaults.rs`): `kind = "service"`, `replicas = 1`,
//! `concurrency = 1`, `queue = 0`, `error_rate = 0`,
//! `balancer = "least_outstanding"`, `locality = "prefer_local"`;
//! `rate_limit.burst` = one second of tokens; `outlier_detection`:
//! `base_ejection_ms = 30000`, `max_ejection_percent = 10`;
//! `quality.wrong_effect.discount = 0`. Mechanisms left out are off.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::calls::{self, RawCall};
use super::kubernetes::RawServiceKubernetes;
use super::{Names, regions};
use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::input::dist::{RawDist, Unit, dist};
use crate::model::{
    Balancer, Call, Dist, HealthCheck, Locality, NS_PER_MS, OnCatch, Outlier, Quality, RateLimit, Service, Validates,
};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: String,
    pub kind: Option<String>,
    pub regions: Vec<String>,
    pub replicas: Option<i64>,
    pub concurrency: Option<i64>,
    pub queue: Option<i64>,
    pub service_time: RawDist,
    pub error_rate: Option<f64>,
    pub balancer: Option<Balancer>,
    pub locality: Option<Locality>,
    pub health_check: Option<RawHealthCheck>,
    pub rate_limit: Option<RawRateLimit>,
    pub queue_timeout_ms: Option<f64>,
    pub outlier_detection: Option<RawOutlier>,
    pub quality: Option<RawQuality>,
    pub validates: Option<RawValidates>,
    #[serde(default)]
    pub calls: Vec<RawCall>,
    pub kubernetes: Option<RawServiceKubernetes>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    pub interval_ms: f64,
    pub unhealthy_after: u32,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub per_s: f64,
    pub burst: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawOutlier {
    pub consecutive_errors: u32,
    pub base_ejection_ms: Option<f64>,
    pub max_ejection_percent: Option<f64>,
}

/// What a wrong AI output costs; also a `drift` fault's `wrong_effect`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawWrongEffect {
    pub discount: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawQuality {
    pub wrong_rate: f64,
    pub wrong_effect: Option<RawWrongEffect>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawValidates {
    pub catches: f64,
    pub on_catch: OnCatch,
}

/// The longest duration a service-level `_ms` key takes: a day.
const DAY_MS: f64 = 86_400_000.0;
/// The most calls one service may make.
const CALLS_MAX: usize = 1000;

/// Resolves the service at index `si`.
pub fn resolve(cx: &mut Ctx, si: usize, s: &RawService, names: &Names) -> Service {
    let p = KeyPath::root().k("services").i(si);
    let present = regions::mask(cx, &p.k("regions"), &s.regions, &names.regions);
    let replicas = cx.count_in_range(&p.k("replicas"), s.replicas, defaults::REPLICAS, 1, 10_000, "replicas");
    let concurrency = cx.count_in_range(
        &p.k("concurrency"),
        s.concurrency,
        defaults::CONCURRENCY,
        1,
        1_000_000,
        "concurrency",
    );
    let queue = cx.count_in_range(&p.k("queue"), s.queue, defaults::QUEUE, 0, 100_000_000, "queue");
    let service_time = dist(cx, &p.k("service_time"), &s.service_time, Unit::Ms, &names.base_dir);
    let error_rate = s.error_rate.unwrap_or(defaults::ERROR_RATE);
    cx.in_range(&p.k("error_rate"), error_rate, 0.0, 1.0, "error_rate");
    let health_check = s
        .health_check
        .as_ref()
        .map(|h| health_check(cx, &p.k("health_check"), h));
    let rate_limit = s.rate_limit.as_ref().map(|r| rate_limit(cx, &p.k("rate_limit"), r));
    let queue_timeout_ns = s.queue_timeout_ms.and_then(|t| {
        cx.in_range(&p.k("queue_timeout_ms"), t, 0.001, DAY_MS, "queue_timeout_ms")
            .then_some((t.clamp(0.0, DAY_MS) * NS_PER_MS) as u64)
    });
    let outlier_detection = (s.outlier_detection.as_ref()).map(|o| outlier(cx, &p.k("outlier_detection"), o));
    let quality = s.quality.as_ref().map(|q| quality(cx, &p.k("quality"), q));
    let validates = s.validates.as_ref().map(|v| validates(cx, &p.k("validates"), v));
    if s.calls.len() > CALLS_MAX {
        cx.err(&p.k("calls"), "at most 1000 calls per service");
    }
    let calls = (s.calls.iter().enumerate())
        .map(|(ci, c)| calls::resolve(cx, &p.k("calls").i(ci), si, ci, s, c, names))
        .collect::<Vec<_>>();
    let plan = plan(&calls, names.flows.len());
    Service {
        name: s.name.clone(),
        kind: s.kind.clone().unwrap_or_else(|| defaults::SERVICE_KIND.to_string()),
        present,
        replicas,
        concurrency,
        queue,
        // A placeholder when the distribution has errors: the model is discarded then.
        service_time: service_time.unwrap_or(Dist::Const(0.0)),
        error_rate,
        balancer: s.balancer.unwrap_or(defaults::BALANCER),
        locality: s.locality.unwrap_or(defaults::LOCALITY),
        health_check,
        rate_limit,
        queue_timeout_ns,
        outlier_detection,
        quality,
        validates,
        calls,
        // Set by the Kubernetes section (`kubernetes.rs`), with the namespaces.
        kubernetes_labels: Vec::new(),
        plan,
    }
}

fn health_check(cx: &mut Ctx, hp: &KeyPath, h: &RawHealthCheck) -> HealthCheck {
    cx.in_range(&hp.k("interval_ms"), h.interval_ms, 1.0, DAY_MS, "interval_ms");
    if h.unhealthy_after == 0 || h.unhealthy_after > 1000 {
        cx.err(&hp.k("unhealthy_after"), "unhealthy_after must be between 1 and 1000");
    }
    HealthCheck {
        interval_ns: (h.interval_ms * NS_PER_MS) as u64,
        unhealthy_after: h.unhealthy_after,
    }
}

/// `validates = { catches, on_catch }` (also a rollout's override).
pub(crate) fn validates(cx: &mut Ctx, vp: &KeyPath, v: &RawValidates) -> Validates {
    cx.in_range(&vp.k("catches"), v.catches, 0.0, 1.0, "catches");
    Validates {
        catches: v.catches,
        on_catch: v.on_catch,
    }
}

/// `rate_limit = { per_s, burst }` (also a rollout's override).
pub(crate) fn rate_limit(cx: &mut Ctx, rp: &KeyPath, r: &RawRateLimit) -> RateLimit {
    cx.in_range(&rp.k("per_s"), r.per_s, 0.0, 1e9, "per_s");
    let burst = r.burst.unwrap_or(defaults::rate_limit_burst(r.per_s));
    cx.in_range(&rp.k("burst"), burst, 1.0, 1e9, "burst");
    RateLimit { per_s: r.per_s, burst }
}

fn outlier(cx: &mut Ctx, op: &KeyPath, o: &RawOutlier) -> Outlier {
    if o.consecutive_errors == 0 || o.consecutive_errors > 10_000 {
        cx.err(
            &op.k("consecutive_errors"),
            "consecutive_errors must be between 1 and 10000",
        );
    }
    let base = o.base_ejection_ms.unwrap_or(defaults::BASE_EJECTION_MS);
    cx.in_range(&op.k("base_ejection_ms"), base, 0.0, DAY_MS, "base_ejection_ms");
    let max = o.max_ejection_percent.unwrap_or(defaults::MAX_EJECTION_PERCENT);
    cx.in_range(&op.k("max_ejection_percent"), max, 0.0, 100.0, "max_ejection_percent");
    Outlier {
        consecutive_errors: o.consecutive_errors.max(1),
        base_ejection_ns: (base.clamp(0.0, DAY_MS) * NS_PER_MS) as u64,
        max_ejection_percent: max,
    }
}

/// `quality = { wrong_rate, wrong_effect }` (also a rollout's override).
pub(crate) fn quality(cx: &mut Ctx, qp: &KeyPath, q: &RawQuality) -> Quality {
    cx.in_range(&qp.k("wrong_rate"), q.wrong_rate, 0.0, 1.0, "wrong_rate");
    let discount = (q.wrong_effect.as_ref())
        .and_then(|e| e.discount)
        .unwrap_or(defaults::WRONG_OUTPUT_DISCOUNT);
    cx.in_range(&qp.k("wrong_effect").k("discount"), discount, 0.0, 1.0, "discount");
    Quality {
        wrong_rate: q.wrong_rate,
        discount,
    }
}

/// The execution plan per flow: the stages in increasing order, each with
/// the indices of the calls it makes (run in parallel).
fn plan(calls: &[Call], flows: usize) -> Vec<Vec<Vec<u16>>> {
    // More than MAX_FLOWS flows is reported as an error elsewhere; the plan
    // stops at the mask's width rather than shift past it.
    (0..flows.clamp(1, crate::model::MAX_FLOWS))
        .map(|f| {
            let stages: BTreeSet<u32> = calls
                .iter()
                .filter(|c| c.flows & (1 << f) != 0)
                .map(|c| c.stage)
                .collect();
            stages
                .into_iter()
                .map(|st| {
                    (0..calls.len())
                        .filter(|&i| calls[i].stage == st && calls[i].flows & (1 << f) != 0)
                        .map(|i| i as u16)
                        .collect()
                })
                .collect()
        })
        .collect()
}
