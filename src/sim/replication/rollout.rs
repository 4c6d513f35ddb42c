//! A canary rollout (Argo Rollouts with Istio traffic routing): the steps,
//! the analyses and the weight.
//!
//! At `start_s` the steps run in order: `weight` sets the share of the
//! service's calls that go to the new version (routing draws it per call)
//! and brings up `ceil(weight × replicas)` new-version replicas per region;
//! `pause_s` waits; a step `analysis` blocks until it succeeds. The
//! background analysis starts when step `starting_step` is reached. After
//! the last step the rollout is complete: the new version takes 100%.
//!
//! Each analysis measures what the new version answered (refused,
//! failed or served; latency at its replicas; wrong outputs of its own) in
//! windows of `interval_s` ending at each measurement, the first
//! `initial_delay_s` after it starts ([`crate::sim::mechanisms::analysis`]
//! judges them). A failed analysis aborts: the weight goes to 0 at once and
//! the new version's replicas take no more calls (they finish what they
//! hold). An inconclusive one pauses the rollout where it stands for the
//! rest of the run: no more steps or measurements. A `rollback` guardrail
//! withdraws the new version as an abort does, whether or not it reached
//! 100% (and does nothing before the rollout starts or after a withdrawal).
//!
//! Memory is bounded by the steps: one window per running analysis and a
//! log of weight changes (at most one per step, plus a withdrawal).

use super::{Ev, Replication};
use crate::model::{Analysis, Rollout, RolloutStep};
use crate::sim::engine::Time;
use crate::sim::mechanisms::analysis::{AnalysisRun, Verdict, Window, measure};

/// Who withdrew the new version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withdrawal {
    /// A failed analysis (Argo's abort).
    Analysis,
    /// A `rollback` guardrail.
    Guardrail,
}

/// What the rollout did in one replication.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RolloutOutcome {
    /// When the new version first took 100% of the calls.
    pub reached_full_ns: Option<u64>,
    /// When it was withdrawn, and by what.
    pub rolled_back_ns: Option<u64>,
    pub rolled_back_by: Option<Withdrawal>,
    /// When an inconclusive analysis paused the rollout.
    pub paused_ns: Option<u64>,
    /// Requests (tries) the new version answered, and those that failed,
    /// counted as every figure is (arriving after warm-up).
    pub exposed_requests: u64,
    pub exposed_failed: u64,
    /// `(time, weight percent)` at each change of the weight, in time order.
    pub weights: Vec<(u64, f64)>,
}

/// Where the rollout stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before `start_s`.
    Waiting,
    Running,
    /// Every step done: the new version serves everything.
    Complete,
    /// Paused by an inconclusive analysis.
    Paused,
    /// Withdrawn (aborted, or rolled back by a guardrail).
    Withdrawn,
}

/// One running analysis: its counts and its current window.
#[derive(Clone, Debug)]
struct Run {
    counts: AnalysisRun,
    window: Window,
    /// The window collects answers (closed before the first one opens).
    open: bool,
    epoch: u32,
}

/// The rollout's state in one replication.
#[derive(Clone, Debug)]
pub(super) struct RolloutState {
    phase: Phase,
    /// The next step to run.
    step: usize,
    /// Invalidates pending step timers (a pause's end) when the rollout stops.
    epoch: u32,
    /// The step analysis (0) and the background one (1) while they run.
    runs: [Option<Run>; 2],
    background_started: bool,
    /// Numbers analysis runs, so measurements of a stopped run are ignored.
    next_run: u32,
    pub outcome: RolloutOutcome,
}

impl RolloutState {
    pub(super) fn new() -> Self {
        RolloutState {
            phase: Phase::Waiting,
            step: 0,
            epoch: 0,
            runs: [None, None],
            background_started: false,
            next_run: 0,
            outcome: RolloutOutcome::default(),
        }
    }
}

impl<'a> Replication<'a> {
    fn rollout_def(&self) -> &'a Rollout {
        let scn = self.scn;
        scn.rollout.as_ref().expect("rollout events only with a [rollout]")
    }

    /// The analysis a run follows: the current step's, or the background one.
    fn analysis_def(&self, which: usize) -> &'a Analysis {
        let ro = self.rollout_def();
        let state = self.rollout.as_ref().expect("rollout state with a [rollout]");
        match (which, &ro.background) {
            (1, Some((a, _))) => a,
            _ => match &ro.steps[state.step] {
                RolloutStep::Analysis(a) => a,
                other => unreachable!("a step analysis runs at an analysis step, found {other:?}"),
            },
        }
    }

    /// The rollout starts, or a pause ended: run steps until one waits.
    pub(super) fn on_rollout_step(&mut self, epoch: u32) {
        let Some(state) = self.rollout.as_mut() else { return };
        if state.epoch != epoch || !matches!(state.phase, Phase::Waiting | Phase::Running) {
            return;
        }
        state.phase = Phase::Running;
        self.run_steps();
    }

    /// Runs steps from the current one until a pause or an analysis waits,
    /// or none is left (the rollout is complete).
    fn run_steps(&mut self) {
        let ro = self.rollout_def();
        loop {
            let state = self.rollout.as_mut().expect("rollout state with a [rollout]");
            if state.phase != Phase::Running {
                return;
            }
            let k = state.step;
            if let Some((_, starting)) = &ro.background
                && k == *starting
                && !state.background_started
            {
                state.background_started = true;
                self.start_analysis(1);
                continue;
            }
            match ro.steps.get(k) {
                None => {
                    self.set_weight(100.0);
                    let state = self.rollout.as_mut().expect("rollout state");
                    state.phase = Phase::Complete;
                    self.stop_analysis(1);
                    return;
                }
                Some(RolloutStep::Weight(w)) => {
                    state.step += 1;
                    self.set_weight(*w);
                }
                Some(RolloutStep::Pause(ns)) => {
                    state.step += 1;
                    if *ns > 0 {
                        let epoch = state.epoch;
                        self.engine.schedule(self.engine.now + ns, Ev::RolloutStep { epoch });
                        return;
                    }
                }
                Some(RolloutStep::Analysis(_)) => {
                    self.start_analysis(0);
                    return;
                }
            }
        }
    }

    /// Starts analysis `which` now: its first measurement after the
    /// initial delay, its window open for the `interval_s` before it.
    fn start_analysis(&mut self, which: usize) {
        let a = self.analysis_def(which);
        let now = self.engine.now;
        let state = self.rollout.as_mut().expect("rollout state");
        state.next_run = state.next_run.wrapping_add(1);
        let epoch = state.next_run;
        if a.count == Some(0) {
            // Argo: `count: 0` does not run; the step passes.
            if which == 0 {
                self.analysis_done(0, Verdict::Successful);
            }
            return;
        }
        let first = now + a.initial_delay_ns;
        let opens = a.interval_ns.map_or(now, |i| first.saturating_sub(i).max(now));
        state.runs[which] = Some(Run {
            counts: AnalysisRun::default(),
            window: Window::default(),
            open: opens == now,
            epoch,
        });
        let which = which as u8;
        if opens > now {
            self.engine.schedule(opens, Ev::AnalysisOpen { which, epoch });
        }
        self.engine.schedule(first, Ev::AnalysisMeasure { which, epoch });
    }

    fn stop_analysis(&mut self, which: usize) {
        if let Some(state) = self.rollout.as_mut() {
            state.runs[which] = None;
        }
    }

    /// The run of analysis `which` if `epoch` is its current one.
    fn run_of(&mut self, which: usize, epoch: u32) -> Option<&mut Run> {
        let state = self.rollout.as_mut()?;
        state.runs[which].as_mut().filter(|r| r.epoch == epoch)
    }

    pub(super) fn on_analysis_open(&mut self, which: usize, epoch: u32) {
        if let Some(run) = self.run_of(which, epoch) {
            run.open = true;
        }
    }

    /// A measurement: judged, counted; the next one `interval_s` later
    /// (its window opening now), or the verdict acted on.
    pub(super) fn on_analysis_measure(&mut self, which: usize, epoch: u32) {
        if self.run_of(which, epoch).is_none() {
            return; // a run that has stopped
        }
        let a = self.analysis_def(which);
        let now = self.engine.now;
        let Some(run) = self.run_of(which, epoch) else { return };
        let m = measure(a, &run.window);
        run.window.clear();
        run.open = true;
        let verdict = run.counts.record(a, m);
        match (verdict, a.interval_ns) {
            (Verdict::Running, Some(interval)) => {
                let which = which as u8;
                self.engine
                    .schedule(now + interval, Ev::AnalysisMeasure { which, epoch });
            }
            // One measurement without an interval: its verdict is final.
            (Verdict::Running, None) => self.analysis_done(which, Verdict::Successful),
            (v, _) => self.analysis_done(which, v),
        }
    }

    /// An analysis run ended with verdict `v`.
    fn analysis_done(&mut self, which: usize, v: Verdict) {
        self.stop_analysis(which);
        match v {
            Verdict::Running => {}
            Verdict::Successful => {
                // A step analysis lets the steps go on; a background one just ends.
                let state = self.rollout.as_mut().expect("rollout state");
                if which == 0 && state.phase == Phase::Running {
                    state.step += 1;
                    self.run_steps();
                }
            }
            Verdict::Failed => self.withdraw(Withdrawal::Analysis),
            Verdict::Inconclusive => {
                let now = self.engine.now;
                let state = self.rollout.as_mut().expect("rollout state");
                if state.phase == Phase::Running {
                    state.phase = Phase::Paused;
                    state.epoch = state.epoch.wrapping_add(1);
                    state.runs = [None, None];
                    state.outcome.paused_ns = Some(now);
                }
            }
        }
    }

    /// Withdraws the new version: weight 0, the stable version serves
    /// everything, the rollout is over. Nothing before the start or twice.
    pub(super) fn withdraw(&mut self, by: Withdrawal) {
        let now = self.engine.now;
        let Some(state) = self.rollout.as_mut() else { return };
        if matches!(state.phase, Phase::Waiting | Phase::Withdrawn) {
            return;
        }
        state.phase = Phase::Withdrawn;
        state.epoch = state.epoch.wrapping_add(1);
        state.runs = [None, None];
        state.outcome.rolled_back_ns = Some(now);
        state.outcome.rolled_back_by = Some(by);
        self.set_weight(0.0);
        // The blast radius's window ends with the new version (or the last fault).
        let (start, _) = self.rec.fault_window_ns;
        let end = now.min(self.scn.duration_ns).max(self.faults_end_ns).max(start);
        self.rec.set_fault_window(start, end);
    }

    /// Sets the new version's weight (percent): the share routing sends it,
    /// and `ceil(weight × replicas)` of its replicas in service per region.
    fn set_weight(&mut self, w: f64) {
        let now: Time = self.engine.now;
        let ro = self.rollout_def();
        let state = self.rollout.as_mut().expect("rollout state");
        if state.outcome.weights.last().is_some_and(|&(_, last)| last == w) {
            return;
        }
        state.outcome.weights.push((now, w));
        if w >= 100.0 {
            state.outcome.reached_full_ns.get_or_insert(now);
        }
        self.canary_share = w / 100.0;
        self.tel_rollout_step(w);
        // Integer percent of a replica count can land a hair above a whole
        // number (0.3 × 10 = 3.0000000000000004): round that away first.
        let target = ((w * ro.version.replicas as f64 / 100.0) - 1e-9).ceil().max(0.0) as u32;
        for r in 0..self.nr {
            if !ro.version.present[r] {
                continue;
            }
            let u = self.stable_groups + r;
            while self.group_active[u] < target && self.wake(u) {}
            while self.group_active[u] > target {
                self.retire(u);
            }
        }
    }

    /// A new-version replica answered a request that arrived at `arrival`:
    /// exposure, and the windows of the analyses that are measuring.
    pub(super) fn canary_answered(&mut self, arrival: Time, ok: bool, latency_ns: Option<u64>, wrong: bool) {
        let counted = self.rec.counted(arrival);
        let Some(state) = self.rollout.as_mut() else { return };
        if counted {
            state.outcome.exposed_requests += 1;
            state.outcome.exposed_failed += !ok as u64;
        }
        for run in state.runs.iter_mut().flatten() {
            if run.open {
                run.window.answered(ok, latency_ns, wrong);
            }
        }
    }
}
