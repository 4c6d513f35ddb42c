//! `[[slos]]`: service-level objectives, each over one flow (default: every
//! flow) or, for a backlog SLO, one queue. `latency` and `backlog` SLOs need
//! `threshold_ms`; `window_s` (none by default) adds a rolling-window check.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::run::Run;
use crate::input::diag::{Ctx, KeyPath};
use crate::model::{NS_PER_MS, NS_PER_S, QueueId, Slo, SloKind, Topology};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    pub name: String,
    pub flow: Option<String>,
    pub kind: SloKind,
    pub objective: f64,
    pub threshold_ms: Option<f64>,
    pub window_s: Option<f64>,
    pub queue: Option<String>,
}

/// The longest threshold: a day.
const DAY_MS: f64 = 86_400_000.0;

/// The SLO names, for references from guardrails and `[expect]`.
pub fn names(raw: &[RawSlo]) -> BTreeSet<&str> {
    raw.iter().map(|s| s.name.as_str()).collect()
}

pub fn resolve(cx: &mut Ctx, raw: &[RawSlo], topo: &Topology, run: &Run) -> Vec<Slo> {
    let mut slos = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, s) in raw.iter().enumerate() {
        let sp = KeyPath::root().k("slos").i(i);
        if !seen.insert(s.name.as_str()) {
            cx.err(&sp.k("name"), format!("duplicate SLO name \"{}\"", s.name));
        }
        let flow = s.flow.as_ref().and_then(|f| {
            let id = topo.flow_by_name(f);
            if id.is_none() {
                let known: Vec<&str> = topo.flows.iter().map(|f| f.name.as_str()).collect();
                cx.err(
                    &sp.k("flow"),
                    format!("unknown flow \"{f}\" (known: {})", known.join(", ")),
                );
            }
            id
        });
        cx.check(
            &sp.k("objective"),
            s.objective.is_finite() && s.objective > 0.0 && s.objective < 1.0,
            format!(
                "objective is a fraction of good requests, more than 0 and less than 1 (e.g. 0.999), found {}",
                s.objective
            ),
        );
        let threshold_ns = threshold(cx, &sp, s);
        let window_ns = s.window_s.and_then(|w| {
            let horizon = run.duration_s - run.warmup_s;
            cx.check(
                &sp.k("window_s"),
                w.is_finite() && w >= 1.0 && w <= horizon.max(1.0),
                format!(
                    "window_s must be between 1 and the counted horizon (duration_s - warmup_s = {horizon}), found {w}"
                ),
            )
            .then_some((w.clamp(0.0, 1e7) * NS_PER_S) as u64)
        });
        let queue = queue(cx, &sp, s, topo);
        slos.push(Slo {
            name: s.name.clone(),
            flow,
            kind: s.kind,
            objective: s.objective,
            threshold_ns,
            window_ns,
            queue,
        });
    }
    slos
}

/// `threshold_ms`: required by latency SLOs, taken by backlog SLOs (checked in [`queue`]).
fn threshold(cx: &mut Ctx, sp: &KeyPath, s: &RawSlo) -> Option<u64> {
    match (s.kind, s.threshold_ms) {
        (SloKind::Latency, None) => {
            cx.err(sp, "a latency SLO needs `threshold_ms`");
            None
        }
        (SloKind::Latency, Some(t)) => {
            cx.check(
                &sp.k("threshold_ms"),
                t.is_finite() && t > 0.0 && t <= DAY_MS,
                format!("threshold_ms must be more than 0, found {t}"),
            );
            Some((t.clamp(0.0, DAY_MS) * NS_PER_MS) as u64)
        }
        (SloKind::Backlog, Some(t)) => Some((t.clamp(0.0, DAY_MS) * NS_PER_MS) as u64),
        (_, Some(_)) => {
            cx.err(
                &sp.k("threshold_ms"),
                "threshold_ms is only for latency and backlog SLOs",
            );
            None
        }
        (_, None) => None,
    }
}

/// A backlog SLO's `queue` (and its `threshold_ms`); no other kind takes one.
fn queue(cx: &mut Ctx, sp: &KeyPath, s: &RawSlo, topo: &Topology) -> Option<QueueId> {
    if s.queue.is_some() && s.kind != SloKind::Backlog {
        cx.err(&sp.k("queue"), "`queue` is only for backlog SLOs");
    }
    let queue = match (s.kind, &s.queue) {
        (SloKind::Backlog, None) => {
            cx.err(
                sp,
                "a backlog SLO needs `queue` (and `threshold_ms`: the message age that is good enough)",
            );
            None
        }
        (SloKind::Backlog, Some(q)) => {
            let id = topo.queues.iter().position(|x| &x.name == q).map(QueueId::from_index);
            if id.is_none() {
                let known: Vec<&str> = topo.queues.iter().map(|q| q.name.as_str()).collect();
                cx.err(
                    &sp.k("queue"),
                    format!("unknown queue \"{q}\" (known: {})", known.join(", ")),
                );
            }
            if s.flow.is_some() {
                cx.err(&sp.k("flow"), "a backlog SLO is about a queue's messages, not a flow");
            }
            id
        }
        _ => None,
    };
    if s.kind == SloKind::Backlog && s.threshold_ms.is_none() {
        cx.err(
            sp,
            "a backlog SLO needs `threshold_ms` (the message age that is good enough)",
        );
    }
    queue
}
