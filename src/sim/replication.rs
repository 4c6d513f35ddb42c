//! One replication of a scenario: the replicas of every service in every
//! region, the calls and requests in flight, and the event handlers that move
//! them. The steps of a request's life live in the child modules, in the
//! order a request meets them: [`arrivals`], [`calls`] (with [`routing`] and
//! the caller-side mechanisms), [`stations`], [`broker`] for queues; fault
//! windows are carried out by [`faults`], guardrails by [`guardrails`].
//! It does no I/O, reads no clock and spawns no threads.

mod arrivals;
mod broker;
mod caller;
mod calls;
mod charges;
mod faults;
mod guardrails;
mod routing;
mod stations;
mod timeouts;

pub use guardrails::GuardOutcome;

use std::collections::VecDeque;

use crate::model::*;
use crate::observe::{Outcome, Recorder, RequestEnd};

use super::chaos::{ActiveFaults, FaultWindow, draw_windows};
use super::engine::{Engine, Time};
use super::mechanisms::{CallerMechanisms, OutlierState, RetryBudget, TokenBucket};
use super::slab::Slab;
use super::streams::Streams;
use broker::{Broker, Msg};
use charges::ChargeRecord;
use guardrails::Guardrails;
use timeouts::TimeoutLanes;

/// Simulated time after the end of the run during which in-flight requests
/// may still finish; those still open then count as failed.
pub const DRAIN_NS: u64 = 120_000_000_000;

pub use super::mechanisms::BUDGET_WINDOW_NS;

/// No index (a root call has no call site, a call site no caller slot, ...).
const NONE: u32 = u32::MAX;

/// What one replication produced.
#[derive(Clone, Debug)]
pub struct ReplicationOutput {
    pub index: u64,
    pub recorder: Recorder,
    /// Events processed by the engine.
    pub events: u64,
    /// Events as the peer models count them: arrivals plus service completions.
    pub peer_events: u64,
    /// Customer requests that arrived (warm-up included): the unit of the
    /// speed figures (requests per second, floor events per request).
    pub arrivals: u64,
    pub fault_windows: Vec<FaultWindow>,
    /// The most calls and requests in flight at once (a measure of memory).
    pub peak_in_flight: usize,
    /// What each guardrail did.
    pub guardrails: Vec<GuardOutcome>,
}

/// What a replica (or the way to it) answered to one try.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Reply {
    outcome: Outcome,
    /// For a failure: a server-side one (5xx, refusal, timeout) that may be
    /// retried; a client error (4xx: rate limit, injected 4xx) is not.
    retryable: bool,
    /// The discount of an uncaught wrong AI output the answer carries (< 0: none).
    wrong: f32,
    /// A validating service caught a wrong output: the caller's is cleared.
    caught: bool,
}

impl Reply {
    const OK: Reply = Reply {
        outcome: Outcome::Succeeded,
        retryable: false,
        wrong: -1.0,
        caught: false,
    };

    fn fail(retryable: bool) -> Reply {
        Reply {
            outcome: Outcome::Failed,
            retryable,
            wrong: -1.0,
            caught: false,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    Arrival {
        region: u16,
    },
    /// `charge`: the charge tag of the try (see [`ChargeRecord`]), or `NONE`.
    /// The flow travels with the try: a late try may reach its replica after
    /// its call slot was reused, and the callee still works on it.
    Deliver {
        call: u32,
        epoch: u32,
        attempt: u16,
        flow: u16,
        replica: u32,
        charge: u32,
    },
    ServiceDone {
        task: u32,
        epoch: u32,
    },
    Response {
        call: u32,
        epoch: u32,
        attempt: u16,
        reply: Reply,
    },
    Timeout {
        call: u32,
        epoch: u32,
    },
    TryTimeout {
        call: u32,
        epoch: u32,
        attempt: u16,
    },
    Retry {
        call: u32,
        epoch: u32,
    },
    HealthCheck {
        replica: u32,
    },
    EjectionEnd {
        replica: u32,
    },
    Redeliver {
        queue: u32,
    },
    /// A fault window opens or closes (index into the replication's windows).
    FaultStart(u32),
    FaultEnd(u32),
    /// Guardrails evaluate their burn rates (every second).
    GuardCheck,
    GuardAct(u16),
    GuardScaled(u16),
    /// The front timeout of a timeout lane is due (see [`timeouts`]).
    TimeoutDue(u16),
}

#[derive(Clone, Copy, Debug)]
enum Parent {
    Task {
        idx: u32,
        epoch: u32,
    },
    Root {
        flow: u16,
        arrival: Time,
    },
    /// A queue delivering a message to its consumer.
    Message {
        queue: u32,
        msg: Msg,
    },
}

/// A logical call (all its tries and its fallback), or a customer request's root call.
#[derive(Clone, Debug)]
struct CallSlot {
    epoch: u32,
    live: bool,
    /// A try is in flight; its answer (matching `attempt`) is awaited.
    waiting: bool,
    attempt: u16,
    parent: Parent,
    target: ServiceId,
    from_region: u16,
    /// Index into the call sites (`NONE` for root calls and deliveries).
    site: u32,
    /// The caller replica's breaker and bulkhead for this site (a slot of
    /// [`CallerMechanisms`]), or `NONE`.
    caller_slot: u32,
    /// Holds a bulkhead permit, returned when the call ends.
    holds_permit: bool,
    on_fallback: bool,
    deadline: Time,
    try_started: Time,
    dest_group: u32,
    prev_sleep: u64,
    /// Order value of the customer request behind this call.
    value: f64,
    flow: u16,
    /// Charge record (duplicate-charge accounting) or `NONE`.
    charge: u32,
    /// The caller's uncaught wrong output when it made the call (< 0: none),
    /// which a validating callee may catch.
    wrong_in: f32,
    /// Faults met on the way (bit i: fault i), the callee's findings included.
    touched: u64,
}

/// A request being handled by a replica (waiting or holding a server).
#[derive(Clone, Debug, Default)]
struct TaskSlot {
    epoch: u32,
    live: bool,
    replica: u32,
    call: u32,
    call_epoch: u32,
    attempt: u16,
    flow: u16,
    stage: u16,
    pending: u16,
    failed: bool,
    degraded: bool,
    arrival: Time,
    value: f64,
    charge: u32,
    /// Uncaught wrong output gathered from the calls so far (< 0: none).
    wrong: f32,
    /// A wrong output this (validating) service was asked to check (< 0: none).
    checking: f32,
    touched: u64,
}

impl Default for CallSlot {
    fn default() -> Self {
        CallSlot {
            epoch: 0,
            live: false,
            waiting: false,
            attempt: 0,
            parent: Parent::Root { flow: 0, arrival: 0 },
            target: ServiceId(0),
            from_region: 0,
            site: NONE,
            caller_slot: NONE,
            holds_permit: false,
            on_fallback: false,
            deadline: Time::MAX,
            try_started: 0,
            dest_group: 0,
            prev_sleep: 0,
            value: 0.0,
            flow: 0,
            charge: NONE,
            wrong_in: -1.0,
            touched: 0,
        }
    }
}

struct Replica {
    group: u32,
    region: u16,
    alive: bool,
    busy: u32,
    servers: u32,
    queue_cap: u32,
    queue: VecDeque<u32>,
    busy_since: Time,
    busy_ns: u128,
    /// Believed healthy by health checks.
    believed: bool,
    hc_fails: u32,
    /// Ejected by outlier detection.
    ejected: bool,
    outlier: OutlierState,
    /// Rate limit (services with `rate_limit`).
    bucket: Option<TokenBucket>,
    /// Held in reserve for a `scale` guardrail: not running until woken.
    dormant: bool,
    /// When it started counting toward capacity (after warm-up or waking).
    activated_at: Time,
}

impl Replica {
    fn routable(&self) -> bool {
        self.believed && !self.ejected
    }
}

/// One replication of a scenario.
pub struct Replication<'a> {
    topo: &'a Topology,
    scn: &'a Scenario,
    engine: Engine<Ev>,
    rng: Streams,
    nr: usize,
    replicas: Vec<Replica>,
    /// Replicas of group g are `group_first[g] .. group_first[g + 1]`: the
    /// ones in service first, then those a `scale` guardrail holds dormant.
    group_first: Vec<u32>,
    /// Replicas of group g in service (not dormant): the first ones of its range.
    group_active: Vec<u32>,
    /// Replicas of group g not routable (believed unhealthy or ejected).
    group_down: Vec<u32>,
    rr: Vec<u32>,
    calls: Slab<CallSlot>,
    tasks: Slab<TaskSlot>,
    charges: Slab<ChargeRecord>,
    site_first: Vec<u32>,
    /// Every call site's definition, by site (the services' calls in order).
    site_calls: Vec<&'a Call>,
    /// Per call site: its retry budget.
    budgets: Vec<RetryBudget>,
    callers: CallerMechanisms,
    broker: Broker,
    active: ActiveFaults,
    windows: Vec<FaultWindow>,
    /// Replicas each window took down (to restart them).
    killed: Vec<Vec<u32>>,
    /// Queues (queue × region) each window stalled.
    stalled: Vec<Vec<usize>>,
    /// Per replica, the kill and outage faults that have it down (bit i:
    /// fault i): a call that reaches it, or dies in it, met those faults.
    down_mask: Vec<u64>,
    flow_cum: Vec<f64>,
    rec: Recorder,
    peer_events: u64,
    arrivals: u64,
    peak_in_flight: usize,
    /// Call and try timeouts, in a FIFO lane per duration.
    timeouts: TimeoutLanes,
    guardrails: Guardrails,
    /// The counterfactual twin: the fault timeline is drawn (and measured
    /// against) but no fault acts.
    faults_off: bool,
}

impl<'a> Replication<'a> {
    pub fn new(topo: &'a Topology, scn: &'a Scenario, seed: u64, index: u64) -> Self {
        let nr = topo.regions.len();
        let (replicas, group_first, group_active) = build_replicas(topo, scn);
        let group_down = vec![0; group_active.len()];
        let mut site_first = Vec::with_capacity(topo.services.len());
        let mut sites = 0u32;
        for s in &topo.services {
            site_first.push(sites);
            sites += s.calls.len() as u32;
        }
        let mut acc = 0.0;
        let flow_cum = topo
            .flows
            .iter()
            .map(|f| {
                acc += f.share;
                acc
            })
            .collect();
        let mut rng = Streams::new(seed, index);
        // A random kill runs per replica: count the replicas each one targets
        // (those the service starts with; a `scale` guardrail's are not subject to it).
        let units = |i: usize| {
            let f = &scn.faults[i];
            match (f.service, &f.effect) {
                (Some(s), FaultEffect::Kill { .. }) => (0..nr)
                    .filter(|&r| f.regions[r])
                    .map(|r| group_active[s.index() * nr + r])
                    .sum(),
                _ => 1,
            }
        };
        let windows = draw_windows(scn, &mut rng.faults, scn.duration_ns, units);
        let engine = Engine::new();
        let mut rec = Recorder::new(topo, scn);
        if !windows.is_empty() {
            let start = windows.iter().map(|w| w.start_ns).min().unwrap_or(0);
            let end = windows
                .iter()
                .map(|w| w.end_ns.unwrap_or(scn.duration_ns))
                .max()
                .unwrap_or(0);
            rec.set_fault_window(start.min(scn.duration_ns), end.min(scn.duration_ns));
        }
        Replication {
            topo,
            scn,
            engine,
            timeouts: TimeoutLanes::new(topo),
            rng,
            nr,
            rr: vec![0; group_first.len()],
            group_down,
            group_active,
            guardrails: Guardrails::new(scn, topo.services.len()),
            callers: CallerMechanisms::new(topo, &group_first, nr),
            broker: Broker::new(topo),
            down_mask: vec![0; replicas.len()],
            replicas,
            group_first,
            calls: Slab::new(),
            tasks: Slab::new(),
            charges: Slab::new(),
            site_first,
            site_calls: topo.services.iter().flat_map(|s| &s.calls).collect(),
            budgets: vec![RetryBudget::default(); sites as usize],
            active: ActiveFaults::new(topo.services.len(), nr),
            killed: vec![Vec::new(); windows.len()],
            stalled: vec![Vec::new(); windows.len()],
            windows,
            flow_cum,
            rec,
            peer_events: 0,
            arrivals: 0,
            peak_in_flight: 0,
            faults_off: false,
        }
    }

    /// Runs the replication to its end and returns what it measured.
    pub fn run(mut self, index: u64) -> ReplicationOutput {
        for (i, w) in self.windows.clone().iter().enumerate() {
            if w.start_ns < self.scn.duration_ns && !self.faults_off {
                self.engine.schedule(w.start_ns, Ev::FaultStart(i as u32));
                if let Some(end) = w.end_ns {
                    self.engine.schedule(end, Ev::FaultEnd(i as u32));
                }
            }
        }
        self.schedule_health_checks();
        self.schedule_guard_checks();
        for r in 0..self.nr {
            self.schedule_arrival(r as u16, 0);
        }
        let stop = self.scn.duration_ns + DRAIN_NS;
        while let Some(ev) = self.engine.next(stop) {
            self.handle(ev);
        }
        self.finish_run();
        ReplicationOutput {
            index,
            recorder: self.rec,
            events: self.engine.events,
            peer_events: self.peer_events,
            arrivals: self.arrivals,
            fault_windows: self.windows,
            peak_in_flight: self.peak_in_flight,
            guardrails: self.guardrails.outcomes(self.scn),
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Arrival { region } => self.on_arrival(region),
            Ev::Deliver {
                call,
                epoch,
                attempt,
                flow,
                replica,
                charge,
            } => self.on_deliver(call, epoch, attempt, flow, replica, charge),
            Ev::ServiceDone { task, epoch } => {
                let t = &self.tasks.slots[task as usize];
                if t.live && t.epoch == epoch {
                    self.peer_events += 1;
                    self.on_service_done(task);
                }
            }
            Ev::Response {
                call,
                epoch,
                attempt,
                reply,
            } => {
                if self.awaits(call, epoch, attempt) {
                    self.on_reply(call, reply);
                }
            }
            Ev::Timeout { call, epoch } => {
                let c = &self.calls.slots[call as usize];
                if c.live && c.epoch == epoch {
                    self.on_timeout(call);
                }
            }
            Ev::TryTimeout { call, epoch, attempt } => {
                if self.awaits(call, epoch, attempt) {
                    self.on_try_timeout(call);
                }
            }
            Ev::Retry { call, epoch } => {
                let c = &self.calls.slots[call as usize];
                if c.live && c.epoch == epoch && !c.waiting {
                    self.calls.slots[call as usize].attempt += 1;
                    self.send_try(call);
                }
            }
            Ev::HealthCheck { replica } => self.on_health_check(replica),
            Ev::EjectionEnd { replica } => self.on_ejection_end(replica),
            Ev::Redeliver { queue } => self.on_redeliver(queue),
            Ev::FaultStart(i) => self.fault_start(i),
            Ev::FaultEnd(i) => self.fault_end(i),
            Ev::GuardCheck => self.on_guard_check(),
            Ev::GuardAct(i) => self.on_guard_act(i as usize),
            Ev::GuardScaled(i) => self.on_guard_scaled(i as usize),
            Ev::TimeoutDue(l) => self.on_timeout_due(l),
        }
    }

    /// Whether call `call` still waits for try `attempt` of epoch `epoch`.
    #[inline]
    fn awaits(&self, call: u32, epoch: u32, attempt: u16) -> bool {
        let c = &self.calls.slots[call as usize];
        c.live && c.epoch == epoch && c.waiting && c.attempt == attempt
    }

    /// Closes the books: busy time up to the end, open requests as failed.
    fn finish_run(&mut self) {
        self.engine.now = self.engine.now.max(self.scn.duration_ns);
        for r in 0..self.replicas.len() as u32 {
            self.touch(r);
            let rep = &self.replicas[r as usize];
            let gs = &mut self.rec.groups[rep.group as usize];
            gs.busy_ns += rep.busy_ns;
            let since = rep.activated_at.max(self.rec.warmup_ns).min(self.rec.end_ns);
            gs.capacity_ns += rep.servers as u128 * (self.rec.end_ns - since) as u128;
        }
        self.close_breakers();
        self.broker.close(self.engine.now, &mut self.rec);
        for i in 0..self.calls.slots.len() {
            let c = &self.calls.slots[i];
            if let (true, Parent::Root { flow, arrival }) = (c.live, c.parent)
                && self.rec.counted(arrival)
            {
                let end = RequestEnd {
                    outcome: Outcome::Failed,
                    value: c.value,
                    wrong: None,
                    touched: c.touched,
                };
                self.rec.request_done(flow, arrival, None, end);
            }
        }
        self.unfinished_messages();
    }
}

/// Every replica of every service × region group, in group order; the first
/// replica of each group (and one past the last); and how many of each group
/// are in service. Replicas a `scale` guardrail may add wait dormant at the
/// end of their group, outside it until they wake: no routing (panic mode
/// included), ejection share or random kill sees them, so a guardrail that
/// never fires changes nothing.
fn build_replicas(topo: &Topology, scn: &Scenario) -> (Vec<Replica>, Vec<u32>, Vec<u32>) {
    let nr = topo.regions.len();
    let mut reserve = vec![0u32; topo.services.len()];
    for g in &scn.guardrails {
        if let Action::Scale { service, replicas, .. } = g.action {
            reserve[service.index()] += replicas;
        }
    }
    let mut replicas = Vec::new();
    let mut group_first = Vec::with_capacity(topo.services.len() * nr + 1);
    let mut group_active = Vec::with_capacity(topo.services.len() * nr);
    for (si, s) in topo.services.iter().enumerate() {
        for r in 0..nr {
            group_first.push(replicas.len() as u32);
            group_active.push(if s.present[r] { s.replicas } else { 0 });
            if !s.present[r] {
                continue;
            }
            for k in 0..s.replicas + reserve[si] {
                let dormant = k >= s.replicas;
                replicas.push(Replica {
                    group: (si * nr + r) as u32,
                    region: r as u16,
                    alive: !dormant,
                    busy: 0,
                    servers: s.concurrency,
                    queue_cap: s.queue,
                    queue: VecDeque::new(),
                    busy_since: 0,
                    busy_ns: 0,
                    believed: !dormant,
                    hc_fails: 0,
                    ejected: false,
                    outlier: OutlierState::default(),
                    bucket: s.rate_limit.as_ref().map(TokenBucket::full),
                    dormant,
                    activated_at: if dormant { Time::MAX } else { 0 },
                });
            }
        }
    }
    group_first.push(replicas.len() as u32);
    (replicas, group_first, group_active)
}

/// Runs replication `index` of a scenario.
pub fn run_replication(topo: &Topology, scn: &Scenario, seed: u64, index: u64) -> ReplicationOutput {
    Replication::new(topo, scn, seed, index).run(index)
}

/// Runs the counterfactual twin of replication `index`: the same replication
/// (same streams, same fault timeline drawn and measured against) with the
/// faults switched off. Arrivals, service times and every other subsystem
/// draw from their own streams, so the pair shares its randomness (common
/// random numbers) and the difference is what the faults did.
pub fn run_twin(topo: &Topology, scn: &Scenario, seed: u64, index: u64) -> ReplicationOutput {
    let mut r = Replication::new(topo, scn, seed, index);
    r.faults_off = true;
    r.run(index)
}

#[cfg(test)]
mod tests {
    #[test]
    fn events_stay_small() {
        // The heap moves events around: keep them within 24 bytes.
        assert!(
            std::mem::size_of::<super::Ev>() <= 24,
            "{}",
            std::mem::size_of::<super::Ev>()
        );
    }
}
