//! `[[faults]]`: what is injected, where and when. Each fault has a `kind`,
//! a `target` whose form depends on the kind (a service and optionally a
//! region; a region; a link `between` two regions; a queue), the keys its
//! kind takes, and a schedule: `start_s` and `duration_s` (numbers or
//! distributions, in seconds), or `random = { mtbf_s, mttr_s }`.
//!
//! Defaults (`defaults.rs`): `name` = `<kind>-<index>`, `start_s = 0`,
//! `duration_s` to the end of the run, `percent = 100`, an abort's
//! `error = 503`, a kill without `replicas` kills `percent` of them; a
//! target without `region` applies in every region.
//!
//! Which keys each kind takes ([`keys_taken`]) and which target form it
//! needs are hand-written tables checked against the flat [`RawFault`], not
//! a serde enum tagged by `kind`: with a tagged enum serde reports a key the
//! kind does not take as "unknown field `delay`, expected one of …" at the
//! fault's `{` (or its `[[faults]]` header) instead of "`delay` is not used by
//! an abort fault" at the key, a missing key as "missing field `factor`"
//! without the hint of what it means, and a bad value at the table rather
//! than at the value.

use std::path::Path;

use serde::Deserialize;

use super::known_services;
use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::input::dist::{RawDist, Unit, dist};
use crate::input::topology::RawWrongEffect;
use crate::model::{
    Dist, Fault, FaultEffect, FaultKind, KillCount, NS_PER_S, QueueId, RandomFault, RegionId, ServiceId, Topology,
};

/// The fault kinds the engine simulates (`bad_deploy` is refused: a bad
/// deploy is a `[rollout]` of a new version).
pub const SIMULATED_FAULTS: &[FaultKind] = &[
    FaultKind::Latency,
    FaultKind::Abort,
    FaultKind::Kill,
    FaultKind::Blackhole,
    FaultKind::RegionOutage,
    FaultKind::Partition,
    FaultKind::PacketLoss,
    FaultKind::Slowdown,
    FaultKind::Drift,
    FaultKind::QueueStall,
];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub kind: FaultKind,
    pub name: Option<String>,
    pub target: RawTarget,
    pub start_s: Option<RawDist>,
    pub duration_s: Option<RawDist>,
    pub random: Option<RawRandomFault>,
    pub delay: Option<RawDist>,
    pub percent: Option<f64>,
    pub error: Option<i64>,
    pub replicas: Option<i64>,
    pub factor: Option<f64>,
    pub wrong_rate: Option<f64>,
    pub wrong_effect: Option<RawWrongEffect>,
}

/// Every target form's keys; which ones a kind takes is checked when resolving.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub service: Option<String>,
    pub region: Option<String>,
    pub between: Option<Vec<String>>,
    pub queue: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRandomFault {
    pub mtbf_s: f64,
    pub mttr_s: f64,
}

/// The most faults one scenario may inject.
const FAULTS_MAX: usize = 64;

/// The kind-specific keys a fault kind takes (the others take none).
fn keys_taken(kind: FaultKind) -> &'static [&'static str] {
    match kind {
        FaultKind::Latency => &["delay", "percent"],
        FaultKind::Abort => &["percent", "error"],
        FaultKind::Kill => &["replicas", "percent"],
        FaultKind::Slowdown => &["factor"],
        FaultKind::PacketLoss => &["percent"],
        FaultKind::Drift => &["wrong_rate", "wrong_effect"],
        FaultKind::Blackhole
        | FaultKind::RegionOutage
        | FaultKind::Partition
        | FaultKind::QueueStall
        | FaultKind::BadDeploy => &[],
    }
}

impl RawFault {
    /// Every kind-specific key, with whether it is written, in the order
    /// unused keys are reported.
    fn written(&self) -> [(&'static str, bool); 7] {
        [
            ("delay", self.delay.is_some()),
            ("percent", self.percent.is_some()),
            ("error", self.error.is_some()),
            ("replicas", self.replicas.is_some()),
            ("factor", self.factor.is_some()),
            ("wrong_rate", self.wrong_rate.is_some()),
            ("wrong_effect", self.wrong_effect.is_some()),
        ]
    }
}

/// Resolves the faults.
pub fn resolve(cx: &mut Ctx, raw: &[RawFault], topo: &Topology, base_dir: &Path) -> Vec<Fault> {
    let faults: Vec<Fault> = (raw.iter().enumerate())
        .map(|(i, f)| fault(cx, i, f, topo, base_dir))
        .collect();
    if faults.len() > FAULTS_MAX {
        cx.err(&KeyPath::root().k("faults"), "at most 64 faults per scenario");
    }
    faults
}

fn fault(cx: &mut Ctx, i: usize, f: &RawFault, topo: &Topology, base_dir: &Path) -> Fault {
    let fp = KeyPath::root().k("faults").i(i);
    let taken = keys_taken(f.kind);
    for (key, set) in f.written() {
        if set && !taken.contains(&key) {
            cx.err(
                &fp.k(key),
                format!("`{key}` is not used by {} fault", article(f.kind.name())),
            );
        }
    }
    let target = target(cx, &fp.k("target"), f.kind, &f.target, topo);
    let percent = f.percent.unwrap_or(defaults::FAULT_PERCENT);
    if f.percent.is_some() {
        cx.check(
            &fp.k("percent"),
            percent.is_finite() && percent > 0.0 && percent <= 100.0,
            format!("percent must be more than 0 and at most 100, found {percent}"),
        );
    }
    let effect = effect(cx, &fp, f, percent, target.service, topo, base_dir);
    if f.kind == FaultKind::BadDeploy {
        cx.err(
            &fp.k("kind"),
            "a bad deploy is not a fault kind: write it as a [rollout] of the new version \
             (service, overrides = { error_rate = ..., service_time = ... }, steps)",
        );
    }
    let random = f.random.as_ref().and_then(|r| random(cx, &fp, f, r));
    let start = match &f.start_s {
        Some(d) => dist(cx, &fp.k("start_s"), d, Unit::Seconds, base_dir),
        None => Some(Dist::Const(defaults::FAULT_START_S * NS_PER_S)),
    };
    let duration = (f.duration_s.as_ref()).and_then(|d| dist(cx, &fp.k("duration_s"), d, Unit::Seconds, base_dir));
    Fault {
        name: f.name.clone().unwrap_or_else(|| defaults::fault_name(f.kind, i)),
        kind: f.kind,
        effect,
        service: target.service,
        regions: target.regions,
        link: target.link,
        queue: target.queue,
        // A placeholder when the distribution has errors: the model is discarded then.
        start: start.unwrap_or(Dist::Const(0.0)),
        duration,
        random,
    }
}

/// Where a fault applies.
struct Target {
    service: Option<ServiceId>,
    /// `regions[r]`: the fault applies in region r.
    regions: Vec<bool>,
    link: Option<(RegionId, RegionId)>,
    queue: Option<QueueId>,
}

/// Resolves `target`'s names, then checks it has the form its kind needs:
/// a link (`partition`; `latency` and `packet_loss` given `between`), a
/// region (`region_outage`), a queue (`queue_stall`) or a service (the rest).
fn target(cx: &mut Ctx, tp: &KeyPath, kind: FaultKind, t: &RawTarget, topo: &Topology) -> Target {
    let nr = topo.regions.len();
    let mut target = Target {
        service: None,
        regions: vec![true; nr],
        link: None,
        queue: None,
    };
    if let Some(name) = &t.service {
        match topo.service_by_name(name) {
            Some(s) => target.service = Some(s),
            None => cx.err(
                &tp.k("service"),
                format!("unknown service \"{name}\" (known: {})", known_services(topo)),
            ),
        }
    }
    if let Some(name) = &t.region {
        match topo.region_by_name(name) {
            Some(r) => {
                target.regions = vec![false; nr];
                target.regions[r.index()] = true;
                if let Some(s) = target.service
                    && !topo.services[s.index()].present[r.index()]
                {
                    cx.err(
                        &tp.k("region"),
                        format!(
                            "service \"{}\" has no replicas in {name}",
                            topo.services[s.index()].name
                        ),
                    );
                }
            }
            None => cx.err(
                &tp.k("region"),
                format!("unknown region \"{name}\" (known: {})", topo.regions.join(", ")),
            ),
        }
    }
    let link_kind = matches!(kind, FaultKind::Partition)
        || (matches!(kind, FaultKind::PacketLoss | FaultKind::Latency) && t.between.is_some());
    if link_kind {
        target.link = link(cx, tp, t, topo);
        return target;
    }
    match kind {
        FaultKind::RegionOutage => {
            cx.check(
                tp,
                t.region.is_some() && t.service.is_none() && t.between.is_none() && t.queue.is_none(),
                "a region_outage targets a region: target = { region = \"...\" }",
            );
        }
        FaultKind::QueueStall => target.queue = queue(cx, tp, t, topo),
        _ => {
            if t.service.is_none() {
                cx.err(
                    tp,
                    format!(
                        "{} fault targets a service: target = {{ service = \"...\", region = \"...\" }} (region optional)",
                        article(kind.name())
                    ),
                );
            }
            if t.between.is_some() || t.queue.is_some() {
                cx.err(
                    tp,
                    format!("{} fault takes `service` and `region` only", article(kind.name())),
                );
            }
        }
    }
    target
}

/// A link target: `between = [a, b]`, two regions with a link between them.
fn link(cx: &mut Ctx, tp: &KeyPath, t: &RawTarget, topo: &Topology) -> Option<(RegionId, RegionId)> {
    if t.service.is_some() || t.region.is_some() || t.queue.is_some() {
        cx.err(
            tp,
            "a link fault takes `between` only: target = { between = [\"a\", \"b\"] }",
        );
    }
    let Some(b) = t.between.as_ref().filter(|b| b.len() == 2) else {
        cx.err(
            tp,
            "a link fault targets two regions: target = { between = [\"a\", \"b\"] }",
        );
        return None;
    };
    let ends: Vec<Option<RegionId>> = b
        .iter()
        .enumerate()
        .map(|(j, n)| {
            let r = topo.region_by_name(n);
            if r.is_none() {
                cx.err(
                    &tp.k("between").i(j),
                    format!("unknown region \"{n}\" (known: {})", topo.regions.join(", ")),
                );
            }
            r
        })
        .collect();
    let (Some(a), Some(b)) = (ends[0], ends[1]) else {
        return None;
    };
    if a == b {
        cx.err(&tp.k("between"), "a link joins two different regions");
    } else if topo.link(a, b).is_none() {
        cx.err(
            &tp.k("between"),
            format!(
                "no link between {} and {} in the topology",
                topo.regions[a.index()],
                topo.regions[b.index()]
            ),
        );
    }
    Some((a, b))
}

/// A queue target: `{ queue, region }` (region optional).
fn queue(cx: &mut Ctx, tp: &KeyPath, t: &RawTarget, topo: &Topology) -> Option<QueueId> {
    if t.service.is_some() || t.between.is_some() {
        cx.err(tp, "a queue_stall takes `queue` and `region` only");
    }
    let Some(q) = &t.queue else {
        cx.err(
            tp,
            "a queue_stall targets a queue: target = { queue = \"...\", region = \"...\" }",
        );
        return None;
    };
    let id = topo.queues.iter().position(|x| &x.name == q).map(QueueId::from_index);
    if id.is_none() {
        let known: Vec<&str> = topo.queues.iter().map(|q| q.name.as_str()).collect();
        cx.err(
            &tp.k("queue"),
            format!("unknown queue \"{q}\" (known: {})", known.join(", ")),
        );
    }
    id
}

/// What the fault does, from its kind and the keys that kind takes.
fn effect(
    cx: &mut Ctx,
    fp: &KeyPath,
    f: &RawFault,
    percent: f64,
    service: Option<ServiceId>,
    topo: &Topology,
    base_dir: &Path,
) -> FaultEffect {
    match f.kind {
        FaultKind::Latency => match &f.delay {
            None => {
                cx.err(fp, "a latency fault needs `delay` (ms, or a distribution)");
                FaultEffect::Invalid
            }
            Some(d) => match dist(cx, &fp.k("delay"), d, Unit::Ms, base_dir) {
                Some(delay) => FaultEffect::Latency { delay, percent },
                None => FaultEffect::Invalid,
            },
        },
        FaultKind::Abort => {
            let status = f.error.unwrap_or(defaults::ABORT_STATUS);
            cx.check(
                &fp.k("error"),
                (400..=599).contains(&status),
                format!("error is an HTTP status between 400 and 599, found {status}"),
            );
            FaultEffect::Abort {
                percent,
                status: status.clamp(400, 599) as u16,
            }
        }
        FaultKind::Kill => FaultEffect::Kill {
            count: kill_count(cx, fp, f, percent, service, topo),
        },
        FaultKind::Slowdown => match f.factor {
            Some(x) if x.is_finite() && x > 0.0 && x <= 1000.0 => FaultEffect::Slowdown { factor: x },
            Some(x) => {
                cx.err(
                    &fp.k("factor"),
                    format!("factor multiplies service time: more than 0 and at most 1000, found {x}"),
                );
                FaultEffect::Invalid
            }
            None => {
                cx.err(
                    fp,
                    "a slowdown fault needs `factor` (service-time multiplier, e.g. 3.0)",
                );
                FaultEffect::Invalid
            }
        },
        FaultKind::Blackhole => FaultEffect::Blackhole,
        FaultKind::RegionOutage => FaultEffect::RegionOutage,
        FaultKind::Partition => FaultEffect::Partition,
        FaultKind::PacketLoss => FaultEffect::PacketLoss { percent },
        FaultKind::QueueStall => FaultEffect::QueueStall,
        FaultKind::Drift => drift(cx, fp, f),
        FaultKind::BadDeploy => FaultEffect::Invalid,
    }
}

/// A kill's `replicas` (at most the service's per region) or `percent`, not both.
fn kill_count(
    cx: &mut Ctx,
    fp: &KeyPath,
    f: &RawFault,
    percent: f64,
    service: Option<ServiceId>,
    topo: &Topology,
) -> KillCount {
    match (f.replicas, f.percent) {
        (Some(_), Some(_)) => {
            cx.err(fp, "give `replicas` or `percent`, not both");
            KillCount::Percent(100.0)
        }
        (Some(n), None) => {
            let max = service
                .map(|s| topo.services[s.index()].replicas as i64)
                .unwrap_or(i64::MAX);
            cx.check(
                &fp.k("replicas"),
                n >= 1 && n <= max,
                format!("replicas must be between 1 and the service's replicas per region ({max}), found {n}"),
            );
            KillCount::Replicas(n.clamp(1, 10_000) as u32)
        }
        (None, _) => KillCount::Percent(percent),
    }
}

/// A drift's `wrong_rate` and optional `wrong_effect.discount`.
fn drift(cx: &mut Ctx, fp: &KeyPath, f: &RawFault) -> FaultEffect {
    let discount = f.wrong_effect.as_ref().and_then(|e| e.discount);
    if let Some(d) = discount {
        cx.check(
            &fp.k("wrong_effect").k("discount"),
            d.is_finite() && (0.0..=1.0).contains(&d),
            format!("discount is a fraction of the order value, between 0 and 1, found {d}"),
        );
    }
    match f.wrong_rate {
        Some(r) if r.is_finite() && (0.0..=1.0).contains(&r) => FaultEffect::Drift {
            wrong_rate: r,
            discount,
        },
        Some(r) => {
            cx.err(
                &fp.k("wrong_rate"),
                format!("wrong_rate is a probability between 0 and 1, found {r}"),
            );
            FaultEffect::Invalid
        }
        None => {
            cx.err(
                fp,
                "a drift fault needs `wrong_rate` (share of wrong outputs while it lasts)",
            );
            FaultEffect::Invalid
        }
    }
}

/// `random = { mtbf_s, mttr_s }`: alternating healthy and faulty periods
/// instead of one window (so no `duration_s`).
fn random(cx: &mut Ctx, fp: &KeyPath, f: &RawFault, r: &RawRandomFault) -> Option<RandomFault> {
    let rp = fp.k("random");
    let ok_b = cx.check(
        &rp.k("mtbf_s"),
        r.mtbf_s.is_finite() && (1.0..=1e7).contains(&r.mtbf_s),
        format!(
            "mtbf_s (mean time between failures) must be between 1 and 1e7 seconds, found {}",
            r.mtbf_s
        ),
    );
    let ok_r = cx.check(
        &rp.k("mttr_s"),
        r.mttr_s.is_finite() && (0.001..=1e7).contains(&r.mttr_s),
        format!(
            "mttr_s (mean time to repair) must be between 0.001 and 1e7 seconds, found {}",
            r.mttr_s
        ),
    );
    if f.duration_s.is_some() {
        cx.err(
            &fp.k("duration_s"),
            "a random fault's periods come from `random`; leave `duration_s` out",
        );
    }
    (ok_b && ok_r).then_some(RandomFault {
        mtbf_ns: (r.mtbf_s.clamp(0.0, 1e7) * NS_PER_S) as u64,
        mttr_ns: (r.mttr_s.clamp(0.0, 1e7) * NS_PER_S) as u64,
    })
}

/// "a latency", "an abort".
fn article(word: &str) -> String {
    let an = word.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {word}", if an { "an" } else { "a" })
}
