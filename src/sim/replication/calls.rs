//! Calls: a logical call with all its tries, from the caller's side —
//! guardrail redirects, the circuit breaker and bulkhead, routing, faults on
//! the way, the network, timeouts (overall and per try), retries with their
//! backoff and budget, the fallback, and how the result reaches the parent
//! (a task, a customer, or a queue delivery).

use rand::RngExt;

use super::*;
use crate::observe::telemetry::Cause;
use crate::sim::mechanisms::backoff_ns;

impl<'a> Replication<'a> {
    pub(super) fn new_call(
        &mut self,
        parent: Parent,
        target: ServiceId,
        from_region: u16,
        site: u32,
        caller_slot: u32,
        timeout: Option<u64>,
    ) -> u32 {
        let deadline = timeout.map(|t| self.engine.now + t).unwrap_or(Time::MAX);
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
        c.caller_slot = caller_slot;
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
        self.tel_new_call(idx, parent);
        idx
    }
    pub(super) fn free_call(&mut self, idx: u32) {
        let c = &mut self.calls.slots[idx as usize];
        c.live = false;
        c.waiting = false;
        c.epoch = c.epoch.wrapping_add(1);
        self.calls.free.push(idx);
    }
    /// One-way network latency between two regions, ns.
    #[inline]
    pub(super) fn net(&mut self, from: usize, to: usize) -> u64 {
        match self.topo.latency[from * self.nr + to] {
            Some(Dist::Const(v)) => (v + 0.5) as u64,
            Some(ref d) => d.sample_ns(&mut self.rng.network),
            None => 0,
        }
    }
    /// The call's definition, for calls made from a call site.
    #[inline]
    pub(super) fn call_def(&self, site: u32) -> &'a Call {
        self.site_calls[site as usize]
    }

    /// Sends the current try of a call: breaker, route, faults on the way, network.
    pub(super) fn send_try(&mut self, idx: u32) {
        let (mut target, from, epoch, attempt, caller_slot, site, flow) = {
            let c = &mut self.calls.slots[idx as usize];
            c.waiting = true;
            c.try_started = self.engine.now;
            c.dest_group = NONE;
            (
                c.target,
                c.from_region as usize,
                c.epoch,
                c.attempt,
                c.caller_slot,
                c.site,
                c.flow,
            )
        };
        let asked = target;
        // Guardrail actions in force: a kill switch sends the call to its
        // fallback; a failover sends it to another service.
        if self.guardrails.acting {
            if self.guardrails.switched[target.index()] && !self.calls.slots[idx as usize].on_fallback {
                self.calls.slots[idx as usize].waiting = false;
                self.tel_try_refused(idx, target, Cause::KillSwitch);
                self.call_failed(idx);
                return;
            }
            if let Some(to) = self.guardrails.redirect[target.index()] {
                target = ServiceId(to);
            }
        }
        let counted = self.rec.counted(self.engine.now);
        if site != NONE && counted {
            self.rec.sites[site as usize].tries += 1;
        }
        if caller_slot != NONE
            && !self.calls.slots[idx as usize].on_fallback
            && !self.breaker_permits(caller_slot, site)
        {
            // An open breaker fails the call at once, straight to its fallback,
            // carrying the faults that opened it.
            if counted {
                self.rec.sites[site as usize].short_circuited += 1;
            }
            let cause = self.callers.slots[caller_slot as usize]
                .breaker
                .as_ref()
                .map_or(0, |b| b.cause());
            self.calls.slots[idx as usize].touched |= cause;
            self.calls.slots[idx as usize].waiting = false;
            self.tel_try_refused(idx, target, Cause::CircuitOpen);
            self.call_failed(idx);
            return;
        }
        let Some(rep) = self.route(target, from) else {
            // Nowhere to send it: fails at once (as a missing cluster in Envoy).
            self.tel_try_sent(idx, asked, target, None);
            self.tel_cause(idx, Cause::NoRoute);
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
                let (caller_slot, touched) = (c.caller_slot, c.touched);
                self.callers.slots[caller_slot as usize].bulkhead.holder_met(touched);
            }
        }
        self.tel_try_sent(idx, asked, target, Some(rep));
        if let Some(status) = self.active.abort(g, &self.scn.faults, &mut self.rng.faults) {
            if counted {
                let gs = &mut self.rec.groups[g];
                gs.requests += 1;
                gs.errors += 1;
            }
            self.tel_cause(idx, Cause::Aborted(status));
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
            if self.engine.now + per_try <= deadline {
                self.push_timeout(per_try, ev);
            } else {
                self.engine.schedule(deadline, ev);
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
        let net = self.net(from, to);
        let injected = link_delay + self.active.delay(g, &self.scn.faults, &mut self.rng.faults);
        let delay = net + injected;
        self.tel_in_transit(idx, injected > 0, delay != 0);
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
            self.engine.schedule(self.engine.now + delay, ev);
        }
    }
    /// A try's answer reached the caller.
    pub(super) fn on_reply(&mut self, idx: u32, reply: Reply) {
        self.tel_try_end(idx, reply.outcome);
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
    pub(super) fn try_ended(&mut self, idx: u32, ok: bool) {
        let c = &mut self.calls.slots[idx as usize];
        c.waiting = false;
        let (caller_slot, site, started, on_fallback, g, touched) = (
            c.caller_slot,
            c.site,
            c.try_started,
            c.on_fallback,
            c.dest_group,
            c.touched,
        );
        let took = self.engine.now - started;
        if caller_slot != NONE && !on_fallback {
            self.breaker_record(caller_slot, site, ok, took, touched);
        }
        if g != NONE {
            self.rec.try_seen(g as usize, started, took, ok);
        }
    }
    /// Schedules another try if the policy, the deadline and the budget allow.
    pub(super) fn try_retry(&mut self, idx: u32) -> bool {
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
        let u: f64 = self.rng.resilience.random();
        let sleep = backoff_ns(retry, k, c.prev_sleep, u);
        // A retry the deadline forbids is never sent, so it asks nothing of
        // the budget: the deadline is checked first.
        if self.engine.now + sleep >= c.deadline {
            return false;
        }
        let counted = self.rec.counted(self.engine.now);
        if let Some(budget) = retry.budget
            && !self.budgets[c.site as usize].try_withdraw(self.engine.now, budget)
        {
            if counted {
                self.rec.sites[c.site as usize].budget_denied += 1;
            }
            return false;
        }
        if counted {
            self.rec.sites[c.site as usize].retries += 1;
        }
        self.calls.slots[idx as usize].prev_sleep = sleep;
        self.engine.schedule(
            self.engine.now + sleep,
            Ev::Retry {
                call: idx,
                epoch: c.epoch,
            },
        );
        true
    }
    /// The caller's deadline passed: it gives up (the callee keeps working).
    pub(super) fn on_timeout(&mut self, idx: u32) {
        if self.calls.slots[idx as usize].waiting {
            let g = self.calls.slots[idx as usize].dest_group as usize;
            if self.rec.counted(self.engine.now) {
                self.rec.groups[g].timeouts += 1;
            }
            self.tel_try_timeout(idx);
            self.try_ended(idx, false);
        }
        let c = &mut self.calls.slots[idx as usize];
        c.attempt = c.attempt.wrapping_add(1);
        c.deadline = self.engine.now;
        self.call_failed(idx);
    }
    /// The try's own timeout passed: that try failed; another may follow.
    pub(super) fn on_try_timeout(&mut self, idx: u32) {
        let g = self.calls.slots[idx as usize].dest_group as usize;
        if self.rec.counted(self.engine.now) {
            self.rec.groups[g].timeouts += 1;
        }
        self.tel_try_timeout(idx);
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
    pub(super) fn call_failed(&mut self, idx: u32) {
        let c = &self.calls.slots[idx as usize];
        let caught = c.wrong_in == -2.0;
        let fallback = if c.site == NONE || c.on_fallback {
            None
        } else {
            let call = self.call_def(c.site);
            call.fallback.map(|f| (f, call.timeout_ns))
        };
        if fallback.is_some() && self.rec.counted(self.engine.now) {
            self.rec.sites[c.site as usize].fallbacks += 1;
        }
        match fallback {
            Some((Fallback::Degrade, _)) => {
                self.tel_fallback(idx, None);
                self.complete_call(idx, Outcome::Degraded, -1.0, caught)
            }
            Some((Fallback::Service(f), timeout)) => {
                self.tel_fallback(idx, Some(f));
                // The fallback is a fresh call (own deadline) on the same slot.
                let c = &mut self.calls.slots[idx as usize];
                c.epoch = c.epoch.wrapping_add(1);
                c.on_fallback = true;
                c.target = f;
                c.attempt = 0;
                c.deadline = timeout.map(|t| self.engine.now + t).unwrap_or(Time::MAX);
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
    pub(super) fn complete_call(&mut self, idx: u32, mut outcome: Outcome, wrong: f32, caught: bool) {
        let c = &self.calls.slots[idx as usize];
        if c.on_fallback && outcome == Outcome::Succeeded {
            outcome = Outcome::Degraded;
        }
        let (parent, site, caller_slot, holds_permit, charge, value, touched) = (
            c.parent,
            c.site,
            c.caller_slot,
            c.holds_permit,
            c.charge,
            c.value,
            c.touched,
        );
        self.tel_call_done(idx, outcome);
        self.free_call(idx);
        if holds_permit {
            self.callers.slots[caller_slot as usize].bulkhead.release();
        }
        if charge != NONE {
            self.charges.slots[charge as usize].call_done = true;
            self.settle_charge(charge);
        }
        if site != NONE && outcome == Outcome::Failed && self.rec.counted(self.engine.now) {
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
                    self.rec
                        .request_done(flow, arrival, Some(self.engine.now - arrival), end);
                    self.guard_observe(flow, outcome, Some(self.engine.now - arrival), wrong.is_some());
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
}
