//! Guardrails: burn-rate alerts on SLOs and the remediation they trigger.
//!
//! Each guardrail watches its SLO's good and bad events as requests finish
//! (after warm-up), in one-second slots. Every second the engine computes
//! the burn rate — the bad share divided by the error budget (1 − objective)
//! — over `window_s` and, for multiwindow alerts, over `short_window_s`. The
//! first time every window burns at least `burn_rate`, the alert is pending;
//! it fires (and the action starts) `detect_delay_s` later. Actions:
//! `failover` (calls to a service go to another service, or to a region),
//! `kill_switch` (calls go straight to their fallback), `shed` (a share of
//! the flows' arrivals is rejected), `scale` (replicas come up after a
//! provisioning delay), `rollback` (the rollout's new version is withdrawn).
//!
//! Without `release` an action stays, and the guardrail fires at most once.
//! With `release = { burn_rate, hold_s }`, once the action is in effect
//! every check asks whether every window burns below the release rate; when
//! they have for `hold_s` without a break, the action is undone (fail back,
//! kill switch off, shedding stops, the added replicas go out of service)
//! and the guardrail watches again: it may fire again (flapping, counted).
//! Time to detect and to mitigate are measured from the first fault start
//! (or the rollout's start), for the first firing; the time spent
//! mitigated adds up every period an action was in effect.

use std::collections::VecDeque;

use super::{Ev, Replication};
use crate::model::{Action, NS_PER_S, SloKind};
use crate::observe::Outcome;
use crate::sim::engine::Time;

/// What one guardrail did in one replication.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GuardOutcome {
    /// When the alert first fired.
    pub fired_ns: Option<u64>,
    /// When the action first took effect (for `scale`, when the replicas came up).
    pub mitigated_ns: Option<u64>,
    /// Error budget of the guarded SLO spent before mitigation (1 = all of it).
    pub budget_before: f64,
    /// Requests the action rejected (`shed`).
    pub shed: u64,
    /// Times it fired (more than once only with `release`).
    pub firings: u32,
    /// Time its action was in effect, summed over its firings, up to the end of the run.
    pub mitigated_total_ns: u64,
}

/// Where a guardrail stands.
#[derive(Clone, Copy, Debug, PartialEq)]
enum GuardState {
    /// Watching its windows.
    Watching,
    /// Fired: its action is on its way (detection, provisioning).
    Firing,
    /// Its action is in effect since `since`; with a release, the windows
    /// have all burned below the release rate since `below_since`.
    Acting { since: Time, below_since: Option<Time> },
}

/// A sliding window of one-second slots.
#[derive(Clone, Debug, Default)]
struct Window {
    len_s: u64,
    slots: VecDeque<(u64, u64, u64)>,
    valid: u64,
    bad: u64,
}

impl Window {
    fn new(len_ns: u64) -> Self {
        Window {
            len_s: (len_ns / 1_000_000_000).max(1),
            ..Default::default()
        }
    }

    /// Closes second `sec` with its counts and drops what fell out.
    fn push(&mut self, sec: u64, valid: u64, bad: u64) {
        self.slots.push_back((sec, valid, bad));
        self.valid += valid;
        self.bad += bad;
        while let Some(&(s, v, b)) = self.slots.front() {
            if s + self.len_s > sec {
                break;
            }
            self.slots.pop_front();
            self.valid -= v;
            self.bad -= b;
        }
    }

    fn burn(&self, budget: f64) -> f64 {
        if self.valid == 0 {
            0.0
        } else {
            self.bad as f64 / self.valid as f64 / budget
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Monitor {
    long: Window,
    short: Option<Window>,
    /// Counts of the second in progress.
    cur_valid: u64,
    cur_bad: u64,
    state: GuardState,
    /// Counted bad events so far, and at mitigation; counted valid events.
    bad_total: u64,
    valid_total: u64,
    bad_at_mitigation: Option<u64>,
    pub outcome: GuardOutcome,
}

/// Guardrail state of one replication, and the actions in force.
#[derive(Clone, Debug, Default)]
pub(super) struct Guardrails {
    pub monitors: Vec<Monitor>,
    /// Per service: calls go to this service instead.
    pub redirect: Vec<Option<u32>>,
    /// Per service: calls go to this region.
    pub pinned: Vec<Option<u16>>,
    /// Per service: calls go straight to their fallback.
    pub switched: Vec<bool>,
    /// Active shedding: (share, flow mask, guardrail).
    pub shedding: Vec<(f64, u64, usize)>,
    /// A redirect or a kill switch is in force (the per-try fast path).
    pub acting: bool,
}

impl Guardrails {
    pub(super) fn new(scn: &crate::model::Scenario, services: usize) -> Self {
        Guardrails {
            monitors: scn
                .guardrails
                .iter()
                .map(|g| Monitor {
                    long: Window::new(g.window_ns),
                    short: g.short_window_ns.map(Window::new),
                    cur_valid: 0,
                    cur_bad: 0,
                    state: GuardState::Watching,
                    bad_total: 0,
                    valid_total: 0,
                    bad_at_mitigation: None,
                    outcome: GuardOutcome::default(),
                })
                .collect(),
            redirect: vec![None; services],
            pinned: vec![None; services],
            switched: vec![false; services],
            shedding: Vec::new(),
            acting: false,
        }
    }

    /// The run is over at `end`: actions still in effect stop counting time there.
    pub(super) fn close(&mut self, end: Time) {
        for m in &mut self.monitors {
            if let GuardState::Acting { since, .. } = m.state {
                m.outcome.mitigated_total_ns += end.saturating_sub(since);
                m.state = GuardState::Watching;
            }
        }
    }

    /// Recomputes whether a redirect or a kill switch is in force.
    fn refresh_acting(&mut self) {
        self.acting = self.redirect.iter().any(Option::is_some) || self.switched.iter().any(|s| *s);
    }

    /// The outcomes, with the budget spent before mitigation.
    pub(super) fn outcomes(&self, scn: &crate::model::Scenario) -> Vec<GuardOutcome> {
        self.monitors
            .iter()
            .zip(&scn.guardrails)
            .map(|(m, g)| {
                let budget = (1.0 - scn.slos[g.slo].objective) * m.valid_total as f64;
                let bad = m.bad_at_mitigation.unwrap_or(m.bad_total);
                GuardOutcome {
                    budget_before: if budget > 0.0 { bad as f64 / budget } else { 0.0 },
                    ..m.outcome
                }
            })
            .collect()
    }
}

impl Replication<'_> {
    /// A counted customer request ended: feed the monitors of its SLOs.
    pub(super) fn guard_observe(&mut self, flow: u16, outcome: Outcome, latency_ns: Option<u64>, wrong: bool) {
        if self.guardrails.monitors.is_empty() {
            return;
        }
        for (i, g) in self.scn.guardrails.iter().enumerate() {
            let slo = &self.scn.slos[g.slo];
            if slo.flow.is_some_and(|f| f.0 != flow) {
                continue;
            }
            let good = match slo.kind {
                SloKind::Availability => outcome != Outcome::Failed,
                SloKind::Latency => latency_ns.is_some_and(|l| l <= slo.threshold_ns.unwrap_or(u64::MAX)),
                SloKind::Correctness => !wrong,
                SloKind::Backlog => continue,
            };
            let m = &mut self.guardrails.monitors[i];
            m.cur_valid += 1;
            m.cur_bad += !good as u64;
            m.valid_total += 1;
            m.bad_total += !good as u64;
        }
    }

    /// Schedules the once-a-second evaluation.
    pub(super) fn schedule_guard_checks(&mut self) {
        if !self.scn.guardrails.is_empty() {
            self.engine.schedule(1_000_000_000, Ev::GuardCheck);
        }
    }

    /// Closes the second; fires the guardrails whose windows all burn, and
    /// releases those whose windows have burned below their release rate
    /// long enough.
    pub(super) fn on_guard_check(&mut self) {
        let sec = self.engine.now / 1_000_000_000;
        let now = self.engine.now;
        for i in 0..self.guardrails.monitors.len() {
            let g = &self.scn.guardrails[i];
            let budget = 1.0 - self.scn.slos[g.slo].objective;
            let m = &mut self.guardrails.monitors[i];
            let (v, b) = (m.cur_valid, m.cur_bad);
            m.cur_valid = 0;
            m.cur_bad = 0;
            m.long.push(sec, v, b);
            if let Some(w) = m.short.as_mut() {
                w.push(sec, v, b);
            }
            // Every window at or above `rate`.
            let all_at = |m: &Monitor, rate: f64| {
                m.long.burn(budget) >= rate && m.short.as_ref().is_none_or(|w| w.burn(budget) >= rate)
            };
            // Every window below `rate`.
            let all_below = |m: &Monitor, rate: f64| {
                m.long.burn(budget) < rate && m.short.as_ref().is_none_or(|w| w.burn(budget) < rate)
            };
            match (m.state, g.release) {
                (GuardState::Watching, _)
                    if (m.outcome.firings == 0 || g.release.is_some()) && all_at(m, g.burn_rate) =>
                {
                    m.state = GuardState::Firing;
                    m.outcome.firings += 1;
                    let at = now + g.detect_delay_ns;
                    m.outcome.fired_ns.get_or_insert(at);
                    self.engine.schedule(at, Ev::GuardAct(i as u16));
                }
                (GuardState::Acting { since, below_since }, Some(rel)) => {
                    let below_since = all_below(m, rel.burn_rate).then(|| below_since.unwrap_or(now));
                    m.state = GuardState::Acting { since, below_since };
                    if below_since.is_some_and(|b| now - b >= rel.hold_ns) {
                        self.release(i);
                    }
                }
                _ => {}
            }
        }
        if self.engine.now + NS_PER_S as u64 <= self.scn.duration_ns {
            self.engine.schedule(self.engine.now + NS_PER_S as u64, Ev::GuardCheck);
        }
    }

    /// The alert fired: the action starts.
    pub(super) fn on_guard_act(&mut self, i: usize) {
        match self.scn.guardrails[i].action.clone() {
            Action::FailoverService { from, to } => {
                self.guardrails.redirect[from.index()] = Some(to.0);
                self.guardrails.acting = true;
            }
            Action::FailoverRegion { service, to } => self.guardrails.pinned[service.index()] = Some(to.0),
            Action::KillSwitch { service } => {
                self.guardrails.switched[service.index()] = true;
                self.guardrails.acting = true;
            }
            Action::Shed { share, flows } => self.guardrails.shedding.push((share, flows, i)),
            Action::Scale { delay_ns, .. } => {
                self.engine
                    .schedule(self.engine.now + delay_ns, Ev::GuardScaled(i as u16));
                return;
            }
            Action::Rollback => self.withdraw(super::Withdrawal::Guardrail),
        }
        self.mitigated(i);
    }

    /// The SLO has recovered: the action is undone, the guardrail watches again.
    fn release(&mut self, i: usize) {
        let now = self.engine.now;
        match self.scn.guardrails[i].action {
            Action::FailoverService { from, .. } => self.guardrails.redirect[from.index()] = None,
            Action::FailoverRegion { service, .. } => self.guardrails.pinned[service.index()] = None,
            Action::KillSwitch { service } => self.guardrails.switched[service.index()] = false,
            Action::Shed { .. } => self.guardrails.shedding.retain(|&(_, _, g)| g != i),
            Action::Scale { service, replicas, .. } => {
                // The added replicas go (the service's own are never taken).
                let own = self.topo.services[service.index()].replicas;
                for r in 0..self.nr {
                    let g = service.index() * self.nr + r;
                    for _ in 0..replicas {
                        if self.group_active[g] > own {
                            self.retire(g);
                        }
                    }
                }
            }
            // A rollback has no release (refused when the scenario is read).
            Action::Rollback => {}
        }
        self.guardrails.refresh_acting();
        let m = &mut self.guardrails.monitors[i];
        if let GuardState::Acting { since, .. } = m.state {
            m.outcome.mitigated_total_ns += now - since;
        }
        m.state = GuardState::Watching;
    }

    /// New replicas are up: the dormant replicas of the service wake.
    pub(super) fn on_guard_scaled(&mut self, i: usize) {
        if let Action::Scale { service, replicas, .. } = self.scn.guardrails[i].action {
            for r in 0..self.nr {
                let g = service.index() * self.nr + r;
                for _ in 0..replicas {
                    self.wake(g);
                }
            }
        }
        self.mitigated(i);
    }

    fn mitigated(&mut self, i: usize) {
        let now: Time = self.engine.now;
        let m = &mut self.guardrails.monitors[i];
        if m.outcome.mitigated_ns.is_none() {
            m.outcome.mitigated_ns = Some(now);
            m.bad_at_mitigation = Some(m.bad_total);
        }
        m.state = GuardState::Acting {
            since: now,
            below_since: None,
        };
        self.tel_guardrail(i);
    }

    /// Whether a new arrival of `flow` is shed (and counts it).
    pub(super) fn shed(&mut self, flow: u16) -> bool {
        for k in 0..self.guardrails.shedding.len() {
            let (share, mask, i) = self.guardrails.shedding[k];
            if mask & (1 << flow) != 0 && rand::RngExt::random::<f64>(&mut self.rng.resilience) < share {
                self.guardrails.monitors[i].outcome.shed += 1;
                return true;
            }
        }
        false
    }
}
