//! Telemetry hooks: what the replication tells its tracer and its series
//! as requests move (see [`crate::observe::telemetry`] for the data).
//!
//! Off by default: every hook starts with one branch on `self.tel`, which
//! is `None` unless the replication was started by [`run_with_telemetry`],
//! and the event loop compares the clock with `tel_next_scrape`, which is
//! `Time::MAX` then. Telemetry draws no random number and schedules no
//! event, so a replication measures exactly the same with it on or off.
//!
//! Side tables indexed like the call and task slabs hold each call's and
//! task's trace, span and the cause of its last answer; they are reset when
//! a slot is (re)used. A try whose caller stopped waiting while it was on
//! its way is kept in `orphans` until it lands, so the work it starts at
//! the callee still joins its trace.

use std::collections::BTreeMap;

use super::*;
use crate::observe::telemetry::*;

/// The telemetry of one call slot.
#[derive(Clone, Copy, Debug)]
pub(super) struct CallTel {
    trace: u32,
    /// The current try's span (for a root call: the root span).
    span: u32,
    /// The caller's server span.
    parent: u32,
    /// How the current try ended, as far as the callee said.
    cause: Cause,
    /// Whether the caller's proxy reports this call (not for queue deliveries).
    report: bool,
    src: (u32, u16),
    /// The current try's destination (service, region).
    dst: (u32, u16),
    sent: (u32, u16),
    /// The current try is on its way to a replica.
    transit: bool,
    /// The current try started in the counted horizon.
    counted: bool,
    publish: bool,
}

impl Default for CallTel {
    fn default() -> Self {
        CallTel {
            trace: NONE,
            span: NO_SPAN,
            parent: NO_SPAN,
            cause: Cause::Ok,
            report: false,
            src: (UNKNOWN, 0),
            dst: (UNKNOWN, 0),
            sent: (0, 0),
            transit: false,
            counted: false,
            publish: false,
        }
    }
}

/// The telemetry of one task slot (a request at a replica).
#[derive(Clone, Copy, Debug)]
pub(super) struct TaskTel {
    trace: u32,
    span: u32,
    started: bool,
    src: (u32, u16),
}

impl Default for TaskTel {
    fn default() -> Self {
        TaskTel {
            trace: NONE,
            span: NO_SPAN,
            started: false,
            src: (UNKNOWN, 0),
        }
    }
}

/// Where a delivered try came from, until the replica decides what to do with it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Delivered {
    call: u32,
    awaited: bool,
    trace: u32,
    parent: u32,
    src: (u32, u16),
    /// The try's trace held one open count for it while it was an orphan.
    orphan: bool,
}

/// A replication's tracer and series, and the sink they go to.
pub struct Telemetry<'s> {
    sink: &'s mut dyn TelemetrySink,
    opts: TelemetryOptions,
    id_base: u64,
    requests: u64,
    spans_made: u64,
    traces: Vec<Trace>,
    live: Vec<bool>,
    free: Vec<u32>,
    calls: Vec<CallTel>,
    tasks: Vec<TaskTel>,
    orphans: BTreeMap<(u32, u32, u16), (u32, u32)>,
    delivered: Option<Delivered>,
    series: Series,
}

impl<'s> Telemetry<'s> {
    pub fn new(sink: &'s mut dyn TelemetrySink, opts: TelemetryOptions, seed: u64, index: u64) -> Self {
        Telemetry {
            sink,
            opts,
            id_base: mix(seed ^ mix(index ^ 0x7472_6163_6573)),
            requests: 0,
            spans_made: 0,
            traces: Vec::new(),
            live: Vec::new(),
            free: Vec::new(),
            calls: Vec::new(),
            tasks: Vec::new(),
            orphans: BTreeMap::new(),
            delivered: None,
            series: Series::default(),
        }
    }

    fn call(&mut self, idx: u32) -> &mut CallTel {
        let i = idx as usize;
        if i >= self.calls.len() {
            self.calls.resize(i + 1, CallTel::default());
        }
        &mut self.calls[i]
    }

    fn task(&mut self, idx: u32) -> &mut TaskTel {
        let i = idx as usize;
        if i >= self.tasks.len() {
            self.tasks.resize(i + 1, TaskTel::default());
        }
        &mut self.tasks[i]
    }

    /// A new trace with the sampling draw `draw` (< 0: always kept).
    fn new_trace(&mut self, id: u128, draw: f64) -> u32 {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.traces.push(Trace::default());
                self.live.push(false);
                (self.traces.len() - 1) as u32
            }
        };
        let t = &mut self.traces[i as usize];
        t.id = id;
        t.spans.clear();
        t.events.clear();
        t.open = 0;
        t.root_done = false;
        t.draw = draw;
        self.live[i as usize] = true;
        i
    }

    /// The next customer request's trace id and sampling draw.
    fn request_id(&mut self) -> (u128, f64) {
        self.requests += 1;
        let lo = mix(self.id_base.wrapping_add(self.requests)) | 1;
        let hi = mix(self.id_base ^ 0x5eed);
        (((hi as u128) << 64) | lo as u128, unit(mix(lo ^ 0xd4a3)))
    }

    fn open_span(&mut self, tr: u32, parent: u32, kind: SpanKind, what: SpanWhat, place: Place, start: Time) -> u32 {
        self.spans_made += 1;
        let id = match mix(self.id_base.wrapping_add(self.spans_made << 20)) {
            0 => 1,
            x => x,
        };
        let t = &mut self.traces[tr as usize];
        t.spans.push(Span {
            id,
            parent,
            kind,
            what,
            place,
            start_ns: start,
            end_ns: start,
            open: true,
            cause: Cause::Ok,
            degraded: false,
            delayed: false,
            faults: 0,
        });
        t.open += 1;
        (t.spans.len() - 1) as u32
    }

    fn close_span(&mut self, tr: u32, span: u32, end: Time, cause: Cause, degraded: bool) {
        let t = &mut self.traces[tr as usize];
        let s = &mut t.spans[span as usize];
        if !s.open {
            return;
        }
        s.open = false;
        s.end_ns = end.max(s.start_ns);
        s.cause = cause;
        s.degraded = degraded;
        t.open -= 1;
        self.maybe_flush(tr);
    }

    fn event(&mut self, tr: u32, span: u32, time: Time, what: EventWhat) {
        self.traces[tr as usize].events.push(SpanEvent {
            span,
            time_ns: time,
            what,
        });
    }

    /// Adds an event for each fault of `mask` not yet on the span.
    fn faults(&mut self, tr: u32, span: u32, time: Time, mask: u64) {
        let s = &mut self.traces[tr as usize].spans[span as usize];
        let new = mask & !s.faults;
        s.faults |= mask;
        for i in 0..64 {
            if new >> i & 1 == 1 {
                self.event(tr, span, time, EventWhat::Fault(i as u16));
            }
        }
    }

    /// Hands a trace that is over to the sink (if sampling keeps it) and recycles it.
    fn maybe_flush(&mut self, tr: u32) {
        let t = &self.traces[tr as usize];
        if !(t.root_done && t.open == 0) {
            return;
        }
        let keep = t.draw < self.opts.sample || (t.troubled() && t.draw < self.opts.sample_troubled);
        if keep {
            self.sink.trace(t);
        }
        self.live[tr as usize] = false;
        self.free.push(tr);
    }

    fn edge(&mut self, key: EdgeKey, duration_ns: u64) {
        if self.opts.metrics {
            self.series.edges.entry(key).or_default().record(duration_ns);
        }
    }

    /// A control-plane trace of one span (always kept).
    fn control(&mut self, what: SpanWhat, start: Time, end: Time) {
        if !self.opts.traces {
            return;
        }
        self.requests += 1;
        let lo = mix(self.id_base.wrapping_add(self.requests)) | 1;
        let id = ((mix(self.id_base ^ 0xc0de) as u128) << 64) | lo as u128;
        let tr = self.new_trace(id, -1.0);
        let place = Place {
            service: CONTROL,
            region: 0,
            instance: 0,
        };
        let s = self.open_span(tr, NO_SPAN, SpanKind::Internal, what, place, start);
        self.traces[tr as usize].root_done = true;
        self.close_span(tr, s, end, Cause::Ok, false);
    }
}

/// Runs replication `index` with telemetry going to `sink`; it measures
/// exactly what [`super::run_replication`] measures.
pub fn run_with_telemetry<'a>(
    topo: &'a Topology,
    scn: &'a Scenario,
    seed: u64,
    index: u64,
    opts: TelemetryOptions,
    sink: &'a mut dyn TelemetrySink,
) -> ReplicationOutput {
    let mut r = Replication::new(topo, scn, seed, index);
    let mut tel = Telemetry::new(sink, opts, seed, index);
    tel.series.gauges = Gauges {
        breakers: vec![[0; 3]; r.budgets.len() * r.nr],
        queue_depth: vec![0; topo.queues.len() * r.nr],
        queue_oldest_ns: vec![0; topo.queues.len() * r.nr],
        replicas_up: vec![0; topo.services.len() * r.nr],
        replicas_routable: vec![0; topo.services.len() * r.nr],
        guardrail_actions: vec![0; scn.guardrails.len()],
        guardrail_active: vec![false; scn.guardrails.len()],
        faults_active: vec![0; scn.faults.len()],
        rollout_weight_pct: None,
    };
    r.tel = Some(Box::new(tel));
    if opts.metrics {
        r.tel_next_scrape = scn.warmup_ns;
    }
    r.run(index)
}

impl Replication<'_> {
    fn place_of(&self, replica: u32) -> Place {
        let g = self.replicas[replica as usize].group as usize;
        Place {
            service: (g / self.nr) as u32,
            region: (g % self.nr) as u16,
            instance: replica - self.group_first[g],
        }
    }

    /// A call slot was (re)used: its telemetry starts afresh, in its caller's trace.
    pub(super) fn tel_new_call(&mut self, idx: u32, parent: Parent) {
        let Some(t) = self.tel.as_deref_mut() else { return };
        let mut ct = CallTel::default();
        if let Parent::Task { idx: task, epoch } = parent {
            let ts = &self.tasks.slots[task as usize];
            if ts.live && ts.epoch == epoch {
                let tt = *t.task(task);
                ct.trace = tt.trace;
                ct.parent = tt.span;
                let g = self.replicas[ts.replica as usize].group as usize;
                ct.src = ((g / self.nr) as u32, (g % self.nr) as u16);
                ct.report = true;
                if ct.trace != NONE {
                    // The call holds its trace open until it ends, even between tries.
                    t.traces[ct.trace as usize].open += 1;
                }
            }
        }
        *t.call(idx) = ct;
    }

    /// A customer request entered region `region` as root call `call`.
    pub(super) fn tel_root(&mut self, call: u32, flow: u16, region: u16) {
        let now = self.engine.now;
        let counted = self.rec.counted(now);
        let Some(t) = self.tel.as_deref_mut() else { return };
        let ct = t.call(call);
        ct.report = true;
        ct.src = (INGRESS, region);
        if !(t.opts.traces && counted) {
            return;
        }
        let (id, draw) = t.request_id();
        let tr = t.new_trace(id, draw);
        let place = Place {
            service: INGRESS,
            region,
            instance: 0,
        };
        let span = t.open_span(tr, NO_SPAN, SpanKind::Client, SpanWhat::Request { flow }, place, now);
        let ct = t.call(call);
        ct.trace = tr;
        ct.span = span;
    }

    /// A customer request shed at the door by a guardrail.
    pub(super) fn tel_shed(&mut self, flow: u16, region: u16) {
        let now = self.engine.now;
        let entry = self.topo.flows[flow as usize].entry.0;
        let guard = self
            .scn
            .guardrails
            .iter()
            .position(|g| matches!(g.action, Action::Shed { flows, .. } if flows & (1 << flow) != 0));
        let Some(t) = self.tel.as_deref_mut() else { return };
        let key = EdgeKey {
            reporter: Reporter::Source,
            src_service: INGRESS,
            src_region: region,
            dst_service: entry,
            dst_region: region,
            code: Cause::Shed.response_code(),
            flags: Cause::Shed.response_flags(),
        };
        t.edge(key, 0);
        if !t.opts.traces {
            return;
        }
        let (id, draw) = t.request_id();
        let tr = t.new_trace(id, draw);
        let place = Place {
            service: INGRESS,
            region,
            instance: 0,
        };
        let span = t.open_span(tr, NO_SPAN, SpanKind::Client, SpanWhat::Request { flow }, place, now);
        if let Some(g) = guard {
            t.event(tr, span, now, EventWhat::Guardrail(g as u16));
        }
        t.traces[tr as usize].root_done = true;
        t.close_span(tr, span, now, Cause::Shed, false);
    }

    /// The place a call's tries leave from: the caller's replica, or the ingress.
    fn caller_place(t: &Telemetry, ct: &CallTel) -> Place {
        if ct.parent != NO_SPAN && ct.trace != NONE {
            t.traces[ct.trace as usize].spans[ct.parent as usize].place
        } else {
            Place {
                service: if ct.src.0 == INGRESS { INGRESS } else { ct.src.0 },
                region: ct.src.1,
                instance: 0,
            }
        }
    }

    fn is_root(&self, call: u32) -> bool {
        matches!(self.calls.slots[call as usize].parent, Parent::Root { .. })
    }

    /// The guardrail whose action in force matches, for span events.
    fn guardrail_for(&self, matches: impl Fn(&Action) -> bool) -> Option<u16> {
        let acted = |i: usize| self.guardrails.monitors[i].outcome.mitigated_ns.is_some();
        (0..self.scn.guardrails.len())
            .find(|&i| acted(i) && matches(&self.scn.guardrails[i].action))
            .map(|i| i as u16)
    }

    /// A try of `call` to `asked` was not sent: a breaker, a bulkhead or a
    /// kill switch refused it (a zero-length span).
    pub(super) fn tel_try_refused(&mut self, call: u32, asked: ServiceId, cause: Cause) {
        if self.tel.is_none() {
            return;
        }
        let root = self.is_root(call);
        let (attempt, fallback) = {
            let c = &self.calls.slots[call as usize];
            (c.attempt, c.on_fallback)
        };
        let guard = match cause {
            Cause::KillSwitch => {
                self.guardrail_for(|a| matches!(a, Action::KillSwitch { service } if *service == asked))
            }
            _ => None,
        };
        let now = self.engine.now;
        let Some(t) = self.tel.as_deref_mut() else { return };
        let ct = *t.call(call);
        t.call(call).cause = cause;
        if ct.trace == NONE {
            return;
        }
        let span = if root {
            ct.span
        } else {
            let place = Self::caller_place(t, &ct);
            let what = SpanWhat::Try {
                target: asked.0,
                attempt,
                fallback,
            };
            t.open_span(ct.trace, ct.parent, SpanKind::Client, what, place, now)
        };
        if let Some(g) = guard {
            t.event(ct.trace, span, now, EventWhat::Guardrail(g));
        }
        if !root {
            t.close_span(ct.trace, span, now, cause, false);
        }
    }

    /// A try of `call` to `asked` leaves for `replica` (`None`: no replica
    /// anywhere), to the service `target` a failover may have chosen.
    pub(super) fn tel_try_sent(&mut self, call: u32, asked: ServiceId, target: ServiceId, replica: Option<u32>) {
        if self.tel.is_none() {
            return;
        }
        let now = self.engine.now;
        let root = self.is_root(call);
        let c = &self.calls.slots[call as usize];
        let (epoch, attempt, fallback, from) = (c.epoch, c.attempt, c.on_fallback, c.from_region as usize);
        let (dst, mask) = match replica {
            Some(rep) => {
                let p = self.place_of(rep);
                let g = self.replicas[rep as usize].group as usize;
                let mask =
                    self.active.mask(g) | self.down_mask[rep as usize] | self.active.link_mask(from, g % self.nr);
                ((p.service, p.region), mask)
            }
            None => ((target.0, from as u16), 0),
        };
        let mut guards = [None, None];
        if self.guardrails.acting && self.guardrails.redirect[asked.index()].is_some() {
            guards[0] = self.guardrail_for(|a| matches!(a, Action::FailoverService { from, .. } if *from == asked));
        }
        if self.guardrails.pinned[target.index()].is_some() {
            guards[1] =
                self.guardrail_for(|a| matches!(a, Action::FailoverRegion { service, .. } if *service == target));
        }
        let counted = self.rec.counted(now);
        let Some(t) = self.tel.as_deref_mut() else { return };
        let ct = t.call(call);
        ct.cause = Cause::Ok;
        ct.dst = dst;
        ct.sent = (epoch, attempt);
        ct.transit = false;
        ct.counted = counted;
        let ct = *ct;
        if ct.trace == NONE {
            return;
        }
        let span = if root {
            ct.span
        } else {
            let place = Self::caller_place(t, &ct);
            let what = SpanWhat::Try {
                target: target.0,
                attempt,
                fallback,
            };
            let s = t.open_span(ct.trace, ct.parent, SpanKind::Client, what, place, now);
            t.call(call).span = s;
            s
        };
        t.faults(ct.trace, span, now, mask);
        for g in guards.into_iter().flatten() {
            t.event(ct.trace, span, now, EventWhat::Guardrail(g));
        }
    }

    /// What the callee (or a fault on the way) answered to the current try.
    pub(super) fn tel_cause(&mut self, call: u32, cause: Cause) {
        if let Some(t) = self.tel.as_deref_mut() {
            t.call(call).cause = cause;
        }
    }

    /// The current try left; `delayed`: a latency fault delayed it;
    /// `scheduled`: it travels (an event), rather than arriving at once.
    pub(super) fn tel_in_transit(&mut self, call: u32, delayed: bool, scheduled: bool) {
        let Some(t) = self.tel.as_deref_mut() else { return };
        let ct = t.call(call);
        ct.transit = scheduled;
        let ct = *ct;
        if delayed && ct.trace != NONE && ct.span != NO_SPAN {
            t.traces[ct.trace as usize].spans[ct.span as usize].delayed = true;
        }
    }

    /// The current try of `call` ended with this outcome (its answer came back).
    pub(super) fn tel_try_end(&mut self, call: u32, outcome: Outcome) {
        if self.tel.is_none() {
            return;
        }
        let root = self.is_root(call);
        let now = self.engine.now;
        let started = self.calls.slots[call as usize].try_started;
        let Some(t) = self.tel.as_deref_mut() else { return };
        let ct = *t.call(call);
        let cause = match (outcome, ct.cause) {
            (Outcome::Failed, Cause::Ok) => Cause::ServerError,
            (Outcome::Failed, c) => c,
            _ => Cause::Ok,
        };
        t.call(call).cause = cause;
        if root {
            return; // the root span and its series end with the request
        }
        if ct.report && ct.counted && !ct.publish {
            t.edge(source_key(&ct, cause), now - started);
        }
        if ct.trace != NONE && ct.span != NO_SPAN {
            t.close_span(ct.trace, ct.span, now, cause, outcome == Outcome::Degraded);
        }
    }

    /// The current try of `call` timed out at the caller.
    pub(super) fn tel_try_timeout(&mut self, call: u32) {
        if self.tel.is_none() {
            return;
        }
        let now = self.engine.now;
        let started = self.calls.slots[call as usize].try_started;
        let Some(t) = self.tel.as_deref_mut() else { return };
        let ct = *t.call(call);
        t.call(call).cause = Cause::Timeout;
        if ct.report && ct.counted {
            t.edge(source_key(&ct, Cause::Timeout), now - started);
        }
        if ct.trace == NONE || ct.span == NO_SPAN {
            return;
        }
        if ct.transit {
            // Still on its way: the server span it will start belongs here.
            t.orphans.insert((call, ct.sent.0, ct.sent.1), (ct.trace, ct.span));
            t.traces[ct.trace as usize].open += 1;
        }
        t.close_span(ct.trace, ct.span, now, Cause::Timeout, false);
    }

    /// The call runs its fallback (`None`: degrade): an event on the caller's span.
    pub(super) fn tel_fallback(&mut self, call: u32, to: Option<ServiceId>) {
        let now = self.engine.now;
        let Some(t) = self.tel.as_deref_mut() else { return };
        let ct = *t.call(call);
        if ct.trace != NONE && ct.parent != NO_SPAN {
            t.event(ct.trace, ct.parent, now, EventWhat::Fallback { to: to.map(|s| s.0) });
        }
    }

    /// A logical call ended; a root call ends its customer request.
    pub(super) fn tel_call_done(&mut self, call: u32, outcome: Outcome) {
        if self.tel.is_none() {
            return;
        }
        let now = self.engine.now;
        let (parent, target, from) = {
            let c = &self.calls.slots[call as usize];
            (c.parent, c.target, c.from_region)
        };
        let counted_root = match parent {
            Parent::Root { arrival, .. } => Some((self.rec.counted(arrival), arrival)),
            _ => None,
        };
        let Some(t) = self.tel.as_deref_mut() else { return };
        let ct = *t.call(call);
        let cause = match (outcome, ct.cause) {
            (Outcome::Failed, Cause::Ok) if ct.publish => Cause::QueueFull,
            (Outcome::Failed, Cause::Ok) => Cause::ServerError,
            (Outcome::Failed, c) => c,
            _ => Cause::Ok,
        };
        if let Some((counted, arrival)) = counted_root {
            if counted {
                let mut ct = ct;
                if ct.dst.0 == UNKNOWN {
                    ct.dst = (target.0, from);
                }
                t.edge(source_key(&ct, cause), now - arrival);
            }
            if ct.trace != NONE {
                t.traces[ct.trace as usize].root_done = true;
                t.close_span(ct.trace, ct.span, now, cause, outcome == Outcome::Degraded);
            }
        } else if ct.trace != NONE {
            if ct.span != NO_SPAN {
                t.close_span(ct.trace, ct.span, now, cause, outcome == Outcome::Degraded);
            }
            t.traces[ct.trace as usize].open -= 1;
            t.maybe_flush(ct.trace);
        }
        *t.call(call) = CallTel::default();
    }

    /// A customer request still open when the run stops (counted as failed).
    pub(super) fn tel_root_unfinished(&mut self, call: u32) {
        self.tel_cause(call, Cause::Unfinished);
        self.tel_call_done(call, Outcome::Failed);
    }

    /// A try reached `replica`: note where it came from, for the replica's answer.
    pub(super) fn tel_delivered(&mut self, call: u32, epoch: u32, attempt: u16) {
        if self.tel.is_none() {
            return;
        }
        let awaited = self.awaits(call, epoch, attempt);
        let Some(t) = self.tel.as_deref_mut() else { return };
        let mut d = Delivered {
            call,
            awaited,
            trace: NONE,
            parent: NO_SPAN,
            src: (UNKNOWN, 0),
            orphan: false,
        };
        if awaited {
            let ct = t.call(call);
            ct.transit = false;
            (d.trace, d.parent, d.src) = (ct.trace, ct.span, ct.src);
        } else if let Some((tr, span)) = t.orphans.remove(&(call, epoch, attempt)) {
            (d.trace, d.parent, d.orphan) = (tr, span, true);
            let s = &t.traces[tr as usize].spans[span as usize];
            d.src = (s.place.service, s.place.region);
        }
        t.delivered = Some(d);
    }

    /// Closes the books on a delivered try that started no task: `cause`
    /// (`None`: black-holed, no answer) is what the replica answered.
    pub(super) fn tel_not_served(&mut self, replica: u32, cause: Option<Cause>) {
        if self.tel.is_none() {
            return;
        }
        let now = self.engine.now;
        let place = self.place_of(replica);
        let down = self.down_mask[replica as usize];
        let counted = self.rec.counted(now);
        let Some(t) = self.tel.as_deref_mut() else { return };
        let Some(d) = t.delivered.take() else { return };
        if let Some(cause) = cause {
            if d.awaited {
                t.call(d.call).cause = cause;
            }
            let served = !matches!(cause, Cause::Refused);
            if served && counted {
                t.edge(destination_key(d.src, place, cause), 0);
            }
            if d.trace != NONE {
                if served {
                    let s = t.open_span(d.trace, d.parent, SpanKind::Server, SpanWhat::Serve, place, now);
                    t.close_span(d.trace, s, now, cause, false);
                } else if d.awaited {
                    t.faults(d.trace, d.parent, now, down);
                }
            }
        }
        if d.orphan {
            t.traces[d.trace as usize].open -= 1;
            t.maybe_flush(d.trace);
        }
    }

    /// A delivered try became task `task` at its replica (waiting or served).
    pub(super) fn tel_task_new(&mut self, task: u32) {
        if self.tel.is_none() {
            return;
        }
        let now = self.engine.now;
        let replica = self.tasks.slots[task as usize].replica;
        let place = self.place_of(replica);
        let g = self.replicas[replica as usize].group as usize;
        let mask = self.active.mask(g) | self.down_mask[replica as usize];
        let Some(t) = self.tel.as_deref_mut() else { return };
        let Some(d) = t.delivered.take() else { return };
        let mut tt = TaskTel {
            src: d.src,
            ..TaskTel::default()
        };
        if d.trace != NONE {
            tt.trace = d.trace;
            tt.span = t.open_span(d.trace, d.parent, SpanKind::Server, SpanWhat::Serve, place, now);
            t.faults(d.trace, tt.span, now, mask);
            if d.orphan {
                t.traces[d.trace as usize].open -= 1;
            }
        }
        *t.task(task) = tt;
    }

    /// Task `task` takes a server: its wait, if any, becomes a span.
    pub(super) fn tel_task_start(&mut self, task: u32) {
        let now = self.engine.now;
        let (arrival, replica) = {
            let ts = &self.tasks.slots[task as usize];
            (ts.arrival, ts.replica)
        };
        if self.tel.is_none() {
            return;
        }
        let place = self.place_of(replica);
        let Some(t) = self.tel.as_deref_mut() else { return };
        let tt = t.task(task);
        tt.started = true;
        let tt = *tt;
        if tt.trace != NONE && now > arrival {
            let s = t.open_span(tt.trace, tt.span, SpanKind::Internal, SpanWhat::Queue, place, arrival);
            t.close_span(tt.trace, s, now, Cause::Ok, false);
        }
    }

    /// Task `task` ends (before its slot is freed): answered with `cause`
    /// (degraded or not), expired, or reset by fault `killed_by` (a mask).
    pub(super) fn tel_task_end(&mut self, task: u32, cause: Cause, degraded: bool, killed_by: u64) {
        if self.tel.is_none() {
            return;
        }
        let now = self.engine.now;
        let ts = self.tasks.slots[task as usize].clone();
        let place = self.place_of(ts.replica);
        let g = self.replicas[ts.replica as usize].group as usize;
        let awaited = self.awaits(ts.call, ts.call_epoch, ts.attempt);
        let counted = self.rec.counted(ts.arrival);
        let mask = self.active.mask(g) | killed_by;
        let Some(t) = self.tel.as_deref_mut() else { return };
        let tt = *t.task(task);
        if awaited {
            t.call(ts.call).cause = cause;
        }
        if counted && cause != Cause::Reset {
            t.edge(destination_key(tt.src, place, cause), now - ts.arrival);
        }
        if tt.trace == NONE {
            return;
        }
        if !tt.started && now > ts.arrival {
            let s = t.open_span(
                tt.trace,
                tt.span,
                SpanKind::Internal,
                SpanWhat::Queue,
                place,
                ts.arrival,
            );
            t.close_span(tt.trace, s, now, cause, false);
        }
        t.faults(tt.trace, tt.span, now, mask);
        if awaited && killed_by != 0 {
            let client = t.call(ts.call).span;
            if client != NO_SPAN {
                t.faults(tt.trace, client, now, killed_by);
            }
        }
        *t.task(task) = TaskTel::default();
        t.close_span(tt.trace, tt.span, now, cause, degraded);
    }

    /// A task's call publishes to queue × region `qr` (`None`: no region has the queue).
    pub(super) fn tel_publish(&mut self, call: u32, qr: Option<usize>) {
        let now = self.engine.now;
        let Some(t) = self.tel.as_deref_mut() else { return };
        let ct = t.call(call);
        ct.publish = true;
        let ct = *ct;
        if ct.trace == NONE || ct.parent == NO_SPAN {
            return;
        }
        let place = Self::caller_place(t, &ct);
        let what = SpanWhat::Publish {
            queue: qr.map_or(u32::MAX, |q| q as u32),
        };
        let s = t.open_span(ct.trace, ct.parent, SpanKind::Producer, what, place, now);
        t.call(call).span = s;
    }

    /// A fault window of fault `fault` opens (`+1`) or closes (`-1`).
    pub(super) fn tel_fault_window(&mut self, fault: usize, delta: i32) {
        let Some(t) = self.tel.as_deref_mut() else { return };
        if let Some(n) = t.series.gauges.faults_active.get_mut(fault) {
            *n = n.saturating_add_signed(delta);
        }
    }

    /// Guardrail `i`'s action took effect: a control-plane span from the
    /// moment its alert condition held, and an event on every request in flight.
    pub(super) fn tel_guardrail(&mut self, i: usize) {
        let now = self.engine.now;
        let since = self.guardrails.monitors[i]
            .outcome
            .fired_ns
            .map_or(now, |f| f.saturating_sub(self.scn.guardrails[i].detect_delay_ns));
        let Some(t) = self.tel.as_deref_mut() else { return };
        t.series.gauges.guardrail_actions[i] += 1;
        t.series.gauges.guardrail_active[i] = true;
        for tr in 0..t.traces.len() as u32 {
            if t.live[tr as usize] && !t.traces[tr as usize].root_done {
                t.event(tr, 0, now, EventWhat::Guardrail(i as u16));
            }
        }
        t.control(SpanWhat::Guardrail { index: i as u16 }, since, now);
    }

    /// A rollout step set the new version's weight (percent): a control-plane
    /// span and the `rollout_weight` gauge.
    pub(super) fn tel_rollout_step(&mut self, weight_pct: f64) {
        let now = self.engine.now;
        let Some(t) = self.tel.as_deref_mut() else { return };
        t.series.gauges.rollout_weight_pct = Some(weight_pct);
        let w = weight_pct.clamp(0.0, 100.0).round() as u16;
        t.control(SpanWhat::RolloutStep { weight_pct: w }, now, now);
    }

    /// Scrapes every interval up to and including `until` that is due.
    #[cold]
    pub(super) fn tel_scrape_until(&mut self, until: Time) {
        while self.tel_next_scrape <= until {
            let at = self.tel_next_scrape;
            self.tel_gauges(at);
            let Some(t) = self.tel.as_deref_mut() else { return };
            t.sink.scrape(at, &t.series);
            self.tel_next_scrape = at.saturating_add(t.opts.scrape_interval_ns.max(1));
        }
    }

    /// The gauges at scrape time `at`.
    fn tel_gauges(&mut self, at: Time) {
        let Some(mut t) = self.tel.take() else { return };
        let gs = &mut t.series.gauges;
        for b in gs.breakers.iter_mut() {
            *b = [0; 3];
        }
        for (k, slot) in self.callers.slots.iter().enumerate() {
            let Some(b) = &slot.breaker else { continue };
            let service = self.site_first.partition_point(|&f| f <= slot.site) - 1;
            let replica = self.group_first[service * self.nr] + self.callers.caller_rank(k as u32);
            let rep = &self.replicas[replica as usize];
            if rep.dormant {
                continue;
            }
            let state = match b.phase() {
                crate::observe::BreakerPhase::Closed => 0,
                crate::observe::BreakerPhase::Open => 1,
                crate::observe::BreakerPhase::HalfOpen => 2,
            };
            gs.breakers[slot.site as usize * self.nr + rep.region as usize][state] += 1;
        }
        for qr in 0..gs.queue_depth.len() {
            let (depth, oldest) = self.broker.depth_and_oldest(qr);
            gs.queue_depth[qr] = depth;
            gs.queue_oldest_ns[qr] = oldest.map_or(0, |p| at.saturating_sub(p));
        }
        for g in 0..gs.replicas_up.len() {
            let range = self.group_range(g);
            gs.replicas_up[g] = range.clone().filter(|&r| self.replicas[r as usize].alive).count() as u32;
            gs.replicas_routable[g] = range
                .filter(|&r| self.replicas[r as usize].alive && self.replicas[r as usize].routable())
                .count() as u32;
        }
        self.tel = Some(t);
    }

    /// The end of the run: spans still open close as unfinished, every trace
    /// is handed out, and the series get their last scrapes.
    pub(super) fn tel_finish(&mut self) {
        let now = self.engine.now;
        let Some(t) = self.tel.as_deref_mut() else { return };
        t.orphans.clear();
        for tr in 0..t.traces.len() as u32 {
            if !t.live[tr as usize] {
                continue;
            }
            let trace = &mut t.traces[tr as usize];
            trace.root_done = true;
            trace.open = 0;
            for s in trace.spans.iter_mut().filter(|s| s.open) {
                s.open = false;
                s.end_ns = now.max(s.start_ns);
                s.cause = Cause::Unfinished;
            }
            t.maybe_flush(tr);
        }
        if self.tel_next_scrape != Time::MAX {
            self.tel_scrape_until(now);
            let last = self.tel_next_scrape;
            self.tel_scrape_until(last);
        }
    }
}

/// The caller-side series of a try (or of a customer request).
fn source_key(ct: &CallTel, cause: Cause) -> EdgeKey {
    EdgeKey {
        reporter: Reporter::Source,
        src_service: ct.src.0,
        src_region: ct.src.1,
        dst_service: ct.dst.0,
        dst_region: ct.dst.1,
        code: cause.response_code(),
        flags: cause.response_flags(),
    }
}

/// The callee-side series of a request that reached `place`.
fn destination_key(src: (u32, u16), place: Place, cause: Cause) -> EdgeKey {
    EdgeKey {
        reporter: Reporter::Destination,
        src_service: src.0,
        src_region: src.1,
        dst_service: place.service,
        dst_region: place.region,
        code: cause.response_code(),
        flags: cause.response_flags(),
    }
}
