//! A rollout's analysis run, as Argo Rollouts evaluates one (its
//! `analysis/analysis.go` and `utils/evaluate/evaluate.go`): each
//! measurement is judged against the limits, counted, and the counts decide
//! the run.
//!
//! * A measurement looks at what the new version answered in its window:
//!   *inconclusive* when it answered nothing, *failed* when its error rate,
//!   p99 latency or wrong-output rate is above its limit, else *successful*.
//!   (Every limit is judged in the one measurement: Argo with one metric
//!   per limit counts failures per metric, which is the same when
//!   `failure_limit` is 0.)
//! * After each measurement: *failed* once failed measurements exceed
//!   `failure_limit`, *inconclusive* once inconclusive ones exceed
//!   `inconclusive_limit` — checked in that order, the last that holds
//!   winning, so inconclusive overrides failed as in Argo — else
//!   *successful* once `count` measurements were taken, else running.
//!   With `failure_limit: 3` the fourth failed measurement fails the run.

use crate::model::Analysis;
use crate::observe::Histogram;

/// What the new version answered during one measurement window.
#[derive(Clone, Debug, Default)]
pub struct Window {
    pub requests: u64,
    pub failed: u64,
    /// Answers carrying a wrong output of the new version's own.
    pub wrong: u64,
    /// Latency at the new version's replicas (arrival to answer).
    pub latency: Histogram,
}

impl Window {
    /// One answer of the new version: `latency_ns` is `None` for a refusal
    /// (it never held a server).
    pub fn answered(&mut self, ok: bool, latency_ns: Option<u64>, wrong: bool) {
        self.requests += 1;
        self.failed += !ok as u64;
        self.wrong += wrong as u64;
        if let Some(l) = latency_ns {
            self.latency.record(l);
        }
    }

    /// Empties the window for the next measurement (keeping its memory).
    pub fn clear(&mut self) {
        self.requests = 0;
        self.failed = 0;
        self.wrong = 0;
        self.latency.clear();
    }
}

/// One measurement's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measurement {
    Successful,
    Failed,
    Inconclusive,
}

/// Where an analysis run stands after a measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Running,
    Successful,
    /// The rollout aborts.
    Failed,
    /// The rollout pauses (a person would decide).
    Inconclusive,
}

/// The counts of one analysis run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnalysisRun {
    pub measured: u32,
    pub failed: u32,
    pub inconclusive: u32,
}

/// Judges one window against the analysis' limits.
pub fn measure(a: &Analysis, w: &Window) -> Measurement {
    if w.requests == 0 {
        return Measurement::Inconclusive;
    }
    let n = w.requests as f64;
    let errors = a.max_error_rate.is_some_and(|m| w.failed as f64 / n > m);
    let wrong = a.max_wrong_rate.is_some_and(|m| w.wrong as f64 / n > m);
    // A window whose answers were all refusals has no latency: its p99 passes.
    let slow = a
        .max_p99_ns
        .is_some_and(|m| w.latency.count() > 0 && w.latency.quantile(0.99) > m);
    if errors || wrong || slow {
        Measurement::Failed
    } else {
        Measurement::Successful
    }
}

impl AnalysisRun {
    /// Counts a measurement and returns the run's verdict.
    pub fn record(&mut self, a: &Analysis, m: Measurement) -> Verdict {
        self.measured += 1;
        match m {
            Measurement::Failed => self.failed += 1,
            Measurement::Inconclusive => self.inconclusive += 1,
            Measurement::Successful => {}
        }
        self.verdict(a)
    }

    /// The verdict of the counts so far.
    pub fn verdict(&self, a: &Analysis) -> Verdict {
        let mut v = Verdict::Running;
        if a.failure_limit.is_some_and(|l| self.failed > l) {
            v = Verdict::Failed;
        }
        if self.inconclusive > a.inconclusive_limit {
            v = Verdict::Inconclusive;
        }
        if v == Verdict::Running && a.count.is_some_and(|c| self.measured >= c) {
            v = Verdict::Successful;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(failure_limit: Option<u32>, inconclusive_limit: u32, count: Option<u32>) -> Analysis {
        Analysis {
            max_error_rate: Some(0.05),
            max_p99_ns: None,
            max_wrong_rate: None,
            interval_ns: Some(1),
            initial_delay_ns: 0,
            count,
            failure_limit,
            inconclusive_limit,
        }
    }

    fn window(requests: u64, failed: u64) -> Window {
        Window {
            requests,
            failed,
            ..Window::default()
        }
    }

    #[test]
    fn the_limit_plus_one_th_failure_fails_the_run() {
        // failure_limit 3 (Argo's docs say "three"; its code fails on failed > 3): three failures keep it running, the fourth fails it.
        let a = analysis(Some(3), 0, Some(10));
        let mut run = AnalysisRun::default();
        for k in 1..=3 {
            assert_eq!(run.record(&a, Measurement::Failed), Verdict::Running, "failure {k}");
        }
        assert_eq!(run.record(&a, Measurement::Failed), Verdict::Failed);
    }

    #[test]
    fn measurements_judge_every_limit_and_no_traffic_is_inconclusive() {
        // 6 failed of 100 is above 5%; exactly 5% is not; no request at all is inconclusive; a p99 limit fails a slow window.
        let a = analysis(Some(0), 0, Some(1));
        assert_eq!(measure(&a, &window(100, 6)), Measurement::Failed);
        assert_eq!(measure(&a, &window(100, 5)), Measurement::Successful);
        assert_eq!(measure(&a, &window(0, 0)), Measurement::Inconclusive);
        let slow = Analysis {
            max_error_rate: None,
            max_p99_ns: Some(100),
            ..a.clone()
        };
        let mut w = window(0, 0);
        for l in 1..=100 {
            w.answered(true, Some(l * 2), false);
        }
        assert_eq!(measure(&slow, &w), Measurement::Failed, "p99 ≈ 198 > 100");
        let wrong = Analysis {
            max_error_rate: None,
            max_wrong_rate: Some(0.01),
            ..a
        };
        let mut w = window(0, 0);
        for k in 0..100 {
            w.answered(true, Some(1), k < 2);
        }
        assert_eq!(measure(&wrong, &w), Measurement::Failed, "2% wrong > 1%");
    }

    #[test]
    fn inconclusive_overrides_failed_and_success_needs_the_count() {
        // Both limits exceeded at once: inconclusive wins (Argo checks it last); count reached with limits held: successful; -1 (None) never fails.
        let a = analysis(Some(0), 0, Some(3));
        let both = AnalysisRun {
            measured: 2,
            failed: 1,
            inconclusive: 1,
        };
        assert_eq!(both.verdict(&a), Verdict::Inconclusive);
        let mut run = AnalysisRun::default();
        assert_eq!(run.record(&a, Measurement::Successful), Verdict::Running);
        assert_eq!(run.record(&a, Measurement::Successful), Verdict::Running);
        assert_eq!(run.record(&a, Measurement::Successful), Verdict::Successful);
        let never = analysis(None, 0, Some(2));
        let mut run = AnalysisRun::default();
        assert_eq!(run.record(&never, Measurement::Failed), Verdict::Running);
        assert_eq!(run.record(&never, Measurement::Failed), Verdict::Successful);
        let background = analysis(Some(0), 0, None);
        let mut run = AnalysisRun::default();
        for _ in 0..1000 {
            assert_eq!(run.record(&background, Measurement::Successful), Verdict::Running);
        }
    }
}
