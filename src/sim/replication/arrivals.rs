//! Arrivals: each region's Poisson stream of customer requests (its rate
//! piecewise constant under surges), the flow each one picks, and the root
//! call that carries it into the mesh. A guardrail's shedding turns some
//! away at the door.

use rand::RngExt;

use super::*;

impl Replication<'_> {
    /// Arrival rate of a region at time t (base rate × active surges).
    pub(super) fn rate_at(&self, region: usize, t: Time) -> f64 {
        let mut rate = self.scn.rate_per_s[region];
        for s in &self.scn.surges {
            if s.regions[region] && t >= s.start_ns && t < s.end_ns {
                rate *= s.multiplier;
            }
        }
        rate
    }
    /// The next time after t at which a region's rate may change.
    pub(super) fn next_change(&self, t: Time) -> Time {
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
    pub(super) fn schedule_arrival(&mut self, region: u16, from: Time) {
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
            self.engine.schedule(next.max(from), Ev::Arrival { region });
            return;
        }
    }
    pub(super) fn on_arrival(&mut self, region: u16) {
        self.peer_events += 1;
        self.arrivals += 1;
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
        let arrival = self.engine.now;
        let counted = self.rec.counted(arrival);
        if counted {
            self.rec.flows[flow].requests += 1;
        }
        if !self.guardrails.shedding.is_empty() && self.shed(flow as u16) {
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
                self.tel_shed(flow as u16, region);
            }
            self.schedule_arrival(region, self.engine.now);
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
        self.tel_root(call, flow as u16, region);
        self.send_try(call);
        self.schedule_arrival(region, self.engine.now);
    }
}
