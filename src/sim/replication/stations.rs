//! Stations: a replica's servers and FIFO waiting room, the work a request
//! does there (own service time, then its calls stage by stage, holding its
//! server throughout), and its answer back over the network.
//!
//! A replica does its work as its version says ([`Replication::service_of`]):
//! a rollout's new-version replicas take the overrides, and report each
//! answer to the rollout ([`Replication::canary_answered`]).

use rand::RngExt;

use super::*;
use crate::observe::telemetry::Cause;

impl<'a> Replication<'a> {
    /// What a replica runs: its service, or a rollout's new version of it.
    #[inline]
    pub(super) fn service_of(&self, replica: u32) -> &'a Service {
        let (topo, scn) = (self.topo, self.scn);
        let rep = &self.replicas[replica as usize];
        match &scn.rollout {
            Some(ro) if rep.canary => &ro.version,
            _ => &topo.services[rep.service as usize],
        }
    }

    /// A try reached a replica.
    pub(super) fn on_deliver(&mut self, call: u32, epoch: u32, attempt: u16, flow: u16, replica: u32, charge: u32) {
        let counted = self.rec.counted(self.engine.now);
        let g = self.replicas[replica as usize].group as usize;
        if counted {
            self.rec.groups[g].requests += 1;
        }
        self.tel_delivered(call, epoch, attempt);
        if self.active.blackholed(g) {
            // Black-holed: it takes the request and never answers.
            self.tel_not_served(replica, None);
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
            if self.replicas[replica as usize].canary {
                self.canary_answered(self.engine.now, false, None, false);
            }
            self.tel_not_served(replica, Some(Cause::Refused));
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
            if self.replicas[replica as usize].canary {
                self.canary_answered(self.engine.now, false, None, false);
            }
            self.tel_not_served(replica, Some(Cause::RateLimited));
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
            if self.replicas[replica as usize].canary {
                self.canary_answered(self.engine.now, false, None, false);
            }
            self.tel_not_served(replica, Some(Cause::Rejected));
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
        let validates = self.service_of(replica).validates.is_some();
        let t = self.new_task(replica, call, epoch, attempt, flow);
        self.tel_task_new(t);
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
    pub(super) fn admit(&mut self, replica: u32) -> bool {
        let Some(limit) = &self.service_of(replica).rate_limit else {
            return true;
        };
        let now = self.engine.now;
        match self.replicas[replica as usize].bucket.as_mut() {
            Some(bucket) => bucket.admit(limit, now),
            None => true,
        }
    }

    pub(super) fn new_task(&mut self, replica: u32, call: u32, call_epoch: u32, attempt: u16, flow: u16) -> u32 {
        let idx = self.tasks.alloc();
        let now = self.engine.now;
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
    pub(super) fn free_task(&mut self, idx: u32) {
        let t = &mut self.tasks.slots[idx as usize];
        t.live = false;
        t.epoch = t.epoch.wrapping_add(1);
        self.tasks.free.push(idx);
    }
    /// Accumulates a replica's busy-server time up to now (within the counted horizon).
    pub(super) fn touch(&mut self, replica: u32) {
        let (warmup, end) = (self.rec.warmup_ns, self.rec.end_ns);
        let now = self.engine.now.min(end);
        let r = &mut self.replicas[replica as usize];
        let from = r.busy_since.max(warmup);
        if now > from {
            r.busy_ns += r.busy as u128 * (now - from) as u128;
        }
        r.busy_since = now.max(r.busy_since);
    }
    /// A task takes a server and starts its own work.
    pub(super) fn start_task(&mut self, t: u32) {
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
            self.rec.groups[g].queue_wait.record(self.engine.now - arrival);
        }
        self.tel_task_start(t);
        let svc = self.service_of(replica);
        let mut work = svc.service_time.sample_ns(&mut self.rng.service);
        let factor = self.active.slow_factor(g);
        if factor != 1.0 {
            work = (work as f64 * factor) as u64;
        }
        self.engine
            .schedule(self.engine.now + work, Ev::ServiceDone { task: t, epoch });
    }
    pub(super) fn on_service_done(&mut self, t: u32) {
        let svc = self.service_of(self.tasks.slots[t as usize].replica);
        if svc.error_rate > 0.0 && self.rng.service.random::<f64>() < svc.error_rate {
            self.finish_task(t, false);
            return;
        }
        self.advance(t);
    }
    /// Starts the task's next stage with calls, or finishes it when none is left.
    pub(super) fn advance(&mut self, t: u32) {
        let (replica, flow, task_epoch, value) = {
            let task = &self.tasks.slots[t as usize];
            (task.replica, task.flow as usize, task.epoch, task.value)
        };
        let rep = &self.replicas[replica as usize];
        let (s, region) = (rep.service as usize, rep.region);
        let topo = self.topo;
        let svc = &topo.services[s];
        let plan = &svc.plan[flow.min(svc.plan.len() - 1)];
        loop {
            let stage = self.tasks.slots[t as usize].stage as usize;
            if stage >= plan.len() {
                self.finish_task(t, true);
                return;
            }
            // A sentinel count keeps the stage open while its calls are issued:
            // a call may complete at once (refused, aborted, zero latency).
            self.tasks.slots[t as usize].pending = 1;
            for &ci in &plan[stage] {
                let call = &svc.calls[ci as usize];
                if call.p < 1.0 && self.rng.routing.random::<f64>() >= call.p {
                    continue;
                }
                let site = self.site_first[s] + ci as u32;
                if self.rec.counted(self.engine.now) {
                    self.rec.sites[site as usize].calls += 1;
                }
                let parent = Parent::Task {
                    idx: t,
                    epoch: task_epoch,
                };
                match call.to {
                    CallTarget::Service(target) => {
                        if call.retry.as_ref().is_some_and(|r| r.budget.is_some()) {
                            self.budgets[site as usize].first_try(self.engine.now);
                        }
                        let caller_slot = self.callers.index(site, replica);
                        let c = self.new_call(parent, target, region, site, caller_slot, call.timeout_ns);
                        {
                            let wrong = self.tasks.slots[t as usize].wrong;
                            let cs = &mut self.calls.slots[c as usize];
                            cs.value = value;
                            cs.flow = flow as u16;
                            cs.wrong_in = wrong;
                        }
                        self.tasks.slots[t as usize].pending += 1;
                        if let Some(max) = call.max_in_flight
                            && !self.callers.slots[caller_slot as usize].bulkhead.acquire(max)
                        {
                            // The bulkhead is full: the call fails at once, to its
                            // fallback, carrying the faults its holders met.
                            if self.rec.counted(self.engine.now) {
                                self.rec.sites[site as usize].bulkhead_rejected += 1;
                            }
                            self.calls.slots[c as usize].touched |=
                                self.callers.slots[caller_slot as usize].bulkhead.cause();
                            self.tel_try_refused(c, target, Cause::BulkheadFull);
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
    pub(super) fn finish_task(&mut self, t: u32, ok: bool) {
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
            gs.latency.record(self.engine.now - task.arrival);
            if !ok {
                gs.errors += 1;
            }
        }
        // Whether this replica's own output was wrong (for a rollout's analysis).
        let mut own_wrong = false;
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
            let svc = self.service_of(replica);
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
                own_wrong = true;
            }
        }
        if self.replicas[replica as usize].canary {
            let ok = reply.outcome != Outcome::Failed;
            self.canary_answered(task.arrival, ok, Some(self.engine.now - task.arrival), own_wrong);
        }
        // The faults this task met, plus any active on its own group, travel up.
        let touched = task.touched | self.active.mask(g);
        if self.awaits(task.call, task.call_epoch, task.attempt) {
            self.calls.slots[task.call as usize].touched |= touched;
        }
        let from = self.calls.slots[task.call as usize].from_region as usize;
        let cause = if reply.outcome == Outcome::Failed {
            Cause::ServerError
        } else {
            Cause::Ok
        };
        self.tel_task_end(t, cause, reply.outcome == Outcome::Degraded, 0);
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
    pub(super) fn start_next(&mut self, replica: u32) {
        let g = self.replicas[replica as usize].group as usize;
        let timeout = self.service_of(replica).queue_timeout_ns;
        while let Some(next) = self.replicas[replica as usize].queue.pop_front() {
            let task = &self.tasks.slots[next as usize];
            match timeout {
                Some(limit) if self.engine.now - task.arrival > limit => {
                    let task = task.clone();
                    if self.rec.counted(task.arrival) {
                        let gs = &mut self.rec.groups[g];
                        gs.expired += 1;
                        gs.errors += 1;
                        gs.latency.record(self.engine.now - task.arrival);
                    }
                    if self.replicas[replica as usize].canary {
                        self.canary_answered(task.arrival, false, Some(self.engine.now - task.arrival), false);
                    }
                    let from = self.calls.slots[task.call as usize].from_region as usize;
                    self.tel_task_end(next, Cause::Expired, false, 0);
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
    pub(super) fn respond(
        &mut self,
        call: u32,
        epoch: u32,
        attempt: u16,
        caller_region: usize,
        replica: u32,
        reply: Reply,
    ) {
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
            self.engine.schedule(
                self.engine.now + back,
                Ev::Response {
                    call,
                    epoch,
                    attempt,
                    reply,
                },
            );
        }
    }
}
