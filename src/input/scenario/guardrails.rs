//! `[[guardrails]]`: automated remediation. A guardrail watches one SLO's
//! error-budget burn rate over `when.window_s` (and `short_window_s`, if
//! given), fires `detect_delay_s` after it first burns at `burn_rate`, and
//! takes its `action`.
//!
//! With `release = { burn_rate, hold_s }` the action is undone once every
//! window has burned below `burn_rate` for `hold_s`, and the guardrail may
//! fire again; without it the action stays. A `rollback` is never undone.
//!
//! Defaults (`defaults.rs`): `detect_delay_s = 0`; `shed`: `share = 0.5`,
//! every flow; `scale`: `replicas = 1`, `delay_s = 60`.
//!
//! The action's keys are one flat table whose `kind` picks the keys it
//! needs, rather than a serde enum tagged by `kind`: a tagged enum reports
//! a missing key as "missing field `from`" at the table's `{` instead of
//! "this action needs `from` (a service)", and would refuse keys a kind does
//! not use, which are ignored today.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{RawScenario, known_services};
use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::model::{Action, Guardrail, NS_PER_S, Release, ServiceId, Topology};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardrail {
    pub name: String,
    pub when: RawGuardWhen,
    pub detect_delay_s: Option<f64>,
    pub action: RawAction,
    pub release: Option<RawRelease>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelease {
    pub burn_rate: f64,
    pub hold_s: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardWhen {
    pub slo: String,
    pub burn_rate: f64,
    pub window_s: f64,
    pub short_window_s: Option<f64>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Failover,
    KillSwitch,
    Rollback,
    Shed,
    Scale,
}

/// Every action's keys; which ones a kind needs is checked when resolving.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    pub kind: ActionKind,
    pub from: Option<String>,
    pub to: Option<String>,
    pub service: Option<String>,
    pub share: Option<f64>,
    pub flows: Option<Vec<String>>,
    pub replicas: Option<i64>,
    pub delay_s: Option<f64>,
}

/// The most guardrails one scenario may have.
const GUARDRAILS_MAX: usize = 64;
/// The longest window and detection or provisioning delay: a day.
const DAY_S: f64 = 86_400.0;

/// Resolves the guardrails.
pub fn resolve(cx: &mut Ctx, raw: &RawScenario, topo: &Topology, slo_names: &BTreeSet<&str>) -> Vec<Guardrail> {
    let mut guardrails = Vec::new();
    for (i, g) in raw.guardrails.iter().enumerate() {
        let gp = KeyPath::root().k("guardrails").i(i);
        let wp = gp.k("when");
        let slo = raw.slos.iter().position(|x| x.name == g.when.slo);
        if slo.is_none() {
            cx.err(
                &wp.k("slo"),
                format!(
                    "unknown SLO \"{}\" (known: {})",
                    g.when.slo,
                    slo_names.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        cx.check(
            &wp.k("burn_rate"),
            g.when.burn_rate.is_finite() && g.when.burn_rate > 0.0 && g.when.burn_rate <= 1e6,
            format!(
                "burn_rate must be more than 0 (14.4 pages on 2% of a 30-day budget in an hour), found {}",
                g.when.burn_rate
            ),
        );
        let window_ok = cx.check(
            &wp.k("window_s"),
            g.when.window_s.is_finite() && (1.0..=DAY_S).contains(&g.when.window_s),
            format!("window_s must be between 1 and 86400, found {}", g.when.window_s),
        );
        let short = g.when.short_window_s.and_then(|w| {
            cx.check(
                &wp.k("short_window_s"),
                w.is_finite() && w >= 1.0 && (!window_ok || w <= g.when.window_s),
                format!(
                    "short_window_s must be between 1 and window_s ({}), found {w}",
                    g.when.window_s
                ),
            )
            .then_some((w.clamp(1.0, DAY_S) * NS_PER_S) as u64)
        });
        let delay = g.detect_delay_s.unwrap_or(defaults::DETECT_DELAY_S);
        cx.check(
            &gp.k("detect_delay_s"),
            delay.is_finite() && (0.0..=DAY_S).contains(&delay),
            format!("detect_delay_s must be between 0 and 86400, found {delay}"),
        );
        let action = action(cx, &gp.k("action"), &g.action, raw, topo);
        let release = g.release.as_ref().and_then(|r| release(cx, &gp, g, r));
        if let (Some(slo), Some(action)) = (slo, action) {
            guardrails.push(Guardrail {
                name: g.name.clone(),
                slo,
                burn_rate: g.when.burn_rate,
                window_ns: (g.when.window_s.clamp(1.0, DAY_S) * NS_PER_S) as u64,
                short_window_ns: short,
                detect_delay_ns: (delay.clamp(0.0, DAY_S) * NS_PER_S) as u64,
                action,
                release,
            });
        }
    }
    if guardrails.len() > GUARDRAILS_MAX {
        cx.err(&KeyPath::root().k("guardrails"), "at most 64 guardrails per scenario");
    }
    guardrails
}

/// `release = { burn_rate, hold_s }`: at most the firing burn rate (a
/// guardrail that lets go above the rate it fires at would flap), and not
/// for a rollback (a withdrawn version is not deployed again).
fn release(cx: &mut Ctx, gp: &KeyPath, g: &RawGuardrail, r: &RawRelease) -> Option<Release> {
    let rp = gp.k("release");
    if g.action.kind == ActionKind::Rollback {
        cx.err(
            &rp,
            "a rollback is not undone (the withdrawn version is not deployed again): remove `release`",
        );
        return None;
    }
    let fire = g.when.burn_rate;
    let rate_ok = cx.check(
        &rp.k("burn_rate"),
        r.burn_rate.is_finite() && r.burn_rate >= 0.0 && (!fire.is_finite() || r.burn_rate <= fire),
        format!(
            "release.burn_rate must be at least 0 and at most the firing burn_rate ({fire}): the action is \
             undone once every window burns below it, found {}",
            r.burn_rate
        ),
    );
    let hold_ok = cx.check(
        &rp.k("hold_s"),
        r.hold_s.is_finite() && (0.0..=DAY_S).contains(&r.hold_s),
        format!("hold_s must be between 0 and 86400, found {}", r.hold_s),
    );
    (rate_ok && hold_ok).then_some(Release {
        burn_rate: r.burn_rate,
        hold_ns: (r.hold_s * NS_PER_S) as u64,
    })
}

/// What the guardrail does, from its kind and the keys that kind needs.
fn action(cx: &mut Ctx, ap: &KeyPath, a: &RawAction, raw: &RawScenario, topo: &Topology) -> Option<Action> {
    match a.kind {
        ActionKind::Failover => {
            let from = service_named(cx, ap, "from", &a.from, topo);
            let Some(to) = a.to.as_deref() else {
                cx.err(ap, "failover needs `to`: a service or a region");
                return None;
            };
            match (topo.service_by_name(to), topo.region_by_name(to)) {
                (Some(t), _) => from.map(|f| Action::FailoverService { from: f, to: t }),
                (None, Some(r)) => from.map(|f| Action::FailoverRegion { service: f, to: r }),
                (None, None) => {
                    cx.err(
                        &ap.k("to"),
                        format!(
                            "unknown service or region \"{to}\" (services: {}; regions: {})",
                            known_services(topo),
                            topo.regions.join(", ")
                        ),
                    );
                    None
                }
            }
        }
        ActionKind::KillSwitch => {
            service_named(cx, ap, "service", &a.service, topo).map(|s| Action::KillSwitch { service: s })
        }
        ActionKind::Shed => Some(shed(cx, ap, a, topo)),
        ActionKind::Scale => {
            let service = service_named(cx, ap, "service", &a.service, topo);
            let n = a.replicas.unwrap_or(defaults::SCALE_REPLICAS);
            cx.check(
                &ap.k("replicas"),
                (1..=1000).contains(&n),
                format!("replicas to add must be between 1 and 1000, found {n}"),
            );
            let d = a.delay_s.unwrap_or(defaults::SCALE_DELAY_S);
            cx.check(
                &ap.k("delay_s"),
                d.is_finite() && (0.0..=DAY_S).contains(&d),
                format!("delay_s (provisioning time) must be between 0 and 86400, found {d}"),
            );
            service.map(|s| Action::Scale {
                service: s,
                replicas: n.clamp(1, 1000) as u32,
                delay_ns: (d.clamp(0.0, DAY_S) * NS_PER_S) as u64,
            })
        }
        ActionKind::Rollback => {
            if raw.rollout.is_none() {
                cx.err(ap, "a rollback undoes a bad deploy: it needs a [rollout]");
            }
            Some(Action::Rollback)
        }
    }
}

/// A `shed` action: its `share` of the arrivals of its `flows`.
fn shed(cx: &mut Ctx, ap: &KeyPath, a: &RawAction, topo: &Topology) -> Action {
    let share = a.share.unwrap_or(defaults::SHED_SHARE);
    cx.check(
        &ap.k("share"),
        share.is_finite() && share > 0.0 && share <= 1.0,
        format!("share is the fraction of arrivals rejected, more than 0 and at most 1, found {share}"),
    );
    let mut mask = 0u64;
    match &a.flows {
        None => mask = u64::MAX,
        Some(fs) => {
            for (fi, f) in fs.iter().enumerate() {
                match topo.flow_by_name(f) {
                    Some(id) => mask |= 1 << id.index(),
                    None => cx.err(&ap.k("flows").i(fi), format!("unknown flow \"{f}\"")),
                }
            }
        }
    }
    Action::Shed { share, flows: mask }
}

/// The service an action's `key` names (a missing key or an unknown service is an error).
fn service_named(cx: &mut Ctx, ap: &KeyPath, key: &str, name: &Option<String>, topo: &Topology) -> Option<ServiceId> {
    let Some(n) = name else {
        cx.err(ap, format!("this action needs `{key}` (a service)"));
        return None;
    };
    let id = topo.service_by_name(n);
    if id.is_none() {
        cx.err(
            &ap.k(key),
            format!("unknown service \"{n}\" (known: {})", known_services(topo)),
        );
    }
    id
}
