//! One trace at a time: its spans linked into trees, each server span's
//! outgoing calls grouped into logical calls (a call and its retries),
//! and all of it folded into the [`Tally`].
//!
//! * **Trees.** A span whose `parentSpanId` is empty is a root; one whose
//!   parent is not in the trace is an orphan and starts a fragment of its
//!   own (counted). A root that is not a CONSUMER span is a customer
//!   request of the flow its name (or the flow attribute) gives; the
//!   spans of orphan fragments and of message deliveries without their
//!   publisher count for everything but flows.
//! * **Calls.** The CLIENT and PRODUCER spans under a SERVER or CONSUMER
//!   span (directly, or through INTERNAL spans) are its tries. A try goes
//!   to the service of the server span under it; a PRODUCER's to its
//!   queue; a try no server span answered to its `peer.service` (or
//!   `server.address`). Tries to one target form one logical call when a
//!   try follows a failed one (or says it is a resend,
//!   `http.request.resend_count` > 0): a retry.
//! * **Own work** of a server span is its duration minus the union of its
//!   logical calls' intervals (first try's start to last try's end, so a
//!   retry's backoff counts as waiting on the call).
//! * **Own failure**: the server span failed and none of its calls did.

use super::otlp::{Kind, NO_NAME, Problem, Span};
use super::tally::{Tally, Target, key};

/// Salts of the samples (see [`key`]).
const SALT_OWN: u64 = 1;
const SALT_OUT: u64 = 2;
const SALT_BACK: u64 = 3;
const SALT_TRY: u64 = 4;

/// No span.
const NONE: u32 = u32::MAX;

/// A trace's spans linked: parent and children by index.
struct Tree {
    parent: Vec<u32>,
    /// Children of span i: `kids[first[i]..first[i + 1]]`, in start order.
    first: Vec<u32>,
    kids: Vec<u32>,
    dropped: Vec<bool>,
}

fn link(spans: &[Span], tally: &mut Tally) -> Tree {
    let n = spans.len();
    let mut ids: Vec<(u64, u32)> = spans.iter().enumerate().map(|(i, s)| (s.id, i as u32)).collect();
    ids.sort_unstable();
    let mut dropped = vec![false; n];
    for w in ids.windows(2) {
        if w[0].0 == w[1].0 {
            dropped[w[1].1 as usize] = true;
            let s = &spans[w[1].1 as usize];
            tally.counts.add(Problem::DuplicateSpanId, Some(at(s)));
        }
    }
    ids.dedup_by_key(|x| x.0);
    let find = |id: u64| ids.binary_search_by_key(&id, |x| x.0).ok().map(|k| ids[k].1);
    let mut parent = vec![NONE; n];
    for (i, s) in spans.iter().enumerate() {
        if dropped[i] || s.parent == 0 {
            continue;
        }
        match find(s.parent).filter(|&p| p as usize != i && !dropped[p as usize]) {
            Some(p) => {
                parent[i] = p;
                if s.start_ns < spans[p as usize].start_ns {
                    tally.counts.add(Problem::ClockSkew, Some(at(s)));
                }
            }
            None => tally.counts.add(Problem::Orphan, Some(at(s))),
        }
    }
    let mut count = vec![0u32; n + 1];
    for &p in &parent {
        if p != NONE {
            count[p as usize + 1] += 1;
        }
    }
    for i in 0..n {
        count[i + 1] += count[i];
    }
    let first = count.clone();
    let mut fill = count;
    let mut kids = vec![0u32; first[n] as usize];
    for (i, &p) in parent.iter().enumerate() {
        if p != NONE {
            kids[fill[p as usize] as usize] = i as u32;
            fill[p as usize] += 1;
        }
    }
    Tree {
        parent,
        first,
        kids,
        dropped,
    }
}

impl Tree {
    fn children(&self, i: usize) -> &[u32] {
        &self.kids[self.first[i] as usize..self.first[i + 1] as usize]
    }
}

fn at(s: &Span) -> (u16, super::otlp::Pos) {
    (
        s.file,
        super::otlp::Pos {
            line: s.line as u64,
            col: s.col as u64,
            ..Default::default()
        },
    )
}

/// Folds one trace (its spans sorted by start) into the tally.
pub fn fold(spans: &[Span], tally: &mut Tally) {
    tally.traces += 1;
    tally.spans += spans.len() as u64;
    if spans.len() > super::MAX_TRACE_SPANS {
        for s in spans {
            tally.counts.add(Problem::TraceTooLarge, Some(at(s)));
        }
        return;
    }
    let tree = link(spans, tally);
    // Walk every fragment from its root, giving each span its fragment's flow.
    let mut flow = vec![NO_NAME; spans.len()];
    let mut seen = vec![false; spans.len()];
    let mut stack = Vec::new();
    let mut has_root = false;
    for r in 0..spans.len() {
        if tree.dropped[r] || tree.parent[r] != NONE {
            continue;
        }
        let s = &spans[r];
        let request = s.parent == 0 && s.kind != Kind::Consumer;
        let f = if request { s.flow } else { NO_NAME };
        if request {
            has_root = true;
            request_root(spans, &tree, r, tally);
        }
        stack.push(r as u32);
        while let Some(i) = stack.pop() {
            seen[i as usize] = true;
            flow[i as usize] = f;
            stack.extend_from_slice(tree.children(i as usize));
        }
    }
    if !has_root {
        tally.counts.add(Problem::NoRoot, spans.first().map(at));
    }
    for (i, s) in spans.iter().enumerate() {
        if tree.dropped[i] {
            continue;
        }
        if !seen[i] {
            tally.counts.add(Problem::Unreachable, Some(at(s)));
            continue;
        }
        if s.kind.is_server() {
            server_span(spans, &tree, i, flow[i], tally);
        }
    }
}

/// A customer request: its flow, region, entry service, latency, outcome.
fn request_root(spans: &[Span], tree: &Tree, r: usize, tally: &mut Tally) {
    let s = &spans[r];
    tally.requests += 1;
    tally.arrival(s.start_ns);
    *tally.arrivals.entry(s.region).or_default() += 1;
    let entry = if s.kind.is_server() {
        Some(s.service)
    } else {
        first_server(spans, tree, r).map(|k| spans[k].service)
    };
    let f = tally.flows.entry(s.flow).or_default();
    f.requests += 1;
    f.errors += s.error as u64;
    f.latency.record(s.duration_ns());
    f.server_roots += s.kind.is_server() as u64;
    if let Some(e) = entry {
        *f.entries.entry(e).or_default() += 1;
    }
}

/// The first server span under span `i` (through any other spans), by start.
fn first_server(spans: &[Span], tree: &Tree, i: usize) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut stack: Vec<u32> = tree.children(i).to_vec();
    let mut steps = 0usize;
    while let Some(k) = stack.pop() {
        steps += 1;
        if steps > spans.len() {
            break;
        }
        let k = k as usize;
        if spans[k].kind.is_server() {
            if best.is_none_or(|b| spans[k].start_ns < spans[b].start_ns) {
                best = Some(k);
            }
        } else {
            stack.extend_from_slice(tree.children(k));
        }
    }
    best
}

/// One try of a call.
#[derive(Clone, Copy, Debug)]
struct Try {
    target: Target,
    start: u64,
    end: u64,
    error: bool,
    timeout: bool,
    resend: u16,
    /// The client span (NONE: a server span reached without one).
    client: u32,
    /// The server span that answered (NONE: none).
    server: u32,
}

/// A call and its retries.
#[derive(Clone, Debug)]
struct Logical {
    target: Target,
    tries: Vec<Try>,
}

impl Logical {
    fn start(&self) -> u64 {
        self.tries[0].start
    }
    fn end(&self) -> u64 {
        self.tries.iter().map(|t| t.end).max().unwrap_or(0)
    }
    fn failed(&self) -> bool {
        self.tries.last().is_some_and(|t| t.error)
    }
}

/// The tries a server span made: client and producer spans under it,
/// through internal spans (a server span met directly is a try without a
/// client span).
fn tries(spans: &[Span], tree: &Tree, s: usize, tally: &mut Tally) -> Vec<Try> {
    let mut out = Vec::new();
    let mut stack: Vec<u32> = tree.children(s).iter().rev().copied().collect();
    while let Some(k) = stack.pop() {
        let k = k as usize;
        let c = &spans[k];
        if c.kind.is_client() {
            let server = first_server(spans, tree, k);
            let target = if c.kind == Kind::Producer {
                let q = if c.peer != NO_NAME {
                    c.peer
                } else {
                    server.map(|v| spans[v].peer).unwrap_or(NO_NAME)
                };
                Target::Queue(q)
            } else {
                match server {
                    Some(v) => Target::Service(spans[v].service),
                    None => Target::Peer(c.peer),
                }
            };
            if c.kind == Kind::Producer {
                deliveries(spans, tree, k, target, tally);
            }
            out.push(Try {
                target,
                start: c.start_ns,
                end: c.end_ns,
                error: c.error,
                timeout: c.timeout,
                resend: c.resend,
                client: k as u32,
                server: if c.kind == Kind::Producer {
                    NONE
                } else {
                    server.map(|v| v as u32).unwrap_or(NONE)
                },
            });
        } else if c.kind.is_server() {
            out.push(Try {
                target: Target::Service(c.service),
                start: c.start_ns,
                end: c.end_ns,
                error: c.error,
                timeout: c.timeout,
                resend: 0,
                client: NONE,
                server: k as u32,
            });
        } else {
            stack.extend(tree.children(k).iter().rev());
        }
    }
    out.sort_by_key(|t| (t.start, t.end, t.client, t.server));
    out
}

/// The deliveries of one published message: the server or consumer spans
/// under a producer span (the first under each path).
fn deliveries(spans: &[Span], tree: &Tree, p: usize, target: Target, tally: &mut Tally) {
    let Target::Queue(q) = target else { return };
    let mut n = 0u64;
    let mut stack: Vec<u32> = tree.children(p).to_vec();
    let qt = tally.queues.entry(q).or_default();
    qt.published += 1;
    while let Some(k) = stack.pop() {
        let c = &spans[k as usize];
        if c.kind.is_server() {
            n += 1;
            qt.deliveries += 1;
            qt.failed_deliveries += c.error as u64;
            *qt.consumers.entry(c.service).or_default() += 1;
            *qt.regions.entry(c.region).or_default() += 1;
        } else if !c.kind.is_client() {
            stack.extend_from_slice(tree.children(k as usize));
        }
    }
    qt.max_deliveries = qt.max_deliveries.max(n);
}

/// Groups tries into logical calls: a try to a target follows its
/// previous try there when that one failed, or when it says it is a resend.
fn logical(tries: Vec<Try>) -> Vec<Logical> {
    let mut calls: Vec<Logical> = Vec::new();
    for t in tries {
        let prev = calls.iter_mut().rev().find(|c| c.target == t.target);
        match prev {
            Some(c) if t.resend > 0 || (c.failed() && t.start >= c.end()) => c.tries.push(t),
            _ => calls.push(Logical {
                target: t.target,
                tries: vec![t],
            }),
        }
    }
    calls
}

/// Length of the union of intervals, clipped to [lo, hi].
fn covered(mut iv: Vec<(u64, u64)>, lo: u64, hi: u64) -> u64 {
    iv.sort_unstable();
    let (mut total, mut cur) = (0u64, None::<(u64, u64)>);
    for (a, b) in iv {
        let (a, b) = (a.clamp(lo, hi), b.clamp(lo, hi));
        match cur {
            Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    total + cur.map_or(0, |(a, b)| b - a)
}

fn server_span(spans: &[Span], tree: &Tree, i: usize, flow: u32, tally: &mut Tally) {
    let s = &spans[i];
    let all = tries(spans, tree, i, tally);
    network(spans, &all, tally);
    let calls = logical(all);
    let waiting = covered(
        calls.iter().map(|c| (c.start(), c.end())).collect(),
        s.start_ns,
        s.end_ns,
    );
    let own_ns = s.duration_ns() - waiting;
    let any_failed = calls.iter().any(Logical::failed);
    let own_failure = s.error && !any_failed;
    let st = tally.services.entry(s.service).or_default();
    st.spans += 1;
    st.errors += s.error as u64;
    st.own_failures += own_failure as u64;
    st.latency.record(s.duration_ns());
    st.own.record(own_ns);
    st.own_sample.offer(key(s.trace, s.id, SALT_OWN), own_ns as i64);
    let rt = st.regions.entry(s.region).or_default();
    rt.spans += 1;
    rt.busy_ns += s.duration_ns() as u128;
    if s.instance != NO_NAME {
        *rt.instances.entry(s.instance).or_default() += 1;
    }
    if !own_failure {
        *tally.reached.entry((s.service, flow)).or_default() += 1;
    }
    for c in &calls {
        edge(s, c, flow, tally);
    }
    for (a, ca) in calls.iter().enumerate() {
        for cb in &calls[a + 1..] {
            if ca.target != cb.target {
                pair(s.service, ca, cb, tally);
            }
        }
    }
}

fn edge(s: &Span, c: &Logical, flow: u32, tally: &mut Tally) {
    let e = tally.edges.entry((s.service, c.target)).or_default();
    *e.calls.entry(flow).or_default() += 1;
    e.tries += c.tries.len() as u64;
    e.max_tries = e.max_tries.max(c.tries.len() as u64);
    if c.failed() {
        e.failed += 1;
        if s.error {
            *e.breaks.entry(flow).or_default() += 1;
        } else {
            e.failed_caller_ok += 1;
        }
        if let Some(last) = c.tries.last().filter(|t| t.timeout) {
            e.timed_out.record(c.end() - c.start());
            e.last_try_timed_out.record(last.end - last.start);
        }
    }
    for (k, t) in c.tries.iter().enumerate() {
        e.try_ns.record(t.end - t.start);
        e.try_sample
            .offer(key(s.trace, t.client as u64 ^ s.id, SALT_TRY), (t.end - t.start) as i64);
        if t.server == NONE && t.client != NONE {
            e.unpaired += 1;
        }
        if let Some(next) = c.tries.get(k + 1) {
            if t.timeout {
                e.try_timed_out.record(t.end - t.start);
            }
            e.gaps
                .entry(k as u32 + 1)
                .or_default()
                .record(next.start.saturating_sub(t.end));
        }
    }
}

/// How two logical calls of one server span relate in time, and whether
/// one followed the other's failure (a fallback).
fn pair(caller: u32, a: &Logical, b: &Logical, tally: &mut Tally) {
    let (first, second) = if a.target < b.target { (a, b) } else { (b, a) };
    let p = tally.pairs.entry((caller, first.target, second.target)).or_default();
    let together = first.start() == second.start() || (first.start() < second.end() && second.start() < first.end());
    if together {
        p.overlap += 1;
    } else if first.end() <= second.start() {
        p.first_before += 1;
    } else {
        p.second_before += 1;
    }
    if first.failed() && second.start() >= first.end() {
        p.second_after_first_failed += 1;
    }
    if second.failed() && first.start() >= second.end() {
        p.first_after_second_failed += 1;
    }
}

/// One-way network samples from each try a server span answered.
fn network(spans: &[Span], tries: &[Try], tally: &mut Tally) {
    for t in tries {
        if t.client == NONE || t.server == NONE {
            continue;
        }
        let (c, v) = (&spans[t.client as usize], &spans[t.server as usize]);
        let n = tally.network.entry((c.region, v.region)).or_default();
        let out = v.start_ns as i64 - c.start_ns as i64;
        n.out.offer(key(c.trace, c.id, SALT_OUT), out);
        if !c.timeout {
            let back = c.end_ns as i64 - v.end_ns as i64;
            n.back.offer(key(c.trace, c.id, SALT_BACK), back);
        }
        if c.region == v.region && !c.timeout && c.duration_ns() >= v.duration_ns() {
            tally
                .services
                .entry(v.service)
                .or_default()
                .gap_local
                .record(c.duration_ns() - v.duration_ns());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u64, parent: u64, kind: Kind, service: u32, start: u64, end: u64) -> Span {
        Span {
            trace: 9,
            id,
            parent,
            start_ns: start,
            end_ns: end,
            service,
            region: 0,
            instance: service + 100,
            flow: if parent == 0 { 50 } else { NO_NAME },
            peer: NO_NAME,
            kind,
            error: false,
            timeout: false,
            resend: 0,
            file: 0,
            line: 1,
            col: 1,
        }
    }

    #[test]
    fn own_work_excludes_calls_and_backoff() {
        // Gateway (service 1) works 10 ms, calls A (retried once after a failed try, 5 ms backoff)
        // and B in parallel, then answers: own work = 100 − (union of [10, 60] and [10, 40]) = 50 ms.
        let ms = 1_000_000;
        let mut spans = vec![
            span(1, 0, Kind::Server, 1, 0, 100 * ms),
            span(2, 1, Kind::Client, 1, 10 * ms, 30 * ms),
            span(3, 2, Kind::Server, 2, 11 * ms, 29 * ms),
            span(4, 1, Kind::Client, 1, 35 * ms, 60 * ms),
            span(5, 4, Kind::Server, 2, 36 * ms, 59 * ms),
            span(6, 1, Kind::Client, 1, 10 * ms, 40 * ms),
            span(7, 6, Kind::Server, 3, 11 * ms, 39 * ms),
        ];
        spans[1].error = true;
        spans[2].error = true;
        spans.sort_by_key(|s| (s.start_ns, s.id));
        let mut t = Tally::default();
        fold(&spans, &mut t);
        let gw = &t.services[&1];
        assert_eq!(gw.own.max(), 50 * ms);
        assert_eq!(gw.own_failures, 0);
        let a = &t.edges[&(1, Target::Service(2))];
        assert_eq!((a.calls[&50], a.tries, a.failed), (1, 2, 0));
        assert_eq!(a.gaps[&1].max(), 5 * ms);
        let p = &t.pairs[&(1, Target::Service(2), Target::Service(3))];
        assert_eq!(p.overlap, 1);
        // Service 2's failed try is its own failure (it called nobody).
        assert_eq!(t.services[&2].own_failures, 1);
        assert_eq!(t.requests, 1);
        assert!(t.counts.counts.is_empty());
    }

    #[test]
    fn orphans_skew_and_cycles_are_counted() {
        // A span with a missing parent, a child starting before its parent, and a parent cycle.
        let spans = vec![
            span(1, 0, Kind::Server, 1, 10, 100),
            span(2, 1, Kind::Client, 1, 5, 50),
            span(3, 42, Kind::Server, 2, 20, 30),
            span(4, 5, Kind::Internal, 2, 21, 22),
            span(5, 4, Kind::Internal, 2, 21, 24),
        ];
        let mut t = Tally::default();
        fold(&spans, &mut t);
        assert_eq!(t.counts.get(Problem::Orphan), 1);
        assert_eq!(t.counts.get(Problem::ClockSkew), 1);
        assert_eq!(t.counts.get(Problem::Unreachable), 2);
    }
}
