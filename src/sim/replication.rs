//! One replication of a scenario: the replicas of every service in every
//! region, the calls and requests in flight, and the event handlers that move
//! them. The steps of a request's life live in the child modules, in the
//! order a request meets them: [`arrivals`], [`calls`] (with [`routing`] and
//! the caller-side mechanisms), [`stations`], [`broker`] for queues; fault
//! windows are carried out by [`faults`], guardrails by [`guardrails`], a
//! canary rollout by [`rollout`].
//!
//! Replicas are kept in *subsets*, the unit routing picks from: one per
//! service × region (its replicas in service first, then those a `scale`
//! guardrail holds in reserve), and with a `[rollout]` one more per region
//! for the new version, after all the others. A replica also names its
//! *group* (service × region), which its figures, faults and health belong
//! to: a new-version replica is in its service's group, so callers, faults
//! and `services.csv` see one service, but in a subset of its own.
//! It does no I/O, reads no clock and spawns no threads.

mod arrivals;
mod broker;
mod caller;
mod calls;
mod charges;
mod faults;
mod guardrails;
mod rollout;
mod routing;
mod stations;
mod telemetry;
mod timeouts;

pub use guardrails::GuardOutcome;
pub use rollout::{RolloutOutcome, Withdrawal};
pub use telemetry::run_with_telemetry;

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
    /// What the rollout did (with a `[rollout]`).
    pub rollout: Option<RolloutOutcome>,
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
    /// The rollout runs its next steps (at its start and after a pause);
    /// stale when `epoch` is not the rollout's current one.
    RolloutStep {
        epoch: u32,
    },
    /// An analysis (`which`: 0 the step's, 1 the background one) opens its
    /// measurement window, or takes a measurement; stale when `epoch` is not
    /// that analysis run's.
    AnalysisOpen {
        which: u8,
        epoch: u32,
    },
    AnalysisMeasure {
        which: u8,
        epoch: u32,
    },
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
    /// Service × region: what its figures, faults and health belong to.
    group: u32,
    /// The service of its group (`group / regions`, kept to spare a division).
    service: u32,
    /// The subset routing picks it from (its group, or the new version's).
    subset: u32,
    /// A replica of a rollout's new version.
    canary: bool,
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
    /// Held in reserve (for a `scale` guardrail or a rollout's weight), or
    /// taken out of service again: no new calls; it finishes what it holds.
    dormant: bool,
    /// When it started counting toward capacity (after warm-up or waking);
    /// `Time::MAX` while out of service.
    activated_at: Time,
    /// Capacity (servers × ns, within the counted horizon) of the periods
    /// it was in service before the current one.
    capacity_ns: u128,
    /// Its chain of health-check events is running.
    hc_chain: bool,
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
    /// Replicas of subset u are `group_first[u] .. group_first[u + 1]`: the
    /// ones in service first, then those held dormant. Subset u < `stable_groups`
    /// is group u; `stable_groups + r` is a rollout's new version in region r.
    group_first: Vec<u32>,
    /// Replicas of subset u in service (not dormant): the first ones of its range.
    group_active: Vec<u32>,
    /// Replicas of subset u in service and not routable (believed unhealthy or ejected).
    group_down: Vec<u32>,
    /// Service × region groups (the stable subsets).
    stable_groups: usize,
    /// The rollout's service (`NONE` without a rollout) and the share of
    /// its calls that go to the new version (0–1).
    canary_service: u32,
    canary_share: f64,
    rollout: Option<rollout::RolloutState>,
    /// End of the last fault window (0 without faults): a withdrawn rollout
    /// shortens the blast radius's window to no less than this.
    faults_end_ns: u64,
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
    /// Traces and series, when the replication was started with telemetry.
    tel: Option<Box<telemetry::Telemetry<'a>>>,
    /// The next scrape of the series (`Time::MAX`: no series).
    tel_next_scrape: Time,
}

impl<'a> Replication<'a> {
    pub fn new(topo: &'a Topology, scn: &'a Scenario, seed: u64, index: u64) -> Self {
        let nr = topo.regions.len();
        let (replicas, group_first, group_active) = build_replicas(topo, scn);
        let group_down = vec![0; group_active.len()];
        let stable_groups = topo.services.len() * nr;
        let mut site_first = Vec::with_capacity(topo.services.len());
        let mut sites = 0u32;
        for s in &topo.services {
            site_first.push(sites);
            sites += s.calls.len() as u32;
        }
        let flow_cum = topo.cumulative_shares();
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
        let faults_end_ns = (windows.iter())
            .map(|w| w.end_ns.unwrap_or(scn.duration_ns).min(scn.duration_ns))
            .max()
            .unwrap_or(0);
        // The fault window: from the first fault start (or the rollout's
        // start) to the last fault end (or the end, until a withdrawal).
        let rollout_start = scn.rollout.as_ref().map(|r| r.start_ns);
        let starts = windows.iter().map(|w| w.start_ns).chain(rollout_start);
        if let Some(start) = starts.min() {
            let end = if rollout_start.is_some() {
                scn.duration_ns
            } else {
                faults_end_ns
            };
            rec.set_fault_window(start.min(scn.duration_ns), end.min(scn.duration_ns));
        }
        let mut callers = CallerMechanisms::new(topo, &group_first, nr);
        if let Some(ro) = &scn.rollout {
            let first = group_first[stable_groups];
            callers.add_canary(topo, ro.service.index(), first, group_first[stable_groups + nr] - first);
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
            callers,
            stable_groups,
            canary_service: scn.rollout.as_ref().map_or(NONE, |r| r.service.0),
            canary_share: 0.0,
            rollout: scn.rollout.as_ref().map(|_| rollout::RolloutState::new()),
            faults_end_ns,
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
            tel: None,
            tel_next_scrape: Time::MAX,
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
        if let Some(ro) = &self.scn.rollout
            && !self.faults_off
        {
            self.engine.schedule(ro.start_ns, Ev::RolloutStep { epoch: 0 });
        }
        for r in 0..self.nr {
            self.schedule_arrival(r as u16, 0);
        }
        let stop = self.scn.duration_ns + DRAIN_NS;
        while let Some(ev) = self.engine.next(stop) {
            if self.engine.now >= self.tel_next_scrape {
                self.tel_scrape_until(self.engine.now);
            }
            self.handle(ev);
        }
        self.finish_run();
        self.tel_finish();
        ReplicationOutput {
            index,
            recorder: self.rec,
            events: self.engine.events,
            peer_events: self.peer_events,
            arrivals: self.arrivals,
            fault_windows: self.windows,
            peak_in_flight: self.peak_in_flight,
            guardrails: self.guardrails.outcomes(self.scn),
            rollout: self.rollout.map(|r| r.outcome),
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
            Ev::RolloutStep { epoch } => self.on_rollout_step(epoch),
            Ev::AnalysisOpen { which, epoch } => self.on_analysis_open(which as usize, epoch),
            Ev::AnalysisMeasure { which, epoch } => self.on_analysis_measure(which as usize, epoch),
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
            gs.capacity_ns +=
                rep.capacity_ns + in_service_ns(rep, self.rec.warmup_ns, self.rec.end_ns, self.rec.end_ns);
        }
        self.guardrails.close(self.scn.duration_ns);
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
                self.tel_root_unfinished(i as u32);
            }
        }
        self.unfinished_messages();
    }
}

/// Server capacity (servers × ns) of a replica's current period in service,
/// within the counted horizon `[warmup, end)`, up to `now`.
fn in_service_ns(rep: &Replica, warmup: Time, end: Time, now: Time) -> u128 {
    let since = rep.activated_at.max(warmup).min(end);
    rep.servers as u128 * (now.min(end).saturating_sub(since)) as u128
}

/// Every replica of every service × region group, in group order, then a
/// rollout's new-version replicas region by region; the first replica of
/// each subset (and one past the last); and how many of each subset are in
/// service. Replicas a `scale` guardrail may add wait dormant at the end of
/// their group, and the new version's (`replicas` per region, enough for
/// 100%) until its weight asks for them: no routing (panic mode included),
/// ejection share or random kill sees them, so a guardrail that never fires
/// and a rollout at weight 0 change nothing.
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
                let g = (si * nr + r) as u32;
                replicas.push(Replica::new(s, (si, g), g, r, k >= s.replicas, false));
            }
        }
    }
    group_first.push(replicas.len() as u32);
    if let Some(ro) = &scn.rollout {
        let (s, v) = (ro.service.index(), &ro.version);
        for r in 0..nr {
            if v.present[r] {
                for _ in 0..v.replicas {
                    let subset = (topo.services.len() * nr + r) as u32;
                    replicas.push(Replica::new(v, (s, (s * nr + r) as u32), subset, r, true, true));
                }
            }
            group_active.push(0);
            group_first.push(replicas.len() as u32);
        }
    }
    (replicas, group_first, group_active)
}

impl Replica {
    /// A replica of `s` (the service, or a rollout's new version) in group
    /// `group` and subset `subset`, region `r`; a dormant one waits out of service.
    fn new(s: &Service, (service, group): (usize, u32), subset: u32, r: usize, dormant: bool, canary: bool) -> Replica {
        Replica {
            group,
            service: service as u32,
            subset,
            canary,
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
            capacity_ns: 0,
            hc_chain: false,
        }
    }
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
        // The event list moves events around: keep them within 24 bytes.
        assert!(
            std::mem::size_of::<super::Ev>() <= 24,
            "{}",
            std::mem::size_of::<super::Ev>()
        );
    }
}
