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
                    for s in 0..self.topo.services.len() {
                        for rep in self.group_range(s * self.nr + r) {
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
    /// The next dormant replica of group g comes up (a `scale` guardrail's
    /// new capacity): it joins the group's replicas in service. Returns
    /// whether there was one.
    pub(super) fn wake(&mut self, g: usize) -> bool {
        let r = self.group_first[g] + self.group_active[g];
        if r >= self.group_first[g + 1] {
            return false;
        }
        self.group_active[g] += 1;
        let now = self.engine.now;
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
