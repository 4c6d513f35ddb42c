//! Routing: which replica a call goes to, and what the mesh believes about
//! each replica's health.
//!
//! A call goes to the caller's region when the target has a routable replica
//! there, else (unless `local_only`) to the nearest region that has one. A
//! replica is routable while health checks believe it healthy and outlier
//! detection has not ejected it. When no replica anywhere is routable the
//! mesh routes as if all were (Envoy's panic mode), so a total outage shows
//! up as refusals, not as an empty route.
//!
//! With a rollout, a call to its service first picks a version, as Istio's
//! weighted routes do: the new version with the weight's probability, then
//! a replica of that version's subset by the rules above (the versions do
//! not stand in for each other).

use rand::RngExt;

use super::{Ev, Replica, Replication};
use crate::model::{Balancer, Locality, ServiceId};
use crate::sim::mechanisms::outlier::max_ejected;

impl Replication<'_> {
    /// Picks a replica of `s` for a call from region `from`, or `None`.
    pub(super) fn route(&mut self, s: ServiceId, from: usize) -> Option<u32> {
        // The subsets of the chosen version are `base + region`.
        let base = if s.0 == self.canary_service && self.new_version_takes_it() {
            self.stable_groups
        } else {
            s.index() * self.nr
        };
        self.route_with(s, from, true, base)
            .or_else(|| self.route_with(s, from, false, base))
    }

    /// Whether a call to the rollout's service goes to the new version: a
    /// draw from the rollout's own stream, only while the weight is partial.
    fn new_version_takes_it(&mut self) -> bool {
        let share = self.canary_share;
        share >= 1.0 || (share > 0.0 && self.rng.rollout.random::<f64>() < share)
    }

    fn route_with(&mut self, s: ServiceId, from: usize, healthy_only: bool, base: usize) -> Option<u32> {
        let svc = &self.topo.services[s.index()];
        // A guardrail's regional failover pins the service to one region.
        if let Some(r) = self.guardrails.pinned[s.index()] {
            let r = r as usize;
            return if svc.present[r] {
                self.pick(base + r, healthy_only)
            } else {
                None
            };
        }
        match svc.locality {
            Locality::LocalOnly => {
                if svc.present[from] {
                    self.pick(base + from, healthy_only)
                } else {
                    None
                }
            }
            Locality::PreferLocal => {
                for k in 0..self.topo.nearest[from].len() {
                    let r = self.topo.nearest[from][k].index();
                    if svc.present[r]
                        && let Some(rep) = self.pick(base + r, healthy_only)
                    {
                        return Some(rep);
                    }
                }
                None
            }
            Locality::Any => {
                // Every reachable routable replica equally likely.
                let reachable = &self.topo.nearest[from];
                let count = |g: usize| self.usable(g, healthy_only);
                let total: u32 = reachable
                    .iter()
                    .filter(|r| svc.present[r.index()])
                    .map(|r| count(base + r.index()))
                    .sum();
                if total == 0 {
                    return None;
                }
                let mut k = self.rng.routing.random_range(0..total);
                for r in reachable {
                    if !svc.present[r.index()] {
                        continue;
                    }
                    let g = base + r.index();
                    let n = self.usable(g, healthy_only);
                    if k < n {
                        return Some(self.kth(g, k, healthy_only));
                    }
                    k -= n;
                }
                None
            }
        }
    }

    /// Replicas of group g in service (dormant ones are not counted).
    pub(super) fn group_len(&self, g: usize) -> u32 {
        self.group_active[g]
    }

    /// The replicas of group g in service.
    pub(super) fn group_range(&self, g: usize) -> std::ops::Range<u32> {
        self.group_first[g]..self.group_first[g] + self.group_active[g]
    }

    /// Replicas of group g a call may go to.
    fn usable(&self, g: usize, healthy_only: bool) -> u32 {
        if healthy_only {
            self.group_len(g) - self.group_down[g]
        } else {
            self.group_len(g)
        }
    }

    /// The k-th usable replica of group g.
    fn kth(&self, g: usize, k: u32, healthy_only: bool) -> u32 {
        let first = self.group_first[g];
        if !healthy_only || self.group_down[g] == 0 {
            return first + k;
        }
        self.group_range(g)
            .filter(|&r| self.replicas[r as usize].routable())
            .nth(k as usize)
            .unwrap_or(first)
    }

    /// The balancer's choice within a group, or `None` when no replica is usable.
    fn pick(&mut self, g: usize, healthy_only: bool) -> Option<u32> {
        let n = self.usable(g, healthy_only);
        if n == 0 {
            return None;
        }
        if n == 1 {
            return Some(self.kth(g, 0, healthy_only));
        }
        let s = if g < self.stable_groups {
            g / self.nr
        } else {
            self.canary_service as usize
        };
        Some(match self.topo.services[s].balancer {
            Balancer::RoundRobin => {
                // The rotation runs over all replicas, skipping unusable ones.
                let first = self.group_first[g];
                let len = self.group_len(g);
                let mut k = self.rr[g];
                for _ in 0..len {
                    let r = first + k % len;
                    k = (k + 1) % len;
                    if !healthy_only || self.replicas[r as usize].routable() {
                        self.rr[g] = k;
                        return Some(r);
                    }
                }
                first
            }
            Balancer::Random => {
                let k = self.rng.routing.random_range(0..n);
                self.kth(g, k, healthy_only)
            }
            Balancer::LeastOutstanding => {
                // Power of two choices; the first pick wins ties.
                let a = self.rng.routing.random_range(0..n);
                let mut b = self.rng.routing.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                let (ra, rb) = (self.kth(g, a, healthy_only), self.kth(g, b, healthy_only));
                let load = |r: &Replica| r.busy as usize + r.queue.len();
                if load(&self.replicas[rb as usize]) < load(&self.replicas[ra as usize]) {
                    rb
                } else {
                    ra
                }
            }
        })
    }

    /// Changes a replica's health belief or ejection, keeping group counts.
    pub(super) fn set_state(&mut self, r: u32, change: impl FnOnce(&mut Replica)) {
        let rep = &mut self.replicas[r as usize];
        let before = rep.routable();
        change(rep);
        let after = rep.routable();
        let g = rep.subset as usize;
        if rep.dormant {
            return; // out of service: not in its subset's counts
        }
        match (before, after) {
            (true, false) => self.group_down[g] += 1,
            (false, true) => self.group_down[g] -= 1,
            _ => {}
        }
    }

    /// First checks at a random phase within the interval, then periodic.
    /// Dormant replicas start theirs when they wake.
    pub(super) fn schedule_health_checks(&mut self) {
        for r in 0..self.replicas.len() as u32 {
            let s = self.replicas[r as usize].service as usize;
            if let Some(hc) = &self.topo.services[s].health_check
                && !self.replicas[r as usize].dormant
            {
                let phase = self.rng.resilience.random_range(0..hc.interval_ns.max(1));
                self.engine.schedule(phase, Ev::HealthCheck { replica: r });
                self.replicas[r as usize].hc_chain = true;
            }
        }
    }

    /// A replica that came up later is checked from one interval after `now`
    /// (unless the checks of an earlier time in service still run).
    pub(super) fn start_health_checks(&mut self, r: u32, now: crate::sim::engine::Time) {
        let s = self.replicas[r as usize].service as usize;
        if let Some(hc) = &self.topo.services[s].health_check
            && !self.replicas[r as usize].hc_chain
            && now + hc.interval_ns < self.scn.duration_ns
        {
            self.engine
                .schedule(now + hc.interval_ns, Ev::HealthCheck { replica: r });
            self.replicas[r as usize].hc_chain = true;
        }
    }

    /// A health check: a live replica passes; `unhealthy_after` consecutive
    /// failures make the mesh believe it unhealthy, one pass healthy again.
    pub(super) fn on_health_check(&mut self, r: u32) {
        let s = self.replicas[r as usize].service as usize;
        let Some(hc) = &self.topo.services[s].health_check else {
            return;
        };
        let (interval, threshold) = (hc.interval_ns, hc.unhealthy_after);
        if self.replicas[r as usize].dormant {
            // Taken out of service: its checks stop (they restart when it wakes).
            self.replicas[r as usize].hc_chain = false;
            return;
        }
        // A black-holed replica hangs on its health endpoint too.
        let g = self.replicas[r as usize].group as usize;
        if self.replicas[r as usize].alive && !self.active.blackholed(g) {
            self.set_state(r, |rep| {
                rep.hc_fails = 0;
                rep.believed = true;
            });
        } else {
            self.set_state(r, |rep| {
                rep.hc_fails += 1;
                if rep.hc_fails >= threshold {
                    rep.believed = false;
                }
            });
        }
        if self.engine.now + interval < self.scn.duration_ns {
            self.engine
                .schedule(self.engine.now + interval, Ev::HealthCheck { replica: r });
        } else {
            self.replicas[r as usize].hc_chain = false;
        }
    }

    /// Outlier detection: counts a replica's consecutive failed answers and
    /// ejects it (Envoy's consecutive 5xx), within `max_ejection_percent`.
    pub(super) fn replica_answered(&mut self, r: u32, ok: bool) {
        let (g, s) = {
            let rep = &self.replicas[r as usize];
            (rep.group as usize, rep.service as usize)
        };
        let Some(od) = &self.topo.services[s].outlier_detection else {
            return;
        };
        let rep = &mut self.replicas[r as usize];
        if !rep.outlier.answered(od, ok, rep.ejected) || rep.dormant {
            return;
        }
        // The share ejected is counted within the replica's subset (its version).
        let u = rep.subset as usize;
        let ejected = self
            .group_range(u)
            .filter(|&x| self.replicas[x as usize].ejected)
            .count();
        if ejected >= max_ejected(od, self.group_len(u)) {
            return;
        }
        self.set_state(r, |rep| rep.ejected = true);
        let duration = self.replicas[r as usize].outlier.eject(od);
        self.engine
            .schedule(self.engine.now + duration, Ev::EjectionEnd { replica: r });
        if self.rec.counted(self.engine.now) {
            self.rec.groups[g].ejections += 1;
        }
    }

    pub(super) fn on_ejection_end(&mut self, r: u32) {
        self.set_state(r, |rep| rep.ejected = false);
    }
}
