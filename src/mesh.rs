//! The mesh: stations, calls, routing, resilience mechanisms and queues of
//! one replication. It does no I/O, reads no clock and spawns no threads.
//!
//! # The life of a request
//! 1. An arrival in region R picks a flow and becomes a *root call* to the
//!    flow's entry service, routed like any call.
//! 2. A call is routed to a replica (see [`routing`]: caller's region first,
//!    then the nearest, skipping replicas believed unhealthy), crosses the
//!    network (and any injected delay or abort), and is delivered.
//! 3. The replica's rate limit may turn it away; otherwise it is served at
//!    once if one of its `concurrency` servers is free, queued FIFO if its
//!    waiting room has space, or rejected. A request that waited longer than
//!    `queue_timeout_ms` is dropped when its turn comes.
//! 4. A served request does its own work (`service_time`, stretched by
//!    slowdown faults; its own `error_rate` fails it), then runs its calls
//!    stage by stage (calls of a stage in parallel), holding its server all
//!    along (thread-per-request). A call to a queue is a publish: the broker
//!    acknowledges it and consumers process it later (see [`broker`]).
//! 5. Each try of a call asks the caller replica's circuit breaker first, the
//!    call as a whole its bulkhead (see [`guards`]). A failed try is retried
//!    per the policy (backoff, jitter, budget, per-try timeout); then the
//!    fallback runs; a required call that still fails fails the request, an
//!    optional one marks it degraded.
//! 6. The caller gives up at `timeout_ms`; the callee keeps working and its
//!    late answer is dropped.
//! 7. The root call's answer back in region R ends the customer request.

mod broker;
mod guardrails;
mod guards;
mod routing;

pub use guardrails::GuardOutcome;

use std::collections::VecDeque;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::chaos::{ActiveFaults, FaultWindow, draw_windows};
use crate::engine::{EventQueue, Time};
use crate::model::*;
use crate::observe::{Outcome, Recorder, RequestEnd};

use broker::{Broker, Msg};
use guardrails::Guardrails;
use guards::Guards;

/// Simulated time after the end of the run during which in-flight requests
/// may still finish; those still open then count as failed.
pub const DRAIN_NS: u64 = 120_000_000_000;

/// Retry budgets count tries over a rolling window of this length.
pub const BUDGET_WINDOW_NS: u64 = 10_000_000_000;

/// No index (a root call has no call site, a call no guard, ...).
const NONE: u32 = u32::MAX;

/// The random streams of one replication, one per subsystem, so a change in
/// how one subsystem draws never shifts another (and configurations that
/// differ only in, say, faults see the same arrivals: common random numbers).
pub struct Streams {
    pub arrivals: ChaCha8Rng,
    pub service: ChaCha8Rng,
    pub network: ChaCha8Rng,
    pub routing: ChaCha8Rng,
    pub faults: ChaCha8Rng,
    pub resilience: ChaCha8Rng,
}

/// SplitMix64 finaliser: spreads a seed and a subsystem tag over 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Streams {
    /// Replication `replication` of a run seeded `seed`: ChaCha8 keyed by
    /// (seed, subsystem), on stream number `replication`.
    pub fn new(seed: u64, replication: u64) -> Self {
        let make = |tag: u64| {
            let mut r = ChaCha8Rng::seed_from_u64(mix(seed ^ mix(tag)));
            r.set_stream(replication);
            r
        };
        Streams {
            arrivals: make(1),
            service: make(2),
            network: make(3),
            routing: make(4),
            faults: make(5),
            resilience: make(6),
        }
    }
}

/// What one replication produced.
#[derive(Clone, Debug)]
pub struct ReplicationOutput {
    pub index: u64,
    pub recorder: Recorder,
    /// Events processed by the engine.
    pub events: u64,
    /// Events as the peer models count them: arrivals plus service completions.
    pub peer_events: u64,
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
    /// Index of the caller replica's guard (breaker, bulkhead) for this site.
    guard: u32,
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

/// Counts one charging call's executions until every try has ended.
///
/// A try carries a *charge tag*: the record's index, with the top bit set
/// for tries of the fallback target. Idempotency keys deduplicate charges at
/// one provider only: a primary that charged after its caller gave up and a
/// fallback provider that charged again are a duplicate either way.
#[derive(Clone, Debug, Default)]
struct ChargeRecord {
    /// Tries delivered or on their way, not yet answered.
    open_tries: u32,
    /// Tries the primary and the fallback target completed successfully
    /// (each one charged the card).
    charged: [u32; 2],
    call_done: bool,
    site: u32,
    idempotent: bool,
    value: f64,
}

/// A free-list arena: slots are reused, and each reuse bumps the slot's
/// epoch so events about a previous occupant are recognised and dropped.
struct Slab<T> {
    slots: Vec<T>,
    free: Vec<u32>,
}

impl<T: Default> Slab<T> {
    fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// A free slot's index (its content is the previous occupant's).
    fn alloc(&mut self) -> u32 {
        match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(T::default());
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn in_use(&self) -> usize {
        self.slots.len() - self.free.len()
    }
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
            guard: NONE,
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
    ejections: u32,
    consecutive_errors: u32,
    /// Rate-limit token bucket.
    tokens: f64,
    tokens_at: Time,
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

/// Per call site: the retry budget's rolling counts.
#[derive(Clone, Default)]
struct Budget {
    window_start: Time,
    first: u64,
    retries: u64,
    prev_first: u64,
    prev_retries: u64,
}

/// One replication of a scenario.
pub struct Replication<'a> {
    topo: &'a Topology,
    scn: &'a Scenario,
    now: Time,
    queue: EventQueue<Ev>,
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
    budgets: Vec<Budget>,
    guards: Guards,
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
    events: u64,
    peer_events: u64,
    peak_in_flight: usize,
    /// Event-queue lane of each distinct call timeout, by duration.
    lanes: Vec<(u64, usize)>,
    guard: Guardrails,
    /// The counterfactual twin: the fault timeline is drawn (and measured
    /// against) but no fault acts.
    faults_off: bool,
}

impl<'a> Replication<'a> {
    pub fn new(topo: &'a Topology, scn: &'a Scenario, seed: u64, index: u64) -> Self {
        let nr = topo.regions.len();
        let mut replicas = Vec::new();
        let mut group_first = Vec::with_capacity(topo.services.len() * nr + 1);
        // Replicas a `scale` guardrail may add wait dormant in their group.
        let mut reserve = vec![0u32; topo.services.len()];
        for g in &scn.guardrails {
            if let Action::Scale { service, replicas, .. } = g.action {
                reserve[service.index()] += replicas;
            }
        }
        // Dormant replicas are outside their group until they wake: no
        // routing (panic mode included), ejection share or random kill sees
        // them, so a guardrail that never fires changes nothing.
        let mut group_active = Vec::with_capacity(topo.services.len() * nr);
        for (si, s) in topo.services.iter().enumerate() {
            for r in 0..nr {
                group_first.push(replicas.len() as u32);
                group_active.push(if s.present[r] { s.replicas } else { 0 });
                if s.present[r] {
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
                            ejections: 0,
                            consecutive_errors: 0,
                            tokens: s.rate_limit.as_ref().map(|r| r.burst).unwrap_or(0.0),
                            tokens_at: 0,
                            dormant,
                            activated_at: if dormant { Time::MAX } else { 0 },
                        });
                    }
                }
            }
        }
        group_first.push(replicas.len() as u32);
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
        // Timeouts of one duration come due in the order they are set: one
        // FIFO lane each, instead of the heap.
        let mut queue = EventQueue::new();
        let mut durations: Vec<u64> = topo
            .services
            .iter()
            .flat_map(|s| s.calls.iter().flat_map(|c| [c.timeout_ns, c.per_try_timeout_ns]))
            .flatten()
            .collect();
        durations.sort_unstable();
        durations.dedup();
        let lanes = durations.into_iter().map(|d| (d, queue.add_lane())).collect();
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
            now: 0,
            queue,
            lanes,
            rng,
            nr,
            rr: vec![0; group_first.len()],
            group_down,
            group_active,
            guard: Guardrails::new(scn, topo.services.len()),
            guards: Guards::new(topo, &group_first, nr),
            broker: Broker::new(topo),
            down_mask: vec![0; replicas.len()],
            replicas,
            group_first,
            calls: Slab::new(),
            tasks: Slab::new(),
            charges: Slab::new(),
            site_first,
            budgets: vec![Budget::default(); sites as usize],
            active: ActiveFaults::new(topo.services.len(), nr),
            killed: vec![Vec::new(); windows.len()],
            stalled: vec![Vec::new(); windows.len()],
            windows,
            flow_cum,
            rec,
            events: 0,
            peer_events: 0,
            peak_in_flight: 0,
            faults_off: false,
        }
    }

    /// Runs the replication to its end and returns what it measured.
    pub fn run(mut self, index: u64) -> ReplicationOutput {
        for (i, w) in self.windows.clone().iter().enumerate() {
            if w.start_ns < self.scn.duration_ns && !self.faults_off {
                self.queue.push(w.start_ns, Ev::FaultStart(i as u32));
                if let Some(end) = w.end_ns {
                    self.queue.push(end, Ev::FaultEnd(i as u32));
                }
            }
        }
        self.schedule_health_checks();
        self.schedule_guard_checks();
        for r in 0..self.nr {
            self.schedule_arrival(r as u16, 0);
        }
        let stop = self.scn.duration_ns + DRAIN_NS;
        while let Some((t, ev)) = self.queue.pop() {
            if t > stop {
                break;
            }
            self.now = t;
            self.events += 1;
            self.handle(ev);
        }
        self.finish_run();
        ReplicationOutput {
            index,
            recorder: self.rec,
            events: self.events,
            peer_events: self.peer_events,
            fault_windows: self.windows,
            peak_in_flight: self.peak_in_flight,
            guardrails: self.guard.outcomes(self.scn),
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
        }
    }

    /// Whether call `call` still waits for try `attempt` of epoch `epoch`.
    #[inline]
    fn awaits(&self, call: u32, epoch: u32, attempt: u16) -> bool {
        let c = &self.calls.slots[call as usize];
        c.live && c.epoch == epoch && c.waiting && c.attempt == attempt
    }

    // ------------------------------------------------------------ arrivals

    /// Arrival rate of a region at time t (base rate × active surges).
    fn rate_at(&self, region: usize, t: Time) -> f64 {
        let mut rate = self.scn.rate_per_s[region];
        for s in &self.scn.surges {
            if s.regions[region] && t >= s.start_ns && t < s.end_ns {
                rate *= s.multiplier;
            }
        }
        rate
    }

    /// The next time after t at which a region's rate may change.
    fn next_change(&self, t: Time) -> Time {
        let mut next = self.scn.duration_ns;
        for s in &self.scn.surges {
            for b in [s.start_ns, s.end_ns] {
                if b > t && b < next {
                    next = b;
                }
            }
        }
        next
    }

    /// Schedules a region's next Poisson arrival after `from`. A piecewise-
    /// constant rate is exact: an exponential gap that crosses a rate change
    /// is redrawn from the change (memorylessness).
    fn schedule_arrival(&mut self, region: u16, from: Time) {
        let mut t = from;
        loop {
            if t >= self.scn.duration_ns {
                return;
            }
            let rate = self.rate_at(region as usize, t);
            let change = self.next_change(t);
            if rate <= 0.0 {
                t = change;
                continue;
            }
            let gap: f64 = rand_distr::Distribution::sample(&rand_distr::Exp1, &mut self.rng.arrivals);
            let next = t as f64 + gap / rate * NS_PER_S;
            if next >= change as f64 {
                t = change;
                continue;
            }
            let next = next as Time;
            if next >= self.scn.duration_ns {
                return;
            }
            self.queue.push(next.max(from), Ev::Arrival { region });
            return;
        }
    }

    fn on_arrival(&mut self, region: u16) {
        self.peer_events += 1;
        let u: f64 = self.rng.arrivals.random();
        let flow = self
            .flow_cum
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.flow_cum.len() - 1);
        let f = &self.topo.flows[flow];
        let value = f
            .value
            .as_ref()
            .map(|d| d.sample(&mut self.rng.arrivals))
            .unwrap_or(0.0);
        let arrival = self.now;
        let counted = self.rec.counted(arrival);
        if counted {
            self.rec.flows[flow].requests += 1;
        }
        if !self.guard.shedding.is_empty() && self.shed(flow as u16) {
            // Shed at the door by a guardrail: the customer gets a fast 429.
            if counted {
                let end = RequestEnd {
                    outcome: Outcome::Failed,
                    value,
                    wrong: None,
                    touched: 0,
                };
                self.rec.request_done(flow as u16, arrival, Some(0), end);
                self.guard_observe(flow as u16, Outcome::Failed, Some(0), false);
            }
            self.schedule_arrival(region, self.now);
            return;
        }
        let call = self.new_call(
            Parent::Root {
                flow: flow as u16,
                arrival,
            },
            f.entry,
            region,
            NONE,
            NONE,
            None,
        );
        let c = &mut self.calls.slots[call as usize];
        c.value = value;
        c.flow = flow as u16;
        self.send_try(call);
        self.schedule_arrival(region, self.now);
    }

    // ------------------------------------------------------------ calls

    fn new_call(
        &mut self,
        parent: Parent,
        target: ServiceId,
        from_region: u16,
        site: u32,
        guard: u32,
        timeout: Option<u64>,
    ) -> u32 {
        let deadline = timeout.map(|t| self.now + t).unwrap_or(Time::MAX);
        let idx = self.calls.alloc();
        let c = &mut self.calls.slots[idx as usize];
        c.epoch = c.epoch.wrapping_add(1);
        c.live = true;
        c.waiting = false;
        c.attempt = 0;
        c.parent = parent;
        c.target = target;
        c.from_region = from_region;
        c.site = site;
        c.guard = guard;
        c.holds_permit = false;
        c.on_fallback = false;
        c.deadline = deadline;
        c.prev_sleep = 0;
        c.value = 0.0;
        c.flow = 0;
        c.charge = NONE;
        c.wrong_in = -1.0;
        c.touched = 0;
        let epoch = c.epoch;
        if let Some(t) = timeout {
            self.push_timeout(t, Ev::Timeout { call: idx, epoch });
        }
        let in_flight = self.calls.in_use() + self.tasks.in_use();
        if in_flight > self.peak_in_flight {
            self.peak_in_flight = in_flight;
        }
        idx
    }

    /// Schedules an event `after` ns from now in that duration's lane.
    #[inline]
    fn push_timeout(&mut self, after: u64, ev: Ev) {
        match self.lanes.iter().find(|(d, _)| *d == after) {
            Some(&(_, lane)) => self.queue.push_lane(lane, self.now + after, ev),
            None => self.queue.push(self.now + after, ev),
        }
    }

    fn free_call(&mut self, idx: u32) {
        let c = &mut self.calls.slots[idx as usize];
        c.live = false;
        c.waiting = false;
        c.epoch = c.epoch.wrapping_add(1);
        self.calls.free.push(idx);
    }

    /// One-way network latency between two regions, ns.
    #[inline]
    fn net(&mut self, from: usize, to: usize) -> u64 {
        match self.topo.latency[from * self.nr + to] {
            Some(Dist::Const(v)) => (v + 0.5) as u64,
            Some(ref d) => d.sample_ns(&mut self.rng.network),
            None => 0,
        }
    }

    /// The call's definition, for calls made from a call site.
    fn call_def(&self, site: u32) -> &'a Call {
        let topo = self.topo;
        let (caller, call_idx) = self.site_of(site);
        &topo.services[caller].calls[call_idx]
    }

    fn site_of(&self, site: u32) -> (usize, usize) {
        let caller = self.site_first.partition_point(|&f| f <= site) - 1;
        (caller, (site - self.site_first[caller]) as usize)
    }

    /// Sends the current try of a call: breaker, route, faults on the way, network.
    fn send_try(&mut self, idx: u32) {
        let (mut target, from, epoch, attempt, guard, site, flow) = {
            let c = &mut self.calls.slots[idx as usize];
            c.waiting = true;
            c.try_started = self.now;
            c.dest_group = NONE;
            (
                c.target,
                c.from_region as usize,
                c.epoch,
                c.attempt,
                c.guard,
                c.site,
                c.flow,
            )
        };
        // Guardrail actions in force: a kill switch sends the call to its
        // fallback; a failover sends it to another service.
        if self.guard.acting {
            if self.guard.switched[target.index()] && !self.calls.slots[idx as usize].on_fallback {
                self.calls.slots[idx as usize].waiting = false;
                self.call_failed(idx);
                return;
            }
            if let Some(to) = self.guard.redirect[target.index()] {
                target = ServiceId(to);
            }
        }
        let counted = self.rec.counted(self.now);
        if site != NONE && counted {
            self.rec.sites[site as usize].tries += 1;
        }
        if guard != NONE && !self.calls.slots[idx as usize].on_fallback && !self.breaker_permits(guard, site) {
            // An open breaker fails the call at once, straight to its fallback,
            // carrying the faults that opened it.
            if counted {
                self.rec.sites[site as usize].short_circuited += 1;
            }
            let cause = self.guards.breaker_cause(guard);
            self.calls.slots[idx as usize].touched |= cause;
            self.calls.slots[idx as usize].waiting = false;
            self.call_failed(idx);
            return;
        }
        let Some(rep) = self.route(target, from) else {
            // Nowhere to send it: fails at once (as a missing cluster in Envoy).
            self.on_reply(idx, Reply::fail(true));
            return;
        };
        let g = self.replicas[rep as usize].group as usize;
        let to = self.replicas[rep as usize].region as usize;
        {
            let c = &mut self.calls.slots[idx as usize];
            c.dest_group = g as u32;
            c.touched |= self.active.mask(g) | self.down_mask[rep as usize] | self.active.link_mask(from, to);
            if c.holds_permit && c.touched != 0 {
                let (guard, touched) = (c.guard, c.touched);
                self.guards.holder_met(guard, touched);
            }
        }
        if let Some(status) = self.active.abort(g, &self.scn.faults, &mut self.rng.faults) {
            if counted {
                let gs = &mut self.rec.groups[g];
                gs.requests += 1;
                gs.errors += 1;
            }
            self.on_reply(idx, Reply::fail(status >= 500));
            return;
        }
        if site != NONE
            && let Some(per_try) = self.call_def(site).per_try_timeout_ns
        {
            let deadline = self.calls.slots[idx as usize].deadline;
            let ev = Ev::TryTimeout {
                call: idx,
                epoch,
                attempt,
            };
            if self.now + per_try <= deadline {
                self.push_timeout(per_try, ev);
            } else {
                self.queue.push(deadline, ev);
            }
        }
        // Across a partition or a lossy link the try vanishes: the caller waits for its timeout.
        let Some(link_delay) = self.active.cross(from, to, &self.scn.faults, &mut self.rng.faults) else {
            return;
        };
        let charge = match self.calls.slots[idx as usize].charge {
            NONE => NONE,
            rec => {
                self.charges.slots[rec as usize].open_tries += 1;
                rec | (self.calls.slots[idx as usize].on_fallback as u32) << 31
            }
        };
        let delay = self.net(from, to) + link_delay + self.active.delay(g, &self.scn.faults, &mut self.rng.faults);
        if delay == 0 {
            // Nothing in between: delivered now, without a trip through the event queue.
            self.on_deliver(idx, epoch, attempt, flow, rep, charge);
        } else {
            let ev = Ev::Deliver {
                call: idx,
                epoch,
                attempt,
                flow,
                replica: rep,
                charge,
            };
            self.queue.push(self.now + delay, ev);
        }
    }

    /// A try's answer reached the caller.
    fn on_reply(&mut self, idx: u32, reply: Reply) {
        self.try_ended(idx, reply.outcome != Outcome::Failed);
        if reply.outcome == Outcome::Failed {
            if reply.retryable && self.try_retry(idx) {
                return;
            }
            if reply.caught {
                self.calls.slots[idx as usize].wrong_in = -2.0; // tells complete_call to clear
            }
            self.call_failed(idx);
            return;
        }
        self.complete_call(idx, reply.outcome, reply.wrong, reply.caught);
    }

    /// Bookkeeping when a try ends, whatever its fate: the breaker learns the
    /// outcome; the blast-radius phases see it; later answers to it are dropped.
    fn try_ended(&mut self, idx: u32, ok: bool) {
        let c = &mut self.calls.slots[idx as usize];
        c.waiting = false;
        let (guard, site, started, on_fallback, g, touched) =
            (c.guard, c.site, c.try_started, c.on_fallback, c.dest_group, c.touched);
        let took = self.now - started;
        if guard != NONE && !on_fallback {
            self.breaker_record(guard, site, ok, took, touched);
        }
        if g != NONE {
            self.rec.try_seen(g as usize, started, took, ok);
        }
    }

    /// Schedules another try if the policy, the deadline and the budget allow.
    fn try_retry(&mut self, idx: u32) -> bool {
        let c = self.calls.slots[idx as usize].clone();
        if c.site == NONE || c.on_fallback {
            return false;
        }
        let call = self.call_def(c.site);
        let Some(retry) = &call.retry else {
            return false;
        };
        if c.attempt as u32 + 1 >= retry.attempts {
            return false;
        }
        let k = c.attempt as u32 + 1; // number of this retry
        let base = retry
            .backoff_ns
            .saturating_mul(1u64 << (k - 1).min(40))
            .min(retry.max_backoff_ns);
        let u: f64 = self.rng.resilience.random();
        let sleep = match retry.jitter {
            Jitter::None => base,
            Jitter::Full => (u * base as f64) as u64,
            Jitter::Equal => base / 2 + (u * (base / 2) as f64) as u64,
            Jitter::Decorrelated => {
                let prev = c.prev_sleep.max(retry.backoff_ns);
                let hi = prev.saturating_mul(3).max(retry.backoff_ns);
                let lo = retry.backoff_ns as f64;
                ((lo + u * (hi as f64 - lo)) as u64).min(retry.max_backoff_ns)
            }
        };
        // A retry the deadline forbids is never sent, so it asks nothing of
        // the budget: the deadline is checked first.
        if self.now + sleep >= c.deadline {
            return false;
        }
        let counted = self.rec.counted(self.now);
        if let Some(budget) = retry.budget {
            let b = self.budget_at(c.site as usize);
            // Finagle-style budget: retries in the window stay within budget × first tries.
            if (b.retries + b.prev_retries + 1) as f64 > budget * (b.first + b.prev_first) as f64 {
                if counted {
                    self.rec.sites[c.site as usize].budget_denied += 1;
                }
                return false;
            }
            self.budgets[c.site as usize].retries += 1;
        }
        if counted {
            self.rec.sites[c.site as usize].retries += 1;
        }
        self.calls.slots[idx as usize].prev_sleep = sleep;
        self.queue.push(
            self.now + sleep,
            Ev::Retry {
                call: idx,
                epoch: c.epoch,
            },
        );
        true
    }

    /// The budget counters of a site, rolled forward to now.
    fn budget_at(&mut self, site: usize) -> Budget {
        let now = self.now;
        let b = &mut self.budgets[site];
        if now >= b.window_start + BUDGET_WINDOW_NS {
            let skipped = (now - b.window_start) / BUDGET_WINDOW_NS;
            if skipped == 1 {
                b.prev_first = b.first;
                b.prev_retries = b.retries;
            } else {
                b.prev_first = 0;
                b.prev_retries = 0;
            }
            b.first = 0;
            b.retries = 0;
            b.window_start += skipped * BUDGET_WINDOW_NS;
        }
        b.clone()
    }

    /// The caller's deadline passed: it gives up (the callee keeps working).
    fn on_timeout(&mut self, idx: u32) {
        if self.calls.slots[idx as usize].waiting {
            let g = self.calls.slots[idx as usize].dest_group as usize;
            if self.rec.counted(self.now) {
                self.rec.groups[g].timeouts += 1;
            }
            self.try_ended(idx, false);
        }
        let c = &mut self.calls.slots[idx as usize];
        c.attempt = c.attempt.wrapping_add(1);
        c.deadline = self.now;
        self.call_failed(idx);
    }

    /// The try's own timeout passed: that try failed; another may follow.
    fn on_try_timeout(&mut self, idx: u32) {
        let g = self.calls.slots[idx as usize].dest_group as usize;
        if self.rec.counted(self.now) {
            self.rec.groups[g].timeouts += 1;
        }
        self.try_ended(idx, false);
        if self.try_retry(idx) {
            // The late answer of this try is dropped: the next try has a new attempt number.
            return;
        }
        let c = &mut self.calls.slots[idx as usize];
        c.attempt = c.attempt.wrapping_add(1);
        self.call_failed(idx);
    }

    /// Every try failed: run the fallback, or fail the call.
    fn call_failed(&mut self, idx: u32) {
        let c = &self.calls.slots[idx as usize];
        let caught = c.wrong_in == -2.0;
        let fallback = if c.site == NONE || c.on_fallback {
            None
        } else {
            let call = self.call_def(c.site);
            call.fallback.map(|f| (f, call.timeout_ns))
        };
        if fallback.is_some() && self.rec.counted(self.now) {
            self.rec.sites[c.site as usize].fallbacks += 1;
        }
        match fallback {
            Some((Fallback::Degrade, _)) => self.complete_call(idx, Outcome::Degraded, -1.0, caught),
            Some((Fallback::Service(f), timeout)) => {
                // The fallback is a fresh call (own deadline) on the same slot.
                let c = &mut self.calls.slots[idx as usize];
                c.epoch = c.epoch.wrapping_add(1);
                c.on_fallback = true;
                c.target = f;
                c.attempt = 0;
                c.deadline = timeout.map(|t| self.now + t).unwrap_or(Time::MAX);
                let epoch = c.epoch;
                if let Some(t) = timeout {
                    self.push_timeout(t, Ev::Timeout { call: idx, epoch });
                }
                self.send_try(idx);
            }
            None => self.complete_call(idx, Outcome::Failed, -1.0, caught),
        }
    }

    /// A logical call ended: tell its parent (task, customer or queue).
    /// `wrong`: an uncaught wrong output the answer carries (< 0: none);
    /// `caught`: a validating callee caught the caller's wrong output.
    fn complete_call(&mut self, idx: u32, mut outcome: Outcome, wrong: f32, caught: bool) {
        let c = &self.calls.slots[idx as usize];
        if c.on_fallback && outcome == Outcome::Succeeded {
            outcome = Outcome::Degraded;
        }
        let (parent, site, guard, holds_permit, charge, value, touched) =
            (c.parent, c.site, c.guard, c.holds_permit, c.charge, c.value, c.touched);
        self.free_call(idx);
        if holds_permit {
            self.guards.release(guard);
        }
        if charge != NONE {
            self.charges.slots[charge as usize].call_done = true;
            self.settle_charge(charge);
        }
        if site != NONE && outcome == Outcome::Failed && self.rec.counted(self.now) {
            self.rec.sites[site as usize].failed += 1;
        }
        match parent {
            Parent::Root { flow, arrival } => {
                if self.rec.counted(arrival) {
                    let wrong = (wrong >= 0.0).then_some(wrong as f64);
                    let end = RequestEnd {
                        outcome,
                        value,
                        wrong,
                        touched,
                    };
                    self.rec.request_done(flow, arrival, Some(self.now - arrival), end);
                    self.guard_observe(flow, outcome, Some(self.now - arrival), wrong.is_some());
                }
            }
            Parent::Message { queue, msg } => self.message_done(queue, msg, outcome != Outcome::Failed),
            Parent::Task { idx: t, epoch } => {
                let required = self.call_def(site).required;
                let task = &mut self.tasks.slots[t as usize];
                if !task.live || task.epoch != epoch {
                    return; // the task died with its replica
                }
                task.touched |= touched;
                if caught {
                    task.wrong = -1.0;
                }
                if outcome != Outcome::Failed && wrong > task.wrong {
                    task.wrong = wrong;
                }
                match outcome {
                    Outcome::Succeeded => {}
                    Outcome::Degraded => task.degraded = true,
                    Outcome::Failed if required => task.failed = true,
                    Outcome::Failed => task.degraded = true,
                }
                task.pending -= 1;
                if task.pending == 0 {
                    if task.failed {
                        self.finish_task(t, false);
                    } else {
                        task.stage += 1;
                        self.advance(t);
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------ duplicate charges

    /// A charging call's try ended at the callee (`charged`: it succeeded there).
    fn charge_try_ended(&mut self, tag: u32, charged: bool) {
        if tag == NONE {
            return;
        }
        let rec = tag & !(1 << 31);
        let r = &mut self.charges.slots[rec as usize];
        r.open_tries -= 1;
        r.charged[(tag >> 31) as usize] += charged as u32;
        self.settle_charge(rec);
    }

    /// Once the call and all its tries are over, counts repeated charges.
    fn settle_charge(&mut self, charge: u32) {
        let r = &self.charges.slots[charge as usize];
        if !r.call_done || r.open_tries > 0 {
            return;
        }
        let all = (r.charged[0] + r.charged[1]) as u64;
        // With idempotency keys each provider charges at most once.
        let effective = if r.idempotent {
            (r.charged[0].min(1) + r.charged[1].min(1)) as u64
        } else {
            all
        };
        let (site, value) = (r.site as usize, r.value);
        self.charges.free.push(charge);
        if all > 0 && self.rec.counted(self.now) {
            let s = &mut self.rec.sites[site];
            s.duplicates_prevented += all - effective;
            let extra = effective - 1;
            s.duplicate_charges += extra;
            s.duplicate_charge_cents += extra * crate::observe::cents(value);
        }
    }

    // ------------------------------------------------------------ stations

    /// A try reached a replica.
    fn on_deliver(&mut self, call: u32, epoch: u32, attempt: u16, flow: u16, replica: u32, charge: u32) {
        let counted = self.rec.counted(self.now);
        let g = self.replicas[replica as usize].group as usize;
        if counted {
            self.rec.groups[g].requests += 1;
        }
        if self.active.blackholed(g) {
            // Black-holed: it takes the request and never answers.
            self.charge_try_ended(charge, false);
            return;
        }
        let from = self.calls.slots[call as usize].from_region as usize;
        if !self.replicas[replica as usize].alive {
            if counted {
                self.rec.groups[g].errors += 1;
            }
            // It died while the try was on its way: the try met the kill.
            if self.awaits(call, epoch, attempt) {
                self.calls.slots[call as usize].touched |= self.down_mask[replica as usize];
            }
            self.charge_try_ended(charge, false);
            self.replica_answered(replica, false);
            self.respond(call, epoch, attempt, from, replica, Reply::fail(true));
            return;
        }
        if !self.admit(replica) {
            if counted {
                let gs = &mut self.rec.groups[g];
                gs.rejected += 1;
                gs.rate_limited += 1;
                gs.errors += 1;
            }
            self.charge_try_ended(charge, false);
            self.respond(call, epoch, attempt, from, replica, Reply::fail(false));
            return;
        }
        let r = &self.replicas[replica as usize];
        let has_server = r.busy < r.servers;
        if !has_server && r.queue.len() as u32 >= r.queue_cap {
            if counted {
                let gs = &mut self.rec.groups[g];
                gs.rejected += 1;
                gs.errors += 1;
            }
            self.charge_try_ended(charge, false);
            self.replica_answered(replica, false);
            self.respond(call, epoch, attempt, from, replica, Reply::fail(true));
            return;
        }
        let (value, wrong_in) = {
            let c = &self.calls.slots[call as usize];
            if c.epoch == epoch {
                (c.value, c.wrong_in)
            } else {
                (0.0, -1.0)
            }
        };
        let validates = self.topo.services[g / self.nr].validates.is_some();
        let t = self.new_task(replica, call, epoch, attempt, flow);
        let task = &mut self.tasks.slots[t as usize];
        task.value = value;
        task.charge = charge;
        task.checking = if validates { wrong_in } else { -1.0 };
        if has_server {
            self.start_task(t);
        } else {
            self.replicas[replica as usize].queue.push_back(t);
        }
    }

    /// The replica's token bucket (rate limit) admits one more request.
    fn admit(&mut self, replica: u32) -> bool {
        let g = self.replicas[replica as usize].group as usize;
        let Some(limit) = &self.topo.services[g / self.nr].rate_limit else {
            return true;
        };
        let r = &mut self.replicas[replica as usize];
        let elapsed_s = (self.now - r.tokens_at) as f64 / NS_PER_S;
        r.tokens = (r.tokens + elapsed_s * limit.per_s).min(limit.burst);
        r.tokens_at = self.now;
        if r.tokens >= 1.0 {
            r.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn new_task(&mut self, replica: u32, call: u32, call_epoch: u32, attempt: u16, flow: u16) -> u32 {
        let idx = self.tasks.alloc();
        let now = self.now;
        let t = &mut self.tasks.slots[idx as usize];
        t.epoch = t.epoch.wrapping_add(1);
        t.live = true;
        t.replica = replica;
        t.call = call;
        t.call_epoch = call_epoch;
        t.attempt = attempt;
        t.flow = flow;
        t.stage = 0;
        t.pending = 0;
        t.failed = false;
        t.degraded = false;
        t.arrival = now;
        t.value = 0.0;
        t.charge = NONE;
        t.wrong = -1.0;
        t.checking = -1.0;
        t.touched = 0;
        idx
    }

    fn free_task(&mut self, idx: u32) {
        let t = &mut self.tasks.slots[idx as usize];
        t.live = false;
        t.epoch = t.epoch.wrapping_add(1);
        self.tasks.free.push(idx);
    }

    /// Accumulates a replica's busy-server time up to now (within the counted horizon).
    fn touch(&mut self, replica: u32) {
        let (warmup, end) = (self.rec.warmup_ns, self.rec.end_ns);
        let now = self.now.min(end);
        let r = &mut self.replicas[replica as usize];
        let from = r.busy_since.max(warmup);
        if now > from {
            r.busy_ns += r.busy as u128 * (now - from) as u128;
        }
        r.busy_since = now.max(r.busy_since);
    }

    /// A task takes a server and starts its own work.
    fn start_task(&mut self, t: u32) {
        let (replica, arrival, epoch) = {
            let task = &self.tasks.slots[t as usize];
            (task.replica, task.arrival, task.epoch)
        };
        self.touch(replica);
        let g = {
            let r = &mut self.replicas[replica as usize];
            r.busy += 1;
            r.group as usize
        };
        if self.rec.counted(arrival) {
            self.rec.groups[g].queue_wait.record(self.now - arrival);
        }
        let svc = &self.topo.services[g / self.nr];
        let mut work = svc.service_time.sample_ns(&mut self.rng.service);
        let factor = self.active.slow_factor(g);
        if factor != 1.0 {
            work = (work as f64 * factor) as u64;
        }
        self.queue.push(self.now + work, Ev::ServiceDone { task: t, epoch });
    }

    fn on_service_done(&mut self, t: u32) {
        let g = self.replicas[self.tasks.slots[t as usize].replica as usize].group as usize;
        let svc = &self.topo.services[g / self.nr];
        if svc.error_rate > 0.0 && self.rng.service.random::<f64>() < svc.error_rate {
            self.finish_task(t, false);
            return;
        }
        self.advance(t);
    }

    /// Starts the task's next stage with calls, or finishes it when none is left.
    fn advance(&mut self, t: u32) {
        let (replica, flow, task_epoch, value) = {
            let task = &self.tasks.slots[t as usize];
            (task.replica, task.flow as usize, task.epoch, task.value)
        };
        let g = self.replicas[replica as usize].group as usize;
        let s = g / self.nr;
        let region = (g % self.nr) as u16;
        let topo = self.topo;
        let svc = &topo.services[s];
        let plan = &svc.plan[flow.min(svc.plan.len() - 1)];
        loop {
            let stage = self.tasks.slots[t as usize].stage as usize;
            if stage >= plan.len() {
                self.finish_task(t, true);
                return;
            }
            // A guard token keeps the stage open while its calls are issued:
            // a call may complete at once (refused, aborted, zero latency).
            self.tasks.slots[t as usize].pending = 1;
            for &ci in &plan[stage] {
                let call = &svc.calls[ci as usize];
                if call.p < 1.0 && self.rng.routing.random::<f64>() >= call.p {
                    continue;
                }
                let site = self.site_first[s] + ci as u32;
                if self.rec.counted(self.now) {
                    self.rec.sites[site as usize].calls += 1;
                }
                let parent = Parent::Task {
                    idx: t,
                    epoch: task_epoch,
                };
                match call.to {
                    CallTarget::Service(target) => {
                        if call.retry.as_ref().is_some_and(|r| r.budget.is_some()) {
                            self.budget_at(site as usize);
                            self.budgets[site as usize].first += 1;
                        }
                        let guard = self.guards.index(site, replica);
                        let c = self.new_call(parent, target, region, site, guard, call.timeout_ns);
                        {
                            let wrong = self.tasks.slots[t as usize].wrong;
                            let cs = &mut self.calls.slots[c as usize];
                            cs.value = value;
                            cs.flow = flow as u16;
                            cs.wrong_in = wrong;
                        }
                        self.tasks.slots[t as usize].pending += 1;
                        if let Some(max) = call.max_in_flight
                            && !self.guards.acquire(guard, max)
                        {
                            // The bulkhead is full: the call fails at once, to its
                            // fallback, carrying the faults its holders met.
                            if self.rec.counted(self.now) {
                                self.rec.sites[site as usize].bulkhead_rejected += 1;
                            }
                            self.calls.slots[c as usize].touched |= self.guards.bulkhead_cause(guard);
                            self.call_failed(c);
                            continue;
                        }
                        self.calls.slots[c as usize].holds_permit = call.max_in_flight.is_some();
                        if let Some(idempotent) = call.idempotency {
                            let rec = self.charges.alloc();
                            self.charges.slots[rec as usize] = ChargeRecord {
                                open_tries: 0,
                                charged: [0; 2],
                                call_done: false,
                                site,
                                idempotent,
                                value,
                            };
                            self.calls.slots[c as usize].charge = rec;
                        }
                        self.send_try(c);
                    }
                    CallTarget::Queue(q) => {
                        let c = self.new_call(parent, ServiceId(0), region, site, NONE, None);
                        self.tasks.slots[t as usize].pending += 1;
                        self.publish(c, q, region as usize, flow as u16);
                    }
                }
            }
            let task = &mut self.tasks.slots[t as usize];
            task.pending -= 1;
            if task.pending > 0 {
                return;
            }
            if task.failed {
                self.finish_task(t, false);
                return;
            }
            task.stage += 1;
        }
    }

    /// A task answers: frees its server, records its figures, responds.
    fn finish_task(&mut self, t: u32, ok: bool) {
        let task = self.tasks.slots[t as usize].clone();
        let replica = task.replica;
        self.touch(replica);
        let g = {
            let r = &mut self.replicas[replica as usize];
            r.busy -= 1;
            r.group as usize
        };
        let counted = self.rec.counted(task.arrival);
        if counted {
            let gs = &mut self.rec.groups[g];
            gs.latency.record(self.now - task.arrival);
            if !ok {
                gs.errors += 1;
            }
        }
        let mut reply = if ok {
            Reply {
                outcome: if task.degraded {
                    Outcome::Degraded
                } else {
                    Outcome::Succeeded
                },
                ..Reply::OK
            }
        } else {
            Reply::fail(true)
        };
        if ok {
            let svc = &self.topo.services[g / self.nr];
            // A validating service checks the wrong output it was handed.
            if task.checking >= 0.0
                && let Some(v) = &svc.validates
                && self.rng.service.random::<f64>() < v.catches
            {
                if counted {
                    self.rec.wrong_caught += 1;
                }
                reply.caught = true;
                if v.on_catch == OnCatch::Fail {
                    reply.outcome = Outcome::Failed;
                    reply.retryable = false;
                } else {
                    reply.outcome = Outcome::Degraded;
                }
            }
            // Its own output may be wrong (AI quality, or a drift fault while it lasts).
            let drift = if self.active.touches(g) {
                self.active.drift(g, &self.scn.faults)
            } else {
                None
            };
            let quality = match drift {
                Some((rate, discount)) => Some((
                    rate,
                    discount.unwrap_or_else(|| svc.quality.as_ref().map(|q| q.discount).unwrap_or(0.0)),
                )),
                None => svc.quality.as_ref().map(|q| (q.wrong_rate, q.discount)),
            };
            reply.wrong = task.wrong;
            if let Some((rate, discount)) = quality
                && rate > 0.0
                && self.rng.service.random::<f64>() < rate
            {
                reply.wrong = reply.wrong.max(discount as f32);
            }
        }
        // The faults this task met, plus any active on its own group, travel up.
        let touched = task.touched | self.active.mask(g);
        if self.awaits(task.call, task.call_epoch, task.attempt) {
            self.calls.slots[task.call as usize].touched |= touched;
        }
        let from = self.calls.slots[task.call as usize].from_region as usize;
        // Free the server (and hand it to the next in line) before answering:
        // the answer may be handled at once, re-entering the mesh.
        self.free_task(t);
        self.start_next(replica);
        self.charge_try_ended(task.charge, ok);
        self.replica_answered(replica, ok);
        self.respond(task.call, task.call_epoch, task.attempt, from, replica, reply);
    }

    /// Gives a freed server to the next waiting request, dropping those that
    /// waited past the service's `queue_timeout_ms`.
    fn start_next(&mut self, replica: u32) {
        let g = self.replicas[replica as usize].group as usize;
        let timeout = self.topo.services[g / self.nr].queue_timeout_ns;
        while let Some(next) = self.replicas[replica as usize].queue.pop_front() {
            let task = &self.tasks.slots[next as usize];
            match timeout {
                Some(limit) if self.now - task.arrival > limit => {
                    let task = task.clone();
                    if self.rec.counted(task.arrival) {
                        let gs = &mut self.rec.groups[g];
                        gs.expired += 1;
                        gs.errors += 1;
                        gs.latency.record(self.now - task.arrival);
                    }
                    let from = self.calls.slots[task.call as usize].from_region as usize;
                    self.free_task(next);
                    self.charge_try_ended(task.charge, false);
                    self.respond(
                        task.call,
                        task.call_epoch,
                        task.attempt,
                        from,
                        replica,
                        Reply::fail(true),
                    );
                }
                _ => {
                    self.start_task(next);
                    return;
                }
            }
        }
    }

    /// Sends an answer from `replica` back over the network, unless the
    /// caller stopped waiting or a fault loses it on the way.
    fn respond(&mut self, call: u32, epoch: u32, attempt: u16, caller_region: usize, replica: u32, reply: Reply) {
        if !self.awaits(call, epoch, attempt) {
            return;
        }
        let (g, region) = {
            let r = &self.replicas[replica as usize];
            (r.group as usize, r.region as usize)
        };
        if self.active.touches(g) && self.active.answer_lost(g, &self.scn.faults, &mut self.rng.faults) {
            return;
        }
        let Some(link_delay) = self
            .active
            .cross(region, caller_region, &self.scn.faults, &mut self.rng.faults)
        else {
            return;
        };
        let back = self.net(region, caller_region) + link_delay;
        if back == 0 {
            self.on_reply(call, reply);
        } else {
            self.queue.push(
                self.now + back,
                Ev::Response {
                    call,
                    epoch,
                    attempt,
                    reply,
                },
            );
        }
    }

    // ------------------------------------------------------------ faults

    fn fault_start(&mut self, w: u32) {
        let window = self.windows[w as usize];
        let i = window.fault as usize;
        let f = &self.scn.faults[i];
        let bit = 1u64 << i.min(63);
        match f.effect {
            FaultEffect::Kill { count } => {
                let groups = self.active.groups_of(f);
                if f.random.is_some() {
                    // A random kill takes down one replica: the window's unit.
                    let mut k = window.unit;
                    for g in groups {
                        let n = self.group_len(g);
                        if k < n {
                            let r = self.group_first[g] + k;
                            if self.replicas[r as usize].alive {
                                self.kill_replica(r, bit);
                                self.killed[w as usize].push(r);
                            }
                            break;
                        }
                        k -= n;
                    }
                    return;
                }
                for g in groups {
                    let mut alive: Vec<u32> = self
                        .group_range(g)
                        .filter(|&r| self.replicas[r as usize].alive)
                        .collect();
                    let total = self.group_len(g);
                    let n = match count {
                        KillCount::Replicas(n) => n,
                        KillCount::Percent(p) => ((p / 100.0) * total as f64).ceil() as u32,
                    }
                    .min(alive.len() as u32) as usize;
                    // Which replicas die is drawn from the fault stream (partial Fisher–Yates).
                    for k in 0..n {
                        let j = self.rng.faults.random_range(k..alive.len());
                        alive.swap(k, j);
                    }
                    for &r in &alive[..n] {
                        self.kill_replica(r, bit);
                        self.killed[w as usize].push(r);
                    }
                }
            }
            FaultEffect::RegionOutage => {
                for r in 0..self.nr {
                    if !f.regions[r] {
                        continue;
                    }
                    for s in 0..self.topo.services.len() {
                        let g = s * self.nr + r;
                        for rep in self.group_range(g) {
                            if self.replicas[rep as usize].alive {
                                self.kill_replica(rep, bit);
                                self.killed[w as usize].push(rep);
                            }
                        }
                    }
                    for q in 0..self.topo.queues.len() {
                        if self.topo.queues[q].present[r] {
                            let qr = q * self.nr + r;
                            self.set_stalled(qr, true);
                            self.stalled[w as usize].push(qr);
                        }
                    }
                }
            }
            FaultEffect::QueueStall => {
                if let Some(q) = f.queue {
                    for r in 0..self.nr {
                        if f.regions[r] && self.topo.queues[q.index()].present[r] {
                            let qr = q.index() * self.nr + r;
                            self.set_stalled(qr, true);
                            self.stalled[w as usize].push(qr);
                        }
                    }
                }
            }
            _ => self.active.activate(i as u16, &self.scn.faults),
        }
    }

    fn fault_end(&mut self, w: u32) {
        let i = self.windows[w as usize].fault as usize;
        match self.scn.faults[i].effect {
            FaultEffect::Kill { .. } | FaultEffect::RegionOutage | FaultEffect::QueueStall => {
                for r in std::mem::take(&mut self.killed[w as usize]) {
                    self.touch(r);
                    self.replicas[r as usize].alive = true;
                    self.down_mask[r as usize] = 0;
                }
                for qr in std::mem::take(&mut self.stalled[w as usize]) {
                    self.set_stalled(qr, false);
                }
            }
            _ => self.active.deactivate(i as u16, &self.scn.faults),
        }
    }

    /// The next dormant replica of group g comes up (a `scale` guardrail's
    /// new capacity): it joins the group's replicas in service. Returns
    /// whether there was one.
    fn wake(&mut self, g: usize) -> bool {
        let r = self.group_first[g] + self.group_active[g];
        if r >= self.group_first[g + 1] {
            return false;
        }
        self.group_active[g] += 1;
        let now = self.now;
        let rep = &mut self.replicas[r as usize];
        rep.dormant = false;
        rep.alive = true;
        rep.believed = true;
        rep.hc_fails = 0;
        rep.activated_at = now;
        rep.busy_since = now;
        self.start_health_checks(r, now);
        true
    }

    /// A replica dies by fault `bit`: its queued and in-service requests
    /// fail at once (connection reset) and carry the fault; it refuses new
    /// ones until restarted.
    fn kill_replica(&mut self, r: u32, bit: u64) {
        if !self.replicas[r as usize].alive {
            return;
        }
        self.down_mask[r as usize] |= bit;
        self.touch(r);
        self.replicas[r as usize].alive = false;
        self.replicas[r as usize].queue.clear();
        let g = self.replicas[r as usize].group as usize;
        for t in 0..self.tasks.slots.len() as u32 {
            let task = &self.tasks.slots[t as usize];
            if !(task.live && task.replica == r) {
                continue;
            }
            let task = task.clone();
            if self.rec.counted(task.arrival) {
                let gs = &mut self.rec.groups[g];
                gs.errors += 1;
                gs.latency.record(self.now - task.arrival);
            }
            let from = self.calls.slots[task.call as usize].from_region as usize;
            if self.awaits(task.call, task.call_epoch, task.attempt) {
                self.calls.slots[task.call as usize].touched |= bit;
            }
            self.free_task(t);
            self.charge_try_ended(task.charge, false);
            self.respond(task.call, task.call_epoch, task.attempt, from, r, Reply::fail(true));
        }
        self.replicas[r as usize].busy = 0;
    }

    // ------------------------------------------------------------ end

    /// Closes the books: busy time up to the end, open requests as failed.
    fn finish_run(&mut self) {
        self.now = self.now.max(self.scn.duration_ns);
        for r in 0..self.replicas.len() as u32 {
            self.touch(r);
            let rep = &self.replicas[r as usize];
            let gs = &mut self.rec.groups[rep.group as usize];
            gs.busy_ns += rep.busy_ns;
            let since = rep.activated_at.max(self.rec.warmup_ns).min(self.rec.end_ns);
            gs.capacity_ns += rep.servers as u128 * (self.rec.end_ns - since) as u128;
        }
        self.guards.close(self.now, &mut self.rec);
        self.broker.close(self.now, &mut self.rec);
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
