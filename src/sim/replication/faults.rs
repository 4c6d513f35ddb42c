//! Carrying out what the fault timeline says: effects on calls are switched
//! in [`crate::sim::chaos`]; killed replicas, regional outages and stalled
//! queues are carried out here, on the replicas and queues they stop.

use super::*;
use crate::sim::chaos::{Onset, onset, victims};

impl Replication<'_> {
    pub(super) fn fault_start(&mut self, w: u32) {
        let window = self.windows[w as usize];
        let i = window.fault as usize;
        let f = &self.scn.faults[i];
        let bit = 1u64 << i.min(63);
        self.tel_fault_window(i, 1);
        match onset(f, window.unit) {
            Onset::Effect => self.active.activate(i as u16, &self.scn.faults),
            Onset::KillUnit { unit } => {
                let mut k = unit;
                for g in self.active.groups_of(f) {
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
            }
            Onset::KillCount(count) => {
                for g in self.active.groups_of(f) {
                    let mut alive: Vec<u32> = self
                        .group_range(g)
                        .filter(|&r| self.replicas[r as usize].alive)
                        .collect();
                    let n = victims(count, &mut alive, self.group_len(g), &mut self.rng.faults);
                    for &r in &alive[..n] {
                        self.kill_replica(r, bit);
                        self.killed[w as usize].push(r);
                    }
                }
            }
            Onset::Outage => {
                for r in (0..self.nr).filter(|&r| f.regions[r]) {
                    // Every service's replicas there, a rollout's new version's too.
                    let canary = (self.group_first.len() > self.stable_groups + 1).then_some(self.stable_groups + r);
                    let subsets = (0..self.topo.services.len()).map(|s| s * self.nr + r).chain(canary);
                    for u in subsets.collect::<Vec<_>>() {
                        for rep in self.group_range(u) {
                            if self.replicas[rep as usize].alive {
                                self.kill_replica(rep, bit);
                                self.killed[w as usize].push(rep);
                            }
                        }
                    }
                    for q in (0..self.topo.queues.len()).filter(|&q| self.topo.queues[q].present[r]) {
                        self.stall(w, q * self.nr + r);
                    }
                }
            }
            Onset::Stall => {
                if let Some(q) = f.queue {
                    for r in 0..self.nr {
                        if f.regions[r] && self.topo.queues[q.index()].present[r] {
                            self.stall(w, q.index() * self.nr + r);
                        }
                    }
                }
            }
        }
    }

    /// Window `w` stops the consumers of queue × region `qr` until it ends.
    fn stall(&mut self, w: u32, qr: usize) {
        self.set_stalled(qr, true);
        self.stalled[w as usize].push(qr);
    }

    pub(super) fn fault_end(&mut self, w: u32) {
        let i = self.windows[w as usize].fault as usize;
        self.tel_fault_window(i, -1);
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
    /// The next dormant replica of subset u comes up (a `scale` guardrail's
    /// new capacity, or a rollout's new version): it joins the subset's
    /// replicas in service. Returns whether there was one.
    pub(super) fn wake(&mut self, u: usize) -> bool {
        let r = self.group_first[u] + self.group_active[u];
        if r >= self.group_first[u + 1] {
            return false;
        }
        self.group_active[u] += 1;
        let now = self.engine.now;
        self.touch(r);
        let rep = &mut self.replicas[r as usize];
        rep.dormant = false;
        rep.alive = true;
        rep.believed = true;
        rep.hc_fails = 0;
        rep.activated_at = now;
        if !rep.routable() {
            self.group_down[u] += 1; // still ejected from an earlier time in service
        }
        self.start_health_checks(r, now);
        true
    }

    /// The last replica in service of subset u goes out of service (a
    /// released `scale`, a rollout's lower weight): it takes no new calls,
    /// finishes what it holds, and its capacity stops counting.
    pub(super) fn retire(&mut self, u: usize) {
        if self.group_active[u] == 0 {
            return;
        }
        let r = self.group_first[u] + self.group_active[u] - 1;
        if !self.replicas[r as usize].routable() {
            self.group_down[u] -= 1;
        }
        self.group_active[u] -= 1;
        self.touch(r);
        let (warmup, end, now) = (self.rec.warmup_ns, self.rec.end_ns, self.engine.now);
        let rep = &mut self.replicas[r as usize];
        rep.capacity_ns += super::in_service_ns(rep, warmup, end, now);
        rep.activated_at = Time::MAX;
        rep.dormant = true;
        rep.believed = false;
    }
    /// A replica dies by fault `bit`: its queued and in-service requests
    /// fail at once (connection reset) and carry the fault; it refuses new
    /// ones until restarted.
    pub(super) fn kill_replica(&mut self, r: u32, bit: u64) {
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
                gs.latency.record(self.engine.now - task.arrival);
            }
            if self.replicas[r as usize].canary {
                self.canary_answered(task.arrival, false, Some(self.engine.now - task.arrival), false);
            }
            let from = self.calls.slots[task.call as usize].from_region as usize;
            if self.awaits(task.call, task.call_epoch, task.attempt) {
                self.calls.slots[task.call as usize].touched |= bit;
            }
            self.tel_task_end(t, crate::observe::telemetry::Cause::Reset, false, bit);
            self.free_task(t);
            self.charge_try_ended(task.charge, false);
            self.respond(task.call, task.call_epoch, task.attempt, from, r, Reply::fail(true));
        }
        self.replicas[r as usize].busy = 0;
    }
}
