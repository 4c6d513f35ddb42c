//! `[[services.calls]]`: what a service calls, for which flows, in which
//! stage, and the call's resilience: timeouts, retries, circuit breaker,
//! fallback, bulkhead. A call to a queue publishes to it.
//!
//! Defaults (`defaults.rs`): every flow; `stage` = the call's own index;
//! `p = 1`; `required = true`; no timeout; one try. In `retry`:
//! `backoff_ms = 25`, `max_backoff_ms` = 10 × backoff (at most 1 h),
//! `jitter = "full"`, no budget. In `circuit_breaker`: a rate left out never
//! opens it, `slow_call_ms = 60000`, `min_calls` = min(window, 100),
//! `half_open_calls = 10`.

use serde::Deserialize;

use super::Names;
use super::services::RawService;
use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::model::{Breaker, Call, CallTarget, Fallback, Jitter, NS_PER_MS, QueueId, Retry, ServiceId};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCall {
    pub to: String,
    pub flows: Option<Vec<String>>,
    pub stage: Option<u32>,
    pub p: Option<f64>,
    pub timeout_ms: Option<f64>,
    pub per_try_timeout_ms: Option<f64>,
    pub retry: Option<RawRetry>,
    pub circuit_breaker: Option<RawBreaker>,
    pub fallback: Option<String>,
    pub required: Option<bool>,
    pub max_in_flight: Option<i64>,
    pub idempotency: Option<bool>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub attempts: u32,
    pub backoff_ms: Option<f64>,
    pub max_backoff_ms: Option<f64>,
    pub jitter: Option<Jitter>,
    pub budget: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub failure_rate: Option<f64>,
    pub slow_call_rate: Option<f64>,
    pub slow_call_ms: Option<f64>,
    pub window: u32,
    pub min_calls: Option<u32>,
    pub open_ms: f64,
    pub half_open_calls: Option<u32>,
}

/// The `fallback` that answers degraded instead of calling a service.
pub const FALLBACK_DEGRADE: &str = "degrade";

/// The longest timeout or breaker duration: a day.
const DAY_MS: f64 = 86_400_000.0;
/// The longest backoff: an hour.
const HOUR_MS: f64 = 3_600_000.0;
/// The highest stage number.
const STAGE_MAX: u32 = 1_000_000;

/// Resolves call `ci` (at `cp`) of service `si`.
pub fn resolve(cx: &mut Ctx, cp: &KeyPath, si: usize, ci: usize, s: &RawService, c: &RawCall, names: &Names) -> Call {
    let to = target(cx, cp, si, s, c, names);
    let flows = flow_mask(cx, cp, c, names);
    let p = c.p.unwrap_or(defaults::CALL_P);
    cx.in_range(&cp.k("p"), p, 0.0, 1.0, "p");
    let timeout_ns = c.timeout_ms.and_then(|t| {
        cx.in_range(&cp.k("timeout_ms"), t, 0.001, DAY_MS, "timeout_ms")
            .then(|| (t * NS_PER_MS).round() as u64)
    });
    let retry = c.retry.as_ref().map(|r| retry(cx, &cp.k("retry"), r));
    let per_try_timeout_ns = c.per_try_timeout_ms.and_then(|t| {
        cx.in_range(&cp.k("per_try_timeout_ms"), t, 0.001, DAY_MS, "per_try_timeout_ms")
            .then_some((t.clamp(0.0, DAY_MS) * NS_PER_MS).round() as u64)
    });
    if let (Some(t), Some(pt)) = (c.timeout_ms, c.per_try_timeout_ms)
        && pt > t
    {
        cx.err(
            &cp.k("per_try_timeout_ms"),
            format!("per_try_timeout_ms ({pt}) must not exceed timeout_ms ({t})"),
        );
    }
    let max_in_flight = c.max_in_flight.map(|m| {
        if !(1..=10_000_000).contains(&m) {
            cx.err(
                &cp.k("max_in_flight"),
                format!("max_in_flight must be between 1 and 10000000, found {m}"),
            );
        }
        m.clamp(1, 10_000_000) as u32
    });
    let breaker = (c.circuit_breaker.as_ref()).map(|b| breaker(cx, &cp.k("circuit_breaker"), b));
    let fallback = c.fallback.as_ref().and_then(|f| fallback(cx, cp, si, to, f, names));
    if matches!(to, CallTarget::Queue(_)) && (c.retry.is_some() || c.circuit_breaker.is_some()) {
        cx.err(
            cp,
            "a publish to a queue takes no retry or circuit_breaker (redelivery is the queue's)",
        );
    }
    if c.stage.is_some_and(|st| st > STAGE_MAX) {
        cx.err(&cp.k("stage"), "stage must be at most 1000000");
    }
    Call {
        to,
        flows,
        stage: c.stage.unwrap_or(defaults::call_stage(ci)).min(STAGE_MAX),
        p,
        timeout_ns,
        retry,
        breaker,
        fallback,
        required: c.required.unwrap_or(defaults::CALL_REQUIRED),
        per_try_timeout_ns,
        max_in_flight,
        idempotency: c.idempotency,
    }
}

/// `to`: a service (not the caller itself) or a queue.
fn target(cx: &mut Ctx, cp: &KeyPath, si: usize, s: &RawService, c: &RawCall, names: &Names) -> CallTarget {
    if let Some(t) = names.service(&c.to) {
        if t == si {
            cx.err(&cp.k("to"), format!("service \"{}\" calls itself", s.name));
        }
        CallTarget::Service(ServiceId::from_index(t))
    } else if let Some(q) = names.queue(&c.to) {
        CallTarget::Queue(QueueId::from_index(q))
    } else {
        cx.err(
            &cp.k("to"),
            format!(
                "unknown service or queue \"{}\" (known: {})",
                c.to,
                names.known_targets()
            ),
        );
        CallTarget::Service(ServiceId(0))
    }
}

/// `flows`: bit `f` set when the call is made for flow `f` (left out: every flow).
fn flow_mask(cx: &mut Ctx, cp: &KeyPath, c: &RawCall, names: &Names) -> u64 {
    let Some(fs) = &c.flows else {
        return u64::MAX;
    };
    if fs.is_empty() {
        cx.err(
            &cp.k("flows"),
            "an empty list means the call is never made; leave `flows` out for every flow",
        );
    }
    let mut mask = 0u64;
    for (fi, f) in fs.iter().enumerate() {
        match names.flows.iter().position(|n| n == f) {
            Some(x) if x < 64 => mask |= 1 << x,
            _ => cx.err(
                &cp.k("flows").i(fi),
                format!("unknown flow \"{f}\" (known: {})", names.flows.join(", ")),
            ),
        }
    }
    mask
}

fn retry(cx: &mut Ctx, rp: &KeyPath, r: &RawRetry) -> Retry {
    if r.attempts == 0 || r.attempts > 100 {
        cx.err(
            &rp.k("attempts"),
            format!(
                "attempts counts every try, the first included: between 1 and 100, found {}",
                r.attempts
            ),
        );
    }
    let backoff = r.backoff_ms.unwrap_or(defaults::RETRY_BACKOFF_MS);
    cx.in_range(&rp.k("backoff_ms"), backoff, 0.0, HOUR_MS, "backoff_ms");
    let max_backoff = (r.max_backoff_ms).unwrap_or(defaults::retry_max_backoff_ms(backoff));
    if cx.in_range(&rp.k("max_backoff_ms"), max_backoff, 0.0, HOUR_MS, "max_backoff_ms") && max_backoff < backoff {
        cx.err(&rp.k("max_backoff_ms"), "max_backoff_ms must be at least backoff_ms");
    }
    if let Some(b) = r.budget {
        cx.in_range(&rp.k("budget"), b, 0.0, 100.0, "budget");
    }
    Retry {
        attempts: r.attempts.clamp(1, 100),
        backoff_ns: (backoff.max(0.0) * NS_PER_MS) as u64,
        max_backoff_ns: (max_backoff.max(0.0) * NS_PER_MS) as u64,
        jitter: r.jitter.unwrap_or(defaults::RETRY_JITTER),
        budget: r.budget,
    }
}

fn breaker(cx: &mut Ctx, bp: &KeyPath, b: &RawBreaker) -> Breaker {
    if b.failure_rate.is_none() && b.slow_call_rate.is_none() {
        cx.err(
            bp,
            "a circuit breaker needs `failure_rate` and/or `slow_call_rate` (with `slow_call_ms`)",
        );
    }
    let failure_rate = b.failure_rate.unwrap_or(defaults::BREAKER_RATE_OFF);
    if let Some(r) = b.failure_rate {
        cx.in_range(&bp.k("failure_rate"), r, 0.0, 1.0, "failure_rate");
    }
    let slow_call_rate = b.slow_call_rate.unwrap_or(defaults::BREAKER_RATE_OFF);
    if let Some(r) = b.slow_call_rate {
        cx.in_range(&bp.k("slow_call_rate"), r, 0.0, 1.0, "slow_call_rate");
        if b.slow_call_ms.is_none() {
            cx.err(bp, "slow_call_rate needs `slow_call_ms` (how slow is slow)");
        }
    }
    let slow_call_ms = b.slow_call_ms.unwrap_or(defaults::BREAKER_SLOW_CALL_MS);
    cx.in_range(&bp.k("slow_call_ms"), slow_call_ms, 0.0, DAY_MS, "slow_call_ms");
    if b.window == 0 || b.window > 100_000 {
        cx.err(&bp.k("window"), "window must be between 1 and 100000 calls");
    }
    cx.in_range(&bp.k("open_ms"), b.open_ms, 0.0, DAY_MS, "open_ms");
    let min_calls = b.min_calls.unwrap_or(defaults::breaker_min_calls(b.window));
    if min_calls > b.window {
        cx.warn(
            &bp.k("min_calls"),
            format!(
                "min_calls ({min_calls}) exceeds the window ({w}): the breaker decides after {w} calls (Resilience4j)",
                w = b.window
            ),
        );
    }
    let half_open_calls = b.half_open_calls.unwrap_or(defaults::BREAKER_HALF_OPEN_CALLS);
    if half_open_calls == 0 || half_open_calls > 100_000 {
        cx.err(&bp.k("half_open_calls"), "half_open_calls must be between 1 and 100000");
    }
    Breaker {
        failure_rate,
        slow_call_rate,
        slow_call_ns: (slow_call_ms.clamp(0.0, DAY_MS) * NS_PER_MS) as u64,
        window: b.window.max(1),
        min_calls,
        open_ns: (b.open_ms.max(0.0) * NS_PER_MS) as u64,
        half_open_calls: half_open_calls.max(1),
    }
}

/// `fallback`: another service (not the caller, not the call's target) or `"degrade"`.
fn fallback(cx: &mut Ctx, cp: &KeyPath, si: usize, to: CallTarget, f: &str, names: &Names) -> Option<Fallback> {
    if f == FALLBACK_DEGRADE {
        return Some(Fallback::Degrade);
    }
    match names.service(f) {
        Some(t) if t == si => {
            cx.err(&cp.k("fallback"), "a service cannot be its own fallback");
            None
        }
        Some(t) => {
            if CallTarget::Service(ServiceId::from_index(t)) == to {
                cx.err(
                    &cp.k("fallback"),
                    "the fallback is the call's own target; name another service or \"degrade\"",
                );
            }
            Some(Fallback::Service(ServiceId::from_index(t)))
        }
        None => {
            cx.err(
                &cp.k("fallback"),
                format!(
                    "unknown service \"{f}\"; expected a service name or \"degrade\" (services: {})",
                    names.known_services()
                ),
            );
            None
        }
    }
}
