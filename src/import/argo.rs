//! Argo Rollouts (`argoproj.io/v1alpha1`): a Rollout's `canary.steps` and
//! the AnalysisTemplates they name become `[rollout]`. The mapping:
//! docs/import.md, "Argo Rollouts".

use super::mapping;
use super::prometheus::{self, Measure};
use super::units;
use super::yaml::{Node, join};
use super::{Analysis, Cx, D, RolloutOut, Step, number};

/// The AnalysisTemplates (and ClusterAnalysisTemplates) given, by name.
pub fn templates<'a>(docs: &'a [(D<'a>, &'a Node)]) -> Vec<(String, &'a D<'a>, &'a Node)> {
    docs.iter()
        .filter(|(d, _)| {
            d.group == "argoproj.io" && matches!(d.kind.as_str(), "AnalysisTemplate" | "ClusterAnalysisTemplate")
        })
        .map(|(d, n)| (d.name.clone(), d, *n))
        .collect()
}

pub fn rollout(cx: &mut Cx, d: &D, root: &Node, templates: &[(String, &D, &Node)]) {
    let Some(spec) = root.get("spec") else {
        cx.err(d, root, "spec", "a Rollout needs `spec`");
        return;
    };
    for key in [
        "replicas",
        "revisionHistoryLimit",
        "minReadySeconds",
        "progressDeadlineSeconds",
        "progressDeadlineAbort",
        "workloadRef",
        "restartAt",
        "rollbackWindow",
    ] {
        spec.get(key);
    }
    // The pod template is the new version's; its behaviour is not in it.
    if let Some(t) = spec.get("template") {
        t.mark_all();
    }
    let sel = spec.get("selector");
    let labels: Vec<(String, String)> = sel
        .and_then(|s| s.get("matchLabels"))
        .map(|m| {
            m.entries()
                .iter()
                .map(|e| (e.key.clone(), e.value.scalar().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    let namespaces = [d.namespace.clone()];
    let found = mapping::matching(cx.topo, &labels, &namespaces);
    let Some(picked) = mapping::one(
        cx,
        d,
        sel.unwrap_or(spec),
        "spec.selector",
        &mapping::describe(&labels, &namespaces),
        found,
    ) else {
        spec.mark_all();
        return;
    };
    let Some(strategy) = spec.get("strategy") else {
        cx.err(d, spec, "spec.strategy", "a Rollout needs `strategy.canary`");
        return;
    };
    if let Some(bg) = strategy.get("blueGreen") {
        bg.mark_all();
        cx.warn(
            d,
            bg,
            "spec.strategy.blueGreen",
            "not modelled: a blue-green switch (chaoscal's [rollout] is a canary); skipped",
        );
        return;
    }
    let Some(canary) = strategy.get("canary") else {
        cx.err(d, strategy, "spec.strategy", "expected `canary`");
        return;
    };
    for key in [
        "canaryService",
        "stableService",
        "trafficRouting",
        "maxSurge",
        "maxUnavailable",
        "dynamicStableScale",
        "abortScaleDownDelaySeconds",
        "scaleDownDelaySeconds",
        "canaryMetadata",
        "stableMetadata",
    ] {
        if let Some(n) = canary.get(key) {
            n.mark_all();
        }
    }
    let mut notes = vec![
        "the new version's behaviour is not in the manifest: describe it in `overrides` (e.g. error_rate = 0.2, service_time = ...)".to_string(),
    ];
    let mut steps = Vec::new();
    for (i, s) in canary.get("steps").map(|s| s.items()).unwrap_or(&[]).iter().enumerate() {
        let sp = format!("spec.strategy.canary.steps[{i}]");
        if let Some(w) = s.get("setWeight") {
            match number(w) {
                Some(v) if (0.0..=100.0).contains(&v) => steps.push(Step::Weight(v)),
                _ => cx.err(
                    d,
                    w,
                    &join(&sp, "setWeight"),
                    "setWeight is a percentage between 0 and 100",
                ),
            }
        } else if let Some(p) = s.get("pause") {
            match p.get("duration") {
                Some(du) => match units::argo_duration_s(du.scalar().unwrap_or("")) {
                    Ok(v) => steps.push(Step::PauseS(v)),
                    Err(e) => cx.err(d, du, &join(&sp, "pause.duration"), e),
                },
                None => {
                    let rest = cx.horizon_s().max(1.0).ceil();
                    notes.push(format!("steps[{i}]: a pause without duration waits for a person to promote: written as a pause as long as the rest of the run ({rest} s)"));
                    steps.push(Step::PauseS(rest));
                }
            }
        } else if let Some(a) = s.get("analysis") {
            if let Some(an) = analysis(cx, d, a, &join(&sp, "analysis"), templates, &mut notes) {
                steps.push(Step::Analysis(an));
            }
        } else {
            s.mark_all();
            let what = match &s.value {
                super::yaml::Value::Map(e) => e.first().map(|e| e.key.clone()).unwrap_or_default(),
                _ => String::new(),
            };
            cx.warn(d, s, &sp, format!("not modelled: a {what} step; skipped"));
        }
    }
    let background = canary.get("analysis").and_then(|a| {
        let starting = a.get("startingStep").and_then(number).unwrap_or(0.0).max(0.0) as u32;
        analysis(cx, d, a, "spec.strategy.canary.analysis", templates, &mut notes).map(|an| (an, starting))
    });
    if cx.plan.rollout.is_some() {
        cx.warn(
            d,
            root,
            "kind",
            "a scenario has one [rollout]: this Rollout is not imported (an earlier one was)",
        );
        return;
    }
    cx.plan.rollout = Some(RolloutOut {
        origin: d.origin(),
        notes,
        service: picked.name(cx.topo).to_string(),
        steps,
        analysis: background,
    });
}

/// `analysis: {templates, args}` as one analysis: the templates' metrics
/// that can be read become its limits.
fn analysis(
    cx: &mut Cx,
    d: &D,
    a: &Node,
    path: &str,
    templates: &[(String, &D, &Node)],
    notes: &mut Vec<String>,
) -> Option<Analysis> {
    if let Some(args) = a.get("args") {
        args.mark_all();
    }
    a.get("startingStep");
    let mut out = Analysis::default();
    let mut timing_set = false;
    for (i, t) in a.get("templates").map(|t| t.items()).unwrap_or(&[]).iter().enumerate() {
        let tp = format!("{path}.templates[{i}]");
        t.get("clusterScope");
        let Some(name) = t.get("templateName").and_then(|n| n.scalar()) else {
            cx.err(d, t, &tp, "expected `templateName`");
            continue;
        };
        let Some((_, td, troot)) = templates.iter().find(|(n, ..)| n == name) else {
            cx.err(
                d,
                t,
                &join(&tp, "templateName"),
                format!("no AnalysisTemplate named \"{name}\" among the manifests; give its file too"),
            );
            continue;
        };
        let Some(tspec) = troot.get("spec") else { continue };
        if let Some(args) = tspec.get("args") {
            args.mark_all();
        }
        for (mi, m) in tspec
            .get("metrics")
            .map(|m| m.items())
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let mp = format!("spec.metrics[{mi}]");
            metric(cx, td, m, &mp, &mut out, &mut timing_set, notes);
        }
        for key in ["dryRun", "measurementRetention"] {
            if let Some(n) = tspec.get(key) {
                n.mark_all();
                cx.warn(td, n, &join("spec", key), "not modelled; ignored");
            }
        }
    }
    (out.max_error_rate.is_some() || out.max_p99_ms.is_some()).then_some(out)
}

/// One metric: its limit, and (the first metric's) timing.
fn metric(cx: &mut Cx, d: &D, m: &Node, mp: &str, out: &mut Analysis, timing_set: &mut bool, notes: &mut Vec<String>) {
    let name = m.get("name").and_then(|n| n.scalar()).unwrap_or("").to_string();
    let query = m.get("provider").and_then(|p| p.get("prometheus")).and_then(|p| {
        for key in ["address", "timeout", "insecure", "headers", "authentication"] {
            p.get(key).map(Node::mark_all);
        }
        p.get("query")
    });
    let Some(q) = query else {
        if let Some(p) = m.get("provider") {
            p.mark_all();
        }
        m.mark_all();
        cx.warn(
            d,
            m,
            &join(mp, "provider"),
            format!("metric {name}: not understood: only Prometheus queries are read; skipped"),
        );
        return;
    };
    let measure = prometheus::measure(q.scalar().unwrap_or(""));
    let success = m
        .get("successCondition")
        .and_then(|c| c.scalar())
        .map(prometheus::condition);
    let failure = m
        .get("failureCondition")
        .and_then(|c| c.scalar())
        .map(prometheus::condition);
    // The limit from whichever condition is readable; both must agree.
    let from_success = |c: Option<(&str, f64)>| match (measure, c) {
        (Some(Measure::SuccessRatio), Some((">=" | ">", v))) => Some(("max_error_rate", 1.0 - v)),
        (Some(Measure::ErrorRatio), Some(("<=" | "<", v))) => Some(("max_error_rate", v)),
        (Some(Measure::P99Ms), Some(("<=" | "<", v))) => Some(("max_p99_ms", v)),
        _ => None,
    };
    let from_failure = |c: Option<(&str, f64)>| match (measure, c) {
        (Some(Measure::SuccessRatio), Some(("<" | "<=", v))) => Some(("max_error_rate", 1.0 - v)),
        (Some(Measure::ErrorRatio), Some((">" | ">=", v))) => Some(("max_error_rate", v)),
        (Some(Measure::P99Ms), Some((">" | ">=", v))) => Some(("max_p99_ms", v)),
        _ => None,
    };
    let limit = match (success, failure) {
        (Some(s), None) => from_success(s),
        (None, Some(f)) => from_failure(f),
        (Some(s), Some(f)) => {
            let (a, b) = (from_success(s), from_failure(f));
            if a.is_some() && b.is_some() && a != b {
                notes.push(format!("metric {name}: success and failure conditions leave an inconclusive band; the success condition's limit is used"));
            }
            a.or(b)
        }
        (None, None) => None,
    };
    let Some((key, v)) = limit else {
        m.mark_all();
        cx.warn(
            d,
            q,
            &join(mp, "provider.prometheus.query"),
            format!("metric {name}: not understood: expected an Istio success/error ratio or p99 query with a condition such as `result[0] >= 0.95`; skipped"),
        );
        return;
    };
    if key == "max_error_rate" {
        out.max_error_rate = Some(v.clamp(0.0, 1.0));
    } else {
        out.max_p99_ms = Some(v);
    }
    m.get("consecutiveErrorLimit");
    let dur = |cx: &mut Cx, k: &str| -> Option<f64> {
        let n = m.get(k)?;
        units::argo_duration_s(n.scalar().unwrap_or(""))
            .map_err(|e| cx.err(d, n, &join(mp, k), e))
            .ok()
    };
    let interval = dur(cx, "interval");
    let initial = dur(cx, "initialDelay");
    let count = m.get("count").and_then(number);
    let failure_limit = m.get("failureLimit").and_then(number);
    let inconclusive = m.get("inconclusiveLimit").and_then(number);
    if let Some(n) = m.get("consecutiveSuccessLimit")
        && number(n).is_some_and(|v| v > 0.0)
    {
        cx.warn(d, n, &join(mp, "consecutiveSuccessLimit"), "not modelled; ignored");
    }
    if *timing_set {
        return;
    }
    *timing_set = true;
    out.interval_s = interval;
    out.initial_delay_s = initial.filter(|v| *v > 0.0);
    let count = match (count, interval) {
        (Some(c), _) => c.max(0.0) as u32,
        (None, None) => 1,
        (None, Some(i)) => {
            let c = (cx.horizon_s() / i.max(1.0)).floor().max(1.0) as u32;
            notes.push(format!("metric {name}: no count runs until the rollout ends: written as the {c} measurements that fit in the run"));
            c
        }
    };
    out.count = Some(count);
    out.failure_limit = match failure_limit {
        Some(f) if f < 0.0 => Some(count),
        Some(f) => Some(f as u32),
        None => None,
    };
    out.inconclusive_limit = inconclusive.map(|v| v.max(0.0) as u32);
}
