//! Verdicts: is the probability that a replication violates an SLO (or
//! breaches the declared blast radius) below a limit or above it — decided
//! with as few replications as the evidence allows, and saying how.
//!
//! # The question
//! Each verdict compares P(violate) with a limit L: an SLO's `[expect]
//! max_violation_probability`, `[expect] max_containment_breach_probability`,
//! or, for an SLO without an `[expect]` limit, L = 1/2 — does this
//! experiment violate the SLO more often than not? The verdict is *pass*
//! (P below L), *fail* (above) or *undecided*.
//!
//! # Two methods
//! * **Binomial** (exact): k violating replications of n; Clopper–Pearson
//!   bounds. Assumes nothing but independent replications, and needs many:
//!   with no violation at all, ln α / ln(1 − L) replications (59 for 5%).
//! * **Normal**: each replication's *margin* (its attainment minus the
//!   objective, taking the worst window when the SLO has one; violated
//!   exactly when negative) carries far more than one bit. If margins are
//!   normal with mean μ and standard deviation σ, P(violate) = Φ(−μ/σ), and
//!   √n·m̄/s follows a noncentral t distribution with n − 1 degrees of
//!   freedom and noncentrality √n·μ/σ, which gives exact confidence bounds
//!   on P(violate) (the one-sided normal tolerance bound, inverted). The
//!   model is used only when the data support it: at least [`NORMAL_MIN`]
//!   replications, margins with some spread, the Anderson–Darling test not
//!   rejecting normality at [`NORMALITY_P`], and bounds that do not
//!   contradict the violation count. Otherwise the binomial decides.
//!
//! # Sequential looks and the error rate
//! A run looks at its results after [`FLOOR`] replications, then at twice
//! as many, and so on up to its cap ([`Schedule`]); it stops at the first
//! look where every verdict is decided. Replication i is the same whatever
//! the stopping point, so the decision is a pure function of the seed and
//! the schedule. Looking repeatedly, and having two methods, gives more
//! chances to be wrong, so the error budget [`ALPHA`] per direction is
//! shared out in advance (Bonferroni, see [`look_share`]): half of it at the
//! first look, where most verdicts are decided, the other half in equal
//! parts at the later looks, and each look's part split between the two
//! methods when both take part. Over a whole run a wrong verdict in either
//! direction then has probability at most 2.5% (5% both together) —
//! whenever the assumptions of the method that decided hold. Spending half
//! at the first look lets eight replications that all agree settle the
//! default question (is P above or below ½: 0.5⁸ ≈ 0.39% < 0.625%). The
//! bounds reported are those of the test.
//!
//! # What the normal model cannot see
//! A failure mode that none of the replications showed (a retry storm that
//! tips over once in twenty runs) cannot be excluded by any test of the
//! replications that did not show it; the normal model assumes there is
//! none. The binomial method makes no such assumption. Outcomes that depend
//! on per-replication random draws (random fault starts and durations,
//! MTBF faults) are mixtures more often than not; when a mixture shows up
//! in the sample the normality test sends the verdict to the binomial.

pub mod binomial;
pub mod normal;

use crate::model::Scenario;
use crate::model::Topology;
use crate::montecarlo::{Aggregate, EXACT_MAX, RoundOptions, run_rounds};
pub use crate::montecarlo::{FLOOR, Schedule};
use crate::results::summary::{Decision, NormalCheck};

/// The probability of a wrong verdict in one direction, over a whole run.
pub const ALPHA: f64 = 0.025;
/// The fewest replications the normal method is used with.
pub const NORMAL_MIN: u64 = 8;
/// The Anderson–Darling p-value below which normality is rejected.
pub const NORMALITY_P: f64 = 0.10;
/// The limit of an SLO without an `[expect]` limit: does the experiment
/// usually violate it?
pub const DEFAULT_LIMIT: f64 = 0.5;
/// The default cap of a sequential `run`.
pub const RUN_CAP: u64 = 128;
/// The default cap of a sequential `check`.
pub const CHECK_CAP: u64 = 1024;

/// What one verdict is decided from.
#[derive(Clone, Copy, Debug)]
pub struct Evidence<'a> {
    pub limit: f64,
    /// The limit came from `[expect]` (else it is [`DEFAULT_LIMIT`]).
    pub from_expect: bool,
    pub violations: u64,
    pub n: u64,
    /// Per-replication margins (violated exactly when negative), when the
    /// outcome has a continuous margin and the run kept them.
    pub margins: Option<&'a [f64]>,
}

/// Four significant digits: readable, and the same text on every machine.
fn sig4(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.3e}").parse().unwrap_or(x)
}

/// What the normal model says about `margins`, tested at `alpha` per
/// side, or why it cannot be used. The interval is `Some` when usable.
fn normal_model(margins: &[f64], alpha: f64, binomial: [f64; 2]) -> (NormalCheck, Option<[f64; 2]>) {
    let n = margins.len();
    let refuse = |note: String, margin_sd: Option<f64>, ad: Option<(f64, f64)>| {
        let check = NormalCheck {
            usable: false,
            margin_sd: margin_sd.map(sig4),
            anderson_darling: ad.map(|a| sig4(a.0)),
            p_value: ad.map(|a| sig4(a.1)),
            note,
        };
        (check, None)
    };
    let mut sorted = margins.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (mean, sd) = normal::mean_sd(&sorted);
    if !(sd > 0.0 && sd.is_finite() && mean.is_finite()) {
        return refuse(
            "no spread: every replication had the same margin, which says nothing of the tail".to_string(),
            None,
            None,
        );
    }
    let margin_sd = mean / sd;
    let ad = normal::anderson_darling(&sorted);
    if ad.1 < NORMALITY_P {
        return refuse(
            format!(
                "the margins are not normal (Anderson–Darling p = {:.3} < {NORMALITY_P}): a mixture or a skewed outcome",
                ad.1
            ),
            Some(margin_sd),
            Some(ad),
        );
    }
    let root_n = (n as f64).sqrt();
    let t = root_n * margin_sd;
    let nu = (n - 1) as f64;
    let delta_low = normal::noncentrality_for(t, nu, 1.0 - alpha);
    let delta_high = normal::noncentrality_for(t, nu, alpha);
    let interval = [
        sig4(normal::cdf(-delta_high / root_n)),
        sig4(normal::cdf(-delta_low / root_n)),
    ];
    if interval[1] < binomial[0] || interval[0] > binomial[1] {
        return refuse(
            format!(
                "the normal model's bounds [{:.2e}, {:.2e}] contradict the violation count's [{:.3}, {:.3}]",
                interval[0], interval[1], binomial[0], binomial[1]
            ),
            Some(margin_sd),
            Some(ad),
        );
    }
    let check = NormalCheck {
        usable: true,
        margin_sd: Some(sig4(margin_sd)),
        anderson_darling: Some(sig4(ad.0)),
        p_value: Some(sig4(ad.1)),
        note: format!(
            "margins normal by Anderson–Darling (p = {:.2}); assumes no failure mode unseen in {n} replications",
            ad.1
        ),
    };
    (check, Some(interval))
}

/// The share of the error budget spent at the look after `n` replications
/// of `schedule`: all of it with one look; else half at the first look and
/// the other half in equal parts at the later ones. A count that is not one
/// of the looks gets the smallest share. The shares of a schedule's looks
/// add up to 1, so the Bonferroni bound over the looks holds.
pub fn look_share(schedule: Schedule, n: u64) -> f64 {
    let looks = schedule.looks();
    if looks.len() == 1 {
        return 1.0;
    }
    if looks[0] == n {
        0.5
    } else {
        0.5 / (looks.len() - 1) as f64
    }
}

/// Decides one verdict at a look of `schedule` (see the module docs).
pub fn decide(ev: &Evidence, schedule: Schedule) -> Decision {
    let per_look = ALPHA * look_share(schedule, ev.n);
    // Whether the normal method takes part is decided before looking at the
    // data, so that the error bound holds whatever the data say.
    let eligible = ev.margins.is_some() && ev.n >= NORMAL_MIN && ev.n <= EXACT_MAX;
    let alpha = if eligible { per_look / 2.0 } else { per_look };
    let b = binomial::bounds(ev.violations, ev.n, alpha);
    let binomial_interval = [sig4(b[0]), sig4(b[1])];
    let (normal, normal_interval) = match ev.margins {
        Some(m) if eligible && m.len() as u64 == ev.n => {
            let (check, interval) = normal_model(m, alpha, b);
            (Some(check), interval)
        }
        Some(_) => {
            let note = if ev.n < NORMAL_MIN {
                format!("needs at least {NORMAL_MIN} replications")
            } else {
                format!("beyond {EXACT_MAX} replications the margins are not kept; the count is precise there")
            };
            let check = NormalCheck {
                usable: false,
                margin_sd: None,
                anderson_darling: None,
                p_value: None,
                note,
            };
            (Some(check), None)
        }
        None => (None, None),
    };
    let l = ev.limit;
    let (pass_b, fail_b) = (b[1] < l, b[0] > l);
    let (pass_n, fail_n) = normal_interval.map_or((false, false), |i| (i[1] < l, i[0] > l));
    let verdict = if pass_b || pass_n {
        "pass"
    } else if fail_b || fail_n {
        "fail"
    } else {
        "undecided"
    };
    // The assumption-free method is named whenever it decides on its own.
    let by_normal = normal_interval.is_some() && !(pass_b || fail_b);
    Decision {
        limit: l,
        limit_from: if ev.from_expect { "expect" } else { "default" }.to_string(),
        verdict: verdict.to_string(),
        method: if by_normal { "normal" } else { "binomial" }.to_string(),
        interval: if by_normal {
            normal_interval.unwrap_or(binomial_interval)
        } else {
            binomial_interval
        },
        looks: schedule.looks().len() as u64,
        normal,
    }
}

/// Which verdicts a run waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdicts {
    /// Every SLO (`run`): against its `[expect]` limit, else 1/2 (not the
    /// containment breach limit, which `run` reports without waiting for it).
    Slos,
    /// Every `[expect]` limit (`check`), the containment breach's included.
    Expect,
}

/// The decision on SLO `i` of `scn` from `agg`, at a look of `schedule`.
pub fn slo_decision(scn: &Scenario, agg: &Aggregate, i: usize, schedule: Schedule) -> Decision {
    let name = &scn.slos[i].name;
    let limit = scn
        .expect
        .max_violation_probability
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| *p);
    let margins = agg.margins(i);
    decide(
        &Evidence {
            limit: limit.unwrap_or(DEFAULT_LIMIT),
            from_expect: limit.is_some(),
            violations: agg.slo_violations[i],
            n: agg.replications(),
            margins,
        },
        schedule,
    )
}

/// The decision on `[expect] max_containment_breach_probability`, when set
/// (the count only: a breach has no continuous margin).
pub fn breach_decision(scn: &Scenario, agg: &Aggregate, schedule: Schedule) -> Option<Decision> {
    let limit = scn.expect.max_containment_breach_probability?;
    Some(decide(
        &Evidence {
            limit,
            from_expect: true,
            violations: agg.breaches,
            n: agg.replications(),
            margins: None,
        },
        schedule,
    ))
}

/// Every verdict the run waits for, decided at a look of `schedule`: named
/// (the SLO, or `containment breach`).
pub fn verdicts(scn: &Scenario, agg: &Aggregate, which: Verdicts, schedule: Schedule) -> Vec<(String, Decision)> {
    let mut out = Vec::new();
    for (i, slo) in scn.slos.iter().enumerate() {
        let has_limit = scn.expect.max_violation_probability.iter().any(|(n, _)| *n == slo.name);
        if which == Verdicts::Slos || has_limit {
            out.push((slo.name.clone(), slo_decision(scn, agg, i, schedule)));
        }
    }
    // `run` waits for its SLOs only: a breach has no continuous margin, and its
    // count alone needs many replications (59 clean ones for 5%). The breach
    // verdict is still decided from what the run made, and reported.
    if which == Verdicts::Expect
        && let Some(d) = breach_decision(scn, agg, schedule)
    {
        out.push(("containment breach".to_string(), d));
    }
    out
}

/// A run that adds replications until its verdicts are decided.
#[derive(Clone, Copy, Debug)]
pub struct SequentialOptions {
    /// When to look (floor, doubling, cap).
    pub schedule: Schedule,
    /// The verdicts to wait for.
    pub verdicts: Verdicts,
    pub seed: u64,
    pub threads: usize,
    /// Run counterfactual twins too.
    pub counterfactual: bool,
}

/// How a sequential run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct SequentialOutcome {
    /// The replication total at each look made.
    pub looks: Vec<u64>,
    /// The verdicts at the last look, named.
    pub verdicts: Vec<(String, Decision)>,
}

impl SequentialOutcome {
    /// Whether every verdict was decided (else the cap stopped the run).
    pub fn decided(&self) -> bool {
        all_decided(&self.verdicts)
    }
}

/// Whether none of the named verdicts is undecided.
fn all_decided(verdicts: &[(String, Decision)]) -> bool {
    verdicts.iter().all(|(_, d)| d.verdict != "undecided")
}

/// Runs a scenario in rounds until every verdict of `opts.verdicts` is
/// decided at one of the schedule's looks, or the cap is reached (see
/// [`crate::decide`]), starting from `start` (empty, or the replications
/// 0..k of a checkpoint taken at a look). Round r runs the replications
/// between the previous look and this one, so the replications are a
/// prefix 0..n of the same sequence whatever n the run stops at, and the
/// result is byte-identical to a fixed run of n replications apart from
/// the schedule the verdicts were judged under. `checkpoint` is called at
/// every look after which the run goes on.
pub fn run_sequential(
    topo: &Topology,
    scn: &Scenario,
    opts: &SequentialOptions,
    start: Aggregate,
    progress: &mut dyn FnMut(usize, usize),
    checkpoint: &mut dyn FnMut(&Aggregate),
) -> (Aggregate, SequentialOutcome) {
    let mut agg = start;
    agg.schedule = Some(opts.schedule);
    let all = opts.schedule.looks();
    let judge = |agg: &Aggregate| verdicts(scn, agg, opts.verdicts, opts.schedule);
    let mut looks: Vec<u64> = all.iter().copied().filter(|&l| l <= agg.replications()).collect();
    if agg.replications() > 0 {
        let verdicts = judge(&agg);
        let outcome = SequentialOutcome {
            looks: looks.clone(),
            verdicts,
        };
        if outcome.decided() || agg.replications() >= opts.schedule.cap {
            return (agg, outcome);
        }
    }
    let ro = RoundOptions {
        seed: opts.seed,
        threads: opts.threads,
        counterfactual: opts.counterfactual,
    };
    let mut last = Vec::new();
    run_rounds(topo, scn, &all, ro, &mut agg, progress, &mut |agg| {
        looks.push(agg.replications());
        last = judge(agg);
        let stop = all_decided(&last) || agg.replications() >= opts.schedule.cap;
        if !stop {
            checkpoint(agg);
        }
        stop
    });
    (agg, SequentialOutcome { looks, verdicts: last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(violations: u64, n: u64, limit: f64, margins: Option<&[f64]>) -> Evidence<'_> {
        Evidence {
            limit,
            from_expect: true,
            violations,
            n,
            margins,
        }
    }

    #[test]
    fn schedules_double_from_the_floor_to_the_cap() {
        // Looks at 8, 16, 32, …, then the cap; a fixed count looks once.
        assert_eq!(Schedule::sequential(128).looks(), vec![8, 16, 32, 64, 128]);
        assert_eq!(Schedule::sequential(100).looks(), vec![8, 16, 32, 64, 100]);
        assert_eq!(Schedule::sequential(5).looks(), vec![5]);
        assert_eq!(Schedule::fixed(40).looks(), vec![40]);
        assert_eq!(Schedule::sequential(128).next_after(16), Some(32));
        assert_eq!(Schedule::sequential(128).next_after(128), None);
    }

    #[test]
    fn a_wide_margin_passes_at_the_floor_and_the_count_alone_cannot() {
        // Margins 40 sd clear of the objective (normal scores): the normal model decides
        // at 8 replications; the same 0/8 count alone cannot show P < 5%.
        let n = 8;
        let margins: Vec<f64> = (1..=n)
            .map(|i| 40.0 + normal::quantile((i as f64 - 0.375) / (n as f64 + 0.25)))
            .collect();
        let d = decide(&ev(0, 8, 0.05, Some(&margins)), Schedule::sequential(CHECK_CAP));
        assert_eq!((d.verdict.as_str(), d.method.as_str()), ("pass", "normal"), "{d:?}");
        assert!(d.interval[1] < 1e-6, "{d:?}");
        let count_only = decide(&ev(0, 8, 0.05, None), Schedule::sequential(CHECK_CAP));
        assert_eq!(count_only.verdict, "undecided");
    }

    #[test]
    fn a_mixture_goes_to_the_count() {
        // Two clusters of margins: normality is rejected and the binomial decides (here: fail).
        let margins: Vec<f64> = (0..16)
            .map(|i| if i % 2 == 0 { -1.0 } else { 1.0 } + i as f64 * 1e-3)
            .collect();
        let d = decide(&ev(8, 16, 0.05, Some(&margins)), Schedule::fixed(16));
        assert_eq!((d.verdict.as_str(), d.method.as_str()), ("fail", "binomial"), "{d:?}");
        assert!(!d.normal.as_ref().unwrap().usable);
    }

    #[test]
    fn no_spread_goes_to_the_count() {
        // Identical margins say nothing of the tail: the count decides against 1/2.
        let margins = vec![0.01; 16];
        let d = decide(&ev(0, 16, 0.5, Some(&margins)), Schedule::sequential(RUN_CAP));
        assert_eq!((d.verdict.as_str(), d.method.as_str()), ("pass", "binomial"), "{d:?}");
    }

    #[test]
    fn the_looks_share_the_whole_budget_and_the_first_gets_half() {
        for cap in [8, 16, 100, RUN_CAP, CHECK_CAP] {
            let sch = Schedule::sequential(cap);
            let total: f64 = sch.looks().iter().map(|&n| look_share(sch, n)).sum();
            assert!((total - 1.0).abs() < 1e-12, "cap {cap}: shares add to {total}");
        }
        let sch = Schedule::sequential(RUN_CAP);
        assert_eq!(look_share(sch, 8), 0.5);
        assert_eq!(look_share(sch, 64), 0.125);
        assert_eq!(look_share(sch, 40), 0.125, "not a look: the smallest share");
        assert_eq!(look_share(Schedule::fixed(40), 40), 1.0);
    }

    #[test]
    fn eight_replications_that_agree_settle_the_default_limit() {
        // Against the default limit ½, 0 of 8 violating passes and 8 of 8 fails at the
        // first look, by the count alone (0.5⁸ = 0.39% is within the first look's
        // 1.25% / 2 methods); 1 of 8 does not.
        let margins: Vec<f64> = (0..8).map(|i| 0.01 + i as f64 * 1e-3).collect();
        let sch = Schedule::sequential(RUN_CAP);
        let pass = decide(&ev(0, 8, DEFAULT_LIMIT, Some(&margins)), sch);
        assert_eq!(pass.verdict, "pass", "{pass:?}");
        let fail = decide(&ev(8, 8, DEFAULT_LIMIT, None), sch);
        assert_eq!(fail.verdict, "fail", "{fail:?}");
        let one = decide(&ev(1, 8, DEFAULT_LIMIT, None), sch);
        assert_eq!(one.verdict, "undecided", "{one:?}");
    }

    #[test]
    fn a_whole_sequential_run_at_the_limit_is_wrong_at_most_alpha_of_the_time() {
        // P(violate) exactly at the limit: any verdict is wrong. Over 20,000 seeded runs of
        // Bernoulli(L) replications, looked at by the count at 8, 16, … up to the cap (the
        // prefixes of one sequence, as a real run), a run that ever passes or ever fails does
        // so in at most 2.5% of runs each way (+3 standard errors).
        for (limit, cap) in [(0.5, RUN_CAP), (0.3, RUN_CAP), (0.1, CHECK_CAP)] {
            let sch = Schedule::sequential(cap);
            let runs = 20_000u64;
            let (mut passed, mut failed) = (0u64, 0u64);
            for r in 0..runs {
                let mut st = 0xa11c_e000 + r * 7919;
                let mut k = 0;
                let mut n = 0;
                for look in sch.looks() {
                    while n < look {
                        k += (uniform(&mut st) < limit) as u64;
                        n += 1;
                    }
                    let d = decide(&ev(k, n, limit, None), sch);
                    match d.verdict.as_str() {
                        "pass" => passed += 1,
                        "fail" => failed += 1,
                        _ => continue,
                    }
                    break;
                }
            }
            let bound = ALPHA + 3.0 * (ALPHA * (1.0 - ALPHA) / runs as f64).sqrt();
            let (p, f) = (passed as f64 / runs as f64, failed as f64 / runs as f64);
            eprintln!("limit {limit}, cap {cap}: wrong pass {p}, wrong fail {f}");
            assert!(p <= bound && f <= bound, "limit {limit}: pass {p}, fail {f} > {bound}");
        }
    }

    /// splitmix64 → a uniform in (0, 1).
    fn uniform(state: &mut u64) -> f64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 + 0.5 / (1u64 << 53) as f64
    }

    /// Over `trials` samples of `n` margins drawn by `draw`, how often the reported
    /// interval covers `truth`, and how often each method decided.
    fn coverage(truth: f64, n: usize, trials: u64, draw: impl Fn(&mut u64) -> f64) -> (f64, u64) {
        let (mut covered, mut by_normal) = (0, 0);
        for t in 0..trials {
            let mut st = 0x5eed_0000 + t;
            let m: Vec<f64> = (0..n).map(|_| draw(&mut st)).collect();
            let k = m.iter().filter(|&&x| x < 0.0).count() as u64;
            let d = decide(&ev(k, n as u64, 0.05, Some(&m)), Schedule::fixed(n as u64));
            covered += (d.interval[0] <= truth && truth <= d.interval[1]) as u64;
            by_normal += (d.method == "normal") as u64;
        }
        (covered as f64 / trials as f64, by_normal)
    }

    #[test]
    fn bounds_cover_a_known_normal_probability() {
        // Normal margins, mean 2 sd: P(violate) = Φ(−2) = 0.02275. The 97.5% two-sided bounds
        // (1.25% a side) cover it in at least 95% of 400 seeded samples of 20 (the binomial
        // spread of 400 trials at 97.5% is ±0.8%), and the normal model decides most of them.
        let truth = normal::cdf(-2.0);
        let (cov, by_normal) = coverage(truth, 20, 400, |st| 2.0 + normal::quantile(uniform(st)));
        eprintln!("normal: coverage {cov}, normal model decided {by_normal} of 400");
        assert!(cov >= 0.95, "coverage {cov}");
        assert!(by_normal > 200, "normal model used {by_normal} of 400");
    }

    #[test]
    fn bounds_cover_a_known_uniform_probability() {
        // Uniform margins on [−0.1, 0.9]: P(violate) = 0.1 exactly, and not normal. Whichever
        // method decides, the stated bounds cover 0.1 in at least 95% of 400 seeded samples of 32.
        let (cov, by_normal) = coverage(0.1, 32, 400, |st| -0.1 + uniform(st));
        eprintln!("uniform: coverage {cov}, normal model decided {by_normal} of 400");
        assert!(cov >= 0.95, "coverage {cov}");
    }

    #[test]
    fn a_mixture_with_a_rare_bad_mode_is_passed_only_when_no_replication_showed_it() {
        // 90% of replications 10 sd clear, 10% at −1 (a failure mode): P(violate) = 0.1 > 0.05.
        // The bounds cover 0.1 in ≥ 95% of 400 seeded samples of 32; whenever the bad mode shows
        // up in a sample, normality is rejected and the sample is not passed. Only a sample that
        // never showed it (0.9^32 ≈ 3.4% of them) can be passed — the stated limit of the model.
        let draw = |st: &mut u64| {
            let u = uniform(st);
            if u < 0.1 {
                -1.0 + 0.01 * uniform(st)
            } else {
                10.0 + normal::quantile(uniform(st))
            }
        };
        let (cov, by_normal) = coverage(0.1, 32, 400, draw);
        eprintln!("mixture: coverage {cov}, normal model decided {by_normal} of 400");
        assert!(cov >= 0.95, "coverage {cov}");
        for t in 0..400 {
            let mut st = 0x5eed_0000 + t;
            let m: Vec<f64> = (0..32).map(|_| draw(&mut st)).collect();
            let k = m.iter().filter(|&&x| x < 0.0).count() as u64;
            let d = decide(&ev(k, 32, 0.05, Some(&m)), Schedule::sequential(CHECK_CAP));
            assert!(k == 0 || d.verdict != "pass", "sample {t}: {k} violations, {d:?}");
        }
    }
}
