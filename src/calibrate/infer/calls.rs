//! The call graph: each caller's calls with their flows, stages,
//! probabilities, timeouts, retries, fallbacks and whether they are
//! required; queues; dependencies known only from client spans; and the
//! cycles a topology may not have.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::{condensation, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use super::{CallFit, DistFit, InferOptions, QueueFit, RetryFit, ServiceFit, target_name};
use crate::calibrate::otlp::{NO_NAME, Names};
use crate::calibrate::tally::{EdgeTally, PairTally, Tally, Target};
use crate::observe::Histogram;

/// What the call inference reads, and the names it has given queues.
pub struct Cx<'a> {
    t: &'a Tally,
    names: &'a Names,
    flow_map: &'a BTreeMap<u32, String>,
    /// Queue id → the name written (renamed when a service has its name).
    queue_names: BTreeMap<u32, String>,
}

impl<'a> Cx<'a> {
    pub fn new(t: &'a Tally, names: &'a Names, flow_map: &'a BTreeMap<u32, String>) -> Self {
        Cx {
            t,
            names,
            flow_map,
            queue_names: BTreeMap::new(),
        }
    }

    /// A client span no server span answered, named after a service that
    /// has server spans, calls that service (its span was lost or not sampled).
    fn norm(&self, target: Target) -> Target {
        match target {
            Target::Peer(p) if p != NO_NAME && self.t.services.contains_key(&p) => Target::Service(p),
            t => t,
        }
    }

    fn name(&self, target: Target) -> String {
        match target {
            Target::Queue(q) => self
                .queue_names
                .get(&q)
                .cloned()
                .unwrap_or_else(|| target_name(target, self.names)),
            t => target_name(t, self.names),
        }
    }
}

/// Queues: one per PRODUCER destination with consumer spans; the consumer
/// is the service that took most deliveries; redelivery attempts = the
/// most deliveries one message had.
pub fn queues(cx: &mut Cx<'_>, notes: &mut Vec<String>) -> Vec<QueueFit> {
    let mut out = Vec::new();
    for (&q, qt) in &cx.t.queues {
        let name = target_name(Target::Queue(q), cx.names);
        let Some((&consumer, _)) = qt.consumers.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) else {
            notes.push(format!(
                "queue \"{name}\": {} publish(es) but no consumer span; its calls are left out",
                qt.published
            ));
            continue;
        };
        let written = if cx.t.services.contains_key(&q) {
            let w = format!("{name}-queue");
            notes.push(format!("queue \"{name}\" has a service's name: written as \"{w}\""));
            w
        } else {
            name
        };
        cx.queue_names.insert(q, written.clone());
        out.push(QueueFit {
            name: written,
            regions: qt
                .regions
                .keys()
                .map(|&r| cx.names.get(r).to_string())
                .collect::<BTreeSet<String>>()
                .into_iter()
                .collect(),
            consumer: cx.names.get(consumer).to_string(),
            redeliver_attempts: qt.max_deliveries.max(1),
            published: qt.published,
            deliveries: qt.deliveries,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn merge_edge(a: &mut EdgeTally, b: &EdgeTally) {
    for (&f, &n) in &b.calls {
        *a.calls.entry(f).or_default() += n;
    }
    for (&f, &n) in &b.breaks {
        *a.breaks.entry(f).or_default() += n;
    }
    a.tries += b.tries;
    a.max_tries = a.max_tries.max(b.max_tries);
    a.failed += b.failed;
    a.failed_caller_ok += b.failed_caller_ok;
    a.timed_out.merge(&b.timed_out);
    a.try_timed_out.merge(&b.try_timed_out);
    a.last_try_timed_out.merge(&b.last_try_timed_out);
    for (&k, h) in &b.gaps {
        a.gaps.entry(k).or_default().merge(h);
    }
    a.try_ns.merge(&b.try_ns);
    a.unpaired += b.unpaired;
    // Samples are only used for dependencies without server spans, which
    // are never merged with another edge.
    if a.try_sample.is_empty() {
        a.try_sample = b.try_sample.clone();
    }
}

/// A pair's counts with its two targets in the order asked for.
fn oriented(pairs: &BTreeMap<(Target, Target), PairTally>, a: Target, b: Target) -> PairTally {
    if a <= b {
        return pairs.get(&(a, b)).cloned().unwrap_or_default();
    }
    flip(&pairs.get(&(b, a)).cloned().unwrap_or_default())
}

/// A pair's counts seen from the other side.
fn flip(p: &PairTally) -> PairTally {
    PairTally {
        overlap: p.overlap,
        first_before: p.second_before,
        second_before: p.first_before,
        second_after_first_failed: p.first_after_second_failed,
        first_after_second_failed: p.second_after_first_failed,
    }
}

/// The calls of one caller.
pub fn calls_of(cx: &mut Cx<'_>, caller: u32, notes: &mut Vec<String>) -> Vec<CallFit> {
    let caller_name = cx.names.get(caller).to_string();
    let mut edges: BTreeMap<Target, EdgeTally> = BTreeMap::new();
    for (&(c, target), e) in
        cx.t.edges
            .range((caller, Target::Service(0))..=(caller, Target::Peer(u32::MAX)))
    {
        debug_assert_eq!(c, caller);
        let target = cx.norm(target);
        if target == Target::Service(caller) {
            notes.push(format!(
                "\"{caller_name}\" calls itself in {} call(s): left out (a topology's calls may not loop)",
                e.calls.values().sum::<u64>()
            ));
            continue;
        }
        if let Target::Queue(q) = target
            && !cx.queue_names.contains_key(&q)
        {
            continue;
        }
        merge_edge(edges.entry(target).or_default(), e);
    }
    let mut pairs: BTreeMap<(Target, Target), PairTally> = BTreeMap::new();
    for (&(_, a, b), p) in cx.t.pairs.range(
        (caller, Target::Service(0), Target::Service(0))..=(caller, Target::Peer(u32::MAX), Target::Peer(u32::MAX)),
    ) {
        let (a, b) = (cx.norm(a), cx.norm(b));
        if a == b || !edges.contains_key(&a) || !edges.contains_key(&b) {
            continue;
        }
        let (a, b, p) = if a <= b { (a, b, p.clone()) } else { (b, a, flip(p)) };
        let slot = pairs.entry((a, b)).or_default();
        slot.overlap += p.overlap;
        slot.first_before += p.first_before;
        slot.second_before += p.second_before;
        slot.second_after_first_failed += p.second_after_first_failed;
        slot.first_after_second_failed += p.first_after_second_failed;
    }
    let fallbacks = fallbacks(&edges, &pairs);
    let primaries: Vec<Target> = edges
        .keys()
        .copied()
        .filter(|t| !fallbacks.values().any(|f| f == t))
        .collect();
    let stages = stages(&primaries, &pairs, |t| cx.name(t));
    let mut out = Vec::new();
    for &target in &primaries {
        let e = &edges[&target];
        let stage = stages[&target];
        let earlier: Vec<&EdgeTally> = primaries
            .iter()
            .filter(|t| stages[t] < stage)
            .map(|t| &edges[t])
            .collect();
        let fallback = fallbacks.get(&target).map(|&f| cx.name(f));
        out.push(call(cx, caller, target, e, stage, &earlier, fallback));
    }
    out.sort_by(|a, b| a.stage.cmp(&b.stage).then_with(|| a.to.cmp(&b.to)));
    out
}

/// A target B is the fallback of A when B was (almost) only called after
/// A failed — at least 90% of B's calls — and after at least half of A's
/// failures. The A with most such calls wins.
fn fallbacks(
    edges: &BTreeMap<Target, EdgeTally>,
    pairs: &BTreeMap<(Target, Target), PairTally>,
) -> BTreeMap<Target, Target> {
    let mut best: BTreeMap<Target, (Target, u64)> = BTreeMap::new();
    for (&b, eb) in edges {
        if matches!(b, Target::Queue(_)) {
            continue;
        }
        let calls_b: u64 = eb.calls.values().sum();
        for (&a, ea) in edges {
            if a == b || matches!(a, Target::Queue(_)) {
                continue;
            }
            let after = oriented(pairs, a, b).second_after_first_failed;
            if after >= 1 && after * 10 >= calls_b * 9 && after * 2 >= ea.failed {
                let better = best.get(&b).is_none_or(|&(_, n)| after > n);
                if better {
                    best.insert(b, (a, after));
                }
            }
        }
    }
    let mut out: BTreeMap<Target, (Target, u64)> = BTreeMap::new();
    for (b, (a, n)) in best {
        if out.get(&a).is_none_or(|&(_, m)| n > m) {
            out.insert(a, (b, n));
        }
    }
    // A fallback is not itself a primary with a fallback of its own here.
    let fb: BTreeSet<Target> = out.values().map(|v| v.0).collect();
    out.into_iter()
        .filter(|(a, _)| !fb.contains(a))
        .map(|(a, (b, _))| (a, b))
        .collect()
}

/// Stages: A comes before B when, in the server spans that made both,
/// A's call ended before B's started more often than the two overlapped
/// or came the other way round. Stage = 1 + the longest chain of calls
/// before it (calls in a contradictory cycle share a stage).
fn stages(
    targets: &[Target],
    pairs: &BTreeMap<(Target, Target), PairTally>,
    name: impl Fn(Target) -> String,
) -> BTreeMap<Target, u32> {
    let mut sorted = targets.to_vec();
    sorted.sort_by_key(|&t| name(t));
    let mut g: DiGraph<Target, ()> = DiGraph::new();
    let idx: BTreeMap<Target, NodeIndex> = sorted.iter().map(|&t| (t, g.add_node(t))).collect();
    for (i, &a) in sorted.iter().enumerate() {
        for &b in &sorted[i + 1..] {
            let p = oriented(pairs, a, b);
            if p.first_before > p.overlap + p.second_before {
                g.add_edge(idx[&a], idx[&b], ());
            } else if p.second_before > p.overlap + p.first_before {
                g.add_edge(idx[&b], idx[&a], ());
            }
        }
    }
    let c = condensation(g, true);
    let order = toposort(&c, None).unwrap_or_else(|_| c.node_indices().collect());
    let mut level: BTreeMap<NodeIndex, u32> = BTreeMap::new();
    for &n in &order {
        let l = c
            .neighbors_directed(n, petgraph::Direction::Incoming)
            .map(|p| level.get(&p).copied().unwrap_or(1) + 1)
            .max()
            .unwrap_or(1);
        level.insert(n, l);
    }
    let mut out = BTreeMap::new();
    for n in c.node_indices() {
        for &t in &c[n] {
            out.insert(t, level.get(&n).copied().unwrap_or(1));
        }
    }
    out
}

/// One call: flows, p, timeouts, retry, required.
fn call(
    cx: &Cx<'_>,
    caller: u32,
    target: Target,
    e: &EdgeTally,
    stage: u32,
    earlier: &[&EdgeTally],
    fallback: Option<String>,
) -> CallFit {
    let mut notes = Vec::new();
    let calls: u64 = e.calls.values().sum();
    // Flows the call was seen in (fragments without a flow count only when
    // nothing else does).
    let known: Vec<u32> = e.calls.keys().copied().filter(|&f| f != NO_NAME).collect();
    let used: Vec<u32> = if known.is_empty() { vec![NO_NAME] } else { known };
    // p = calls / server spans that reached this stage in those flows: no
    // own failure, no failed call of an earlier stage that failed the span.
    let mut num = 0u64;
    let mut den = 0i64;
    for &f in &used {
        num += e.calls.get(&f).copied().unwrap_or(0);
        let reached = cx.t.reached.get(&(caller, f)).copied().unwrap_or(0) as i64;
        let broken: u64 = earlier.iter().map(|x| x.breaks.get(&f).copied().unwrap_or(0)).sum();
        den += reached - broken as i64;
    }
    let p = if den > 0 {
        (num as f64 / den as f64).min(1.0)
    } else {
        1.0
    };
    let flows = flows_of(cx, caller, &used);
    let (timeout_ms, per_try_timeout_ms) = timeouts(e, &mut notes);
    let retry = if matches!(target, Target::Queue(_)) {
        None
    } else {
        retry(e)
    };
    let breaks: u64 = e.breaks.values().sum();
    let required = fallback.is_some() || e.failed == 0 || breaks >= e.failed_caller_ok;
    if !required {
        notes.push(format!(
            "required = false: {} of its {} failed calls left the caller succeeding",
            e.failed_caller_ok, e.failed
        ));
    }
    if e.unpaired > 0 && matches!(target, Target::Service(_)) {
        notes.push(format!(
            "{} tries without a server span (spans lost or not sampled)",
            e.unpaired
        ));
    }
    CallFit {
        to: cx.name(target),
        to_queue: matches!(target, Target::Queue(_)),
        flows,
        stage,
        p,
        calls,
        timeout_ms,
        per_try_timeout_ms,
        retry,
        fallback,
        required,
        notes,
    }
}

/// The flow names of a call; `None` when it is made in every flow its
/// caller serves.
fn flows_of(cx: &Cx<'_>, caller: u32, used: &[u32]) -> Option<Vec<String>> {
    if used == [NO_NAME] {
        return None;
    }
    let mine: BTreeSet<&String> = used.iter().filter_map(|f| cx.flow_map.get(f)).collect();
    let served: BTreeSet<&String> =
        cx.t.reached
            .range((caller, 0)..=(caller, u32::MAX))
            .filter(|&(&(_, f), &n)| n > 0 && f != NO_NAME)
            .filter_map(|(&(_, f), _)| cx.flow_map.get(&f))
            .collect();
    if mine.is_empty() || served.is_subset(&mine) {
        None
    } else {
        Some(mine.into_iter().cloned().collect())
    }
}

fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e3).round() / 1e3
}

/// Spread of a histogram: (q90 − q10) / q50.
fn spread(h: &Histogram) -> f64 {
    let q50 = h.quantile(0.5).max(1) as f64;
    (h.quantile(0.9) as f64 - h.quantile(0.1) as f64) / q50
}

/// Timeouts: calls whose last try ended in `error.type = timeout` all
/// lasting about the same (within 5%) give `timeout_ms`; timed-out tries
/// followed by another try (or, without a whole-call limit, the last
/// tries) give `per_try_timeout_ms`. The median is written.
fn timeouts(e: &EdgeTally, notes: &mut Vec<String>) -> (Option<f64>, Option<f64>) {
    let mut timeout = None;
    if e.timed_out.count() > 0 && spread(&e.timed_out) <= 0.05 {
        timeout = Some(ms(e.timed_out.quantile(0.5)));
        notes.push(format!(
            "timeout_ms: {} call(s) timed out after {} ms",
            e.timed_out.count(),
            timeout.unwrap_or(0.0)
        ));
    }
    let mut tries = e.try_timed_out.clone();
    if timeout.is_none() {
        tries.merge(&e.last_try_timed_out);
    }
    let mut per_try = None;
    if tries.count() > 0 && spread(&tries) <= 0.05 {
        let v = ms(tries.quantile(0.5));
        if timeout.is_none_or(|t| v < t) {
            per_try = Some(v);
            notes.push(format!(
                "per_try_timeout_ms: {} tr(ies) timed out after {v} ms",
                tries.count()
            ));
        }
    }
    if e.timed_out.count() > 0 && timeout.is_none() && per_try.is_none() {
        notes.push(format!(
            "{} call(s) timed out after varying times: no limit written",
            e.timed_out.count()
        ));
    }
    (timeout, per_try)
}

/// Retries: attempts = the most tries a call took; the first retry's wait
/// gives the backoff and jitter — nearly constant: `none` (backoff = the
/// median wait); between b/2 and b: `equal` (b = 4/3 × mean); else `full`
/// (uniform on 0..b, b = 2 × mean).
fn retry(e: &EdgeTally) -> Option<RetryFit> {
    if e.max_tries < 2 {
        return None;
    }
    let calls: u64 = e.calls.values().sum();
    let retried = e.tries - calls;
    let (backoff_ms, jitter) = match e.gaps.get(&1).filter(|g| g.count() > 0) {
        None => (None, "full"),
        Some(g) => {
            let (q10, q50, q90) = (g.quantile(0.1) as f64, g.quantile(0.5) as f64, g.quantile(0.9) as f64);
            let (b, j) = if q90 <= 1.1 * q10.max(1.0) {
                (q50 / 1e6, "none")
            } else if q10 >= 0.4 * q90 {
                (g.mean() * 4.0 / 3.0 / 1e6, "equal")
            } else {
                (g.mean() * 2.0 / 1e6, "full")
            };
            (Some((b * 1000.0).round() / 1000.0), j)
        }
    };
    Some(RetryFit {
        attempts: e.max_tries.min(100),
        backoff_ms,
        jitter,
        retried_calls_note: format!(
            "{retried} retr(ies) over {calls} call(s), at most {} tries; budget and max_backoff are not in traces",
            e.max_tries
        ),
    })
}

/// Services known only as the target of client spans no server span
/// answered (`peer.service` / `server.address`): their service time is
/// the client spans' duration (network included), one replica in each of
/// their callers' regions.
pub fn external_services(cx: &mut Cx<'_>, opts: &InferOptions, notes: &mut Vec<String>) -> Vec<ServiceFit> {
    let mut by_name: BTreeMap<String, (EdgeTally, BTreeSet<String>)> = BTreeMap::new();
    for (&(caller, target), e) in &cx.t.edges {
        if let Target::Peer(_) = cx.norm(target) {
            let name = cx.name(target);
            let slot = by_name.entry(name).or_default();
            merge_edge(&mut slot.0, e);
            if let Some(st) = cx.t.services.get(&caller) {
                slot.1.extend(st.regions.keys().map(|&r| cx.names.get(r).to_string()));
            }
        }
    }
    let mut out = Vec::new();
    for (name, (e, regions)) in by_name {
        if cx.t.services.keys().any(|&s| cx.names.get(s) == name) || regions.is_empty() {
            continue;
        }
        notes.push(format!(
            "\"{name}\" has no server spans (not instrumented, or its spans are missing): modelled from its callers' {} client span(s)",
            e.tries
        ));
        let service_time = DistFit::of(&e.try_ns, &e.try_sample, opts.service_time);
        out.push(ServiceFit {
            name,
            regions: regions.into_iter().collect(),
            replicas: 1,
            instances: Vec::new(),
            replicas_lower_bound: true,
            concurrency: 1000,
            in_flight: 0.0,
            service_time_note: format!(
                "no server spans: the callers' {} client span(s), network included: {}",
                e.tries,
                service_time.describe()
            ),
            service_time,
            error_rate: 0.0,
            own_failures: 0,
            spans: 0,
            errors: 0,
            latency: e.try_ns.clone(),
            calls: Vec::new(),
            unpaired_tries: e.unpaired,
            hidden_wait_ms: 0.0,
        });
    }
    out
}

/// Calls must not form a cycle: while one exists, the call (or fallback)
/// with the fewest calls inside it is left out, with a note.
pub fn break_cycles(services: &mut [ServiceFit], notes: &mut Vec<String>) {
    loop {
        let idx: BTreeMap<&str, usize> = services.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let mut g: DiGraph<usize, (usize, usize, bool)> = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..services.len()).map(|i| g.add_node(i)).collect();
        for (i, s) in services.iter().enumerate() {
            for (k, c) in s.calls.iter().enumerate() {
                if let Some(&j) = idx.get(c.to.as_str()).filter(|_| !c.to_queue) {
                    g.add_edge(nodes[i], nodes[j], (i, k, false));
                }
                if let Some(&j) = c.fallback.as_deref().and_then(|f| idx.get(f)) {
                    g.add_edge(nodes[i], nodes[j], (i, k, true));
                }
            }
        }
        let sccs = petgraph::algo::tarjan_scc(&g);
        let Some(scc) = sccs.iter().find(|c| c.len() > 1) else {
            return;
        };
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        let weakest = g
            .edge_indices()
            .filter(|&e| {
                let (a, b) = g.edge_endpoints(e).expect("edge of the graph");
                members.contains(&a) && members.contains(&b)
            })
            .map(|e| g[e])
            .min_by_key(|&(i, k, fb)| (services[i].calls[k].calls, fb, services[i].name.clone(), k));
        let Some((i, k, fb)) = weakest else { return };
        let caller = services[i].name.clone();
        let c = &mut services[i].calls[k];
        if fb {
            notes.push(format!(
                "\"{caller}\" → fallback \"{}\" closes a call cycle: left out",
                c.fallback.take().unwrap_or_default()
            ));
        } else {
            notes.push(format!(
                "\"{caller}\" → \"{}\" ({} calls) closes a call cycle: left out",
                c.to, c.calls
            ));
            services[i].calls.remove(k);
        }
    }
}
