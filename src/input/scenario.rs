//! Stage two for scenarios: resolve a parsed scenario against its topology.

use std::collections::BTreeSet;
use std::path::Path;

use super::diag::{Diagnostic, KeyPath, Source};
use super::raw::*;
use super::resolve::{Ctx, Unit, dist};
use crate::model::*;

/// The fault kinds the engine simulates today; the others validate but `run` refuses them.
pub const SIMULATED_FAULTS: &[FaultKind] = &[
    FaultKind::Latency,
    FaultKind::Abort,
    FaultKind::Kill,
    FaultKind::Blackhole,
    FaultKind::RegionOutage,
    FaultKind::Partition,
    FaultKind::PacketLoss,
    FaultKind::Slowdown,
    FaultKind::Drift,
    FaultKind::QueueStall,
];

fn check(cx: &mut Ctx, path: &KeyPath, ok: bool, msg: impl std::fmt::Display) -> bool {
    if !ok {
        cx.err(path, msg);
    }
    ok
}

/// A name used as a folder under `results/`: letters, digits, `-`, `_`, `.`.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Resolves a parsed scenario against its (already loaded) topology.
/// Warnings come back with the model; any error fails the whole file.
pub fn resolve_scenario(
    src: &Source,
    raw: &RawScenario,
    topo: &Topology,
) -> Result<(Scenario, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut cx = Ctx::new(src);
    let root = KeyPath::root();
    let base_dir = src.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let nr = topo.regions.len();
    let region_list = topo.regions.join(", ");
    let service_list = || {
        topo.services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };

    let exp = raw.experiment.as_ref().expect("parse_scenario guarantees [experiment]");
    let ep = root.k("experiment");
    check(
        &mut cx,
        &ep.k("name"),
        safe_name(&exp.name),
        format!(
            "\"{}\" is not usable as a results folder name: use letters, digits, '-', '_' or '.'",
            exp.name
        ),
    );
    for (key, v) in [
        ("owner", &exp.owner),
        ("hypothesis", &exp.hypothesis),
        ("rollback", &exp.rollback),
    ] {
        if v.as_deref().map(str::trim).unwrap_or("").is_empty() {
            cx.rule(
                &ep,
                format!("no `{key}`: a catalog entry says who owns it, what it expects and how to roll back"),
            );
        }
    }

    // [run]
    let run = raw.run.as_ref().expect("parse_scenario guarantees [run]");
    let rp = root.k("run");
    let dur_ok = check(
        &mut cx,
        &rp.k("duration_s"),
        run.duration_s.is_finite() && run.duration_s > 0.0 && run.duration_s <= 7.0 * 86_400.0,
        format!(
            "duration_s must be more than 0 and at most 604800 (a week), found {}",
            run.duration_s
        ),
    );
    let warmup_s = run.warmup_s.unwrap_or(0.0);
    check(
        &mut cx,
        &rp.k("warmup_s"),
        warmup_s.is_finite() && warmup_s >= 0.0 && (!dur_ok || warmup_s < run.duration_s),
        format!(
            "warmup_s must be at least 0 and less than duration_s ({}), found {warmup_s}",
            run.duration_s
        ),
    );
    let replications = run.replications.unwrap_or(100);
    check(
        &mut cx,
        &rp.k("replications"),
        (1..=10_000_000).contains(&replications),
        format!("replications must be between 1 and 10000000, found {replications}"),
    );
    let duration_ns = (run.duration_s.clamp(0.0, 7.0 * 86_400.0) * NS_PER_S) as u64;
    let warmup_ns = (warmup_s.clamp(0.0, 7.0 * 86_400.0) * NS_PER_S) as u64;

    // [workload]
    let wl = raw.workload.as_ref().expect("parse_scenario guarantees [workload]");
    let wp = root.k("workload");
    let mut rate_per_s = vec![0.0; nr];
    match &wl.rate_per_s {
        RawRates::Every(r) => rate_per_s.iter_mut().for_each(|x| *x = *r),
        RawRates::PerRegion(m) => {
            for (name, r) in m {
                match topo.region_by_name(name) {
                    Some(id) => rate_per_s[id.index()] = *r,
                    None => cx.err(
                        &wp.k("rate_per_s").k(name),
                        format!("unknown region \"{name}\" (known: {region_list})"),
                    ),
                }
            }
        }
    }
    for (i, r) in rate_per_s.iter().enumerate() {
        let at = match &wl.rate_per_s {
            RawRates::PerRegion(_) => wp.k("rate_per_s").k(&topo.regions[i]),
            RawRates::Every(_) => wp.k("rate_per_s"),
        };
        check(
            &mut cx,
            &at,
            r.is_finite() && *r >= 0.0 && *r <= 10_000_000.0,
            format!(
                "the rate of {} must be between 0 and 10000000 per second, found {r}",
                topo.regions[i]
            ),
        );
    }
    check(
        &mut cx,
        &wp.k("rate_per_s"),
        rate_per_s.iter().any(|r| !(r.is_finite() && *r >= 0.0)) || rate_per_s.iter().sum::<f64>() > 0.0,
        "no arrivals: every region's rate is 0",
    );
    let mut surges = Vec::new();
    for (i, s) in wl.surges.iter().enumerate() {
        let sp = wp.k("surges").i(i);
        check(
            &mut cx,
            &sp.k("start_s"),
            s.start_s.is_finite() && s.start_s >= 0.0,
            "start_s must be at least 0",
        );
        check(
            &mut cx,
            &sp.k("duration_s"),
            s.duration_s.is_finite() && s.duration_s > 0.0,
            "duration_s must be more than 0",
        );
        check(
            &mut cx,
            &sp.k("multiplier"),
            s.multiplier.is_finite() && (0.0..=1000.0).contains(&s.multiplier),
            format!("multiplier must be between 0 and 1000, found {}", s.multiplier),
        );
        let regions = match &s.regions {
            Some(names) => region_mask_of(&mut cx, &sp.k("regions"), names, topo),
            None => vec![true; nr],
        };
        let start_ns = (s.start_s.clamp(0.0, 1e7) * NS_PER_S) as u64;
        surges.push(Surge {
            start_ns,
            end_ns: start_ns + (s.duration_s.clamp(0.0, 1e7) * NS_PER_S) as u64,
            multiplier: s.multiplier,
            regions,
        });
    }

    // [[faults]]
    let mut not_simulated = Vec::new();
    let mut faults = Vec::new();
    for (i, f) in raw.faults.iter().enumerate() {
        let fp = root.k("faults").i(i);
        let kind_name = format!("{:?}", f.kind);
        // Which optional fields each kind takes.
        let uses: &[&str] = match f.kind {
            FaultKind::Latency => &["delay", "percent"],
            FaultKind::Abort => &["percent", "error"],
            FaultKind::Kill => &["replicas", "percent"],
            FaultKind::Slowdown => &["factor"],
            FaultKind::PacketLoss => &["percent"],
            FaultKind::Drift => &["wrong_rate", "wrong_effect"],
            _ => &[],
        };
        let given = [
            ("delay", f.delay.is_some()),
            ("percent", f.percent.is_some()),
            ("error", f.error.is_some()),
            ("replicas", f.replicas.is_some()),
            ("factor", f.factor.is_some()),
            ("wrong_rate", f.wrong_rate.is_some()),
            ("wrong_effect", f.wrong_effect.is_some()),
        ];
        for (key, set) in given {
            if set && !uses.contains(&key) {
                cx.err(
                    &fp.k(key),
                    format!("`{key}` is not used by {} fault", article(&snake(&kind_name))),
                );
            }
        }
        let t = &f.target;
        let tp = fp.k("target");
        let mut service = None;
        let mut regions = vec![true; nr];
        if let Some(name) = &t.service {
            match topo.service_by_name(name) {
                Some(s) => service = Some(s),
                None => cx.err(
                    &tp.k("service"),
                    format!("unknown service \"{name}\" (known: {})", service_list()),
                ),
            }
        }
        if let Some(name) = &t.region {
            match topo.region_by_name(name) {
                Some(r) => {
                    regions = vec![false; nr];
                    regions[r.index()] = true;
                    if let Some(s) = service
                        && !topo.services[s.index()].present[r.index()]
                    {
                        cx.err(
                            &tp.k("region"),
                            format!(
                                "service \"{}\" has no replicas in {name}",
                                topo.services[s.index()].name
                            ),
                        );
                    }
                }
                None => cx.err(
                    &tp.k("region"),
                    format!("unknown region \"{name}\" (known: {region_list})"),
                ),
            }
        }
        // Which target form each kind takes.
        let link_kind = matches!(f.kind, FaultKind::Partition)
            || (matches!(f.kind, FaultKind::PacketLoss | FaultKind::Latency) && t.between.is_some());
        let mut link = None;
        let mut queue = None;
        if link_kind {
            if t.service.is_some() || t.region.is_some() || t.queue.is_some() {
                cx.err(
                    &tp,
                    "a link fault takes `between` only: target = { between = [\"a\", \"b\"] }",
                );
            }
            match &t.between {
                Some(b) if b.len() == 2 => {
                    let ends: Vec<Option<RegionId>> = b
                        .iter()
                        .enumerate()
                        .map(|(j, n)| {
                            let r = topo.region_by_name(n);
                            if r.is_none() {
                                cx.err(
                                    &tp.k("between").i(j),
                                    format!("unknown region \"{n}\" (known: {region_list})"),
                                );
                            }
                            r
                        })
                        .collect();
                    if let (Some(a), Some(b)) = (ends[0], ends[1]) {
                        if a == b {
                            cx.err(&tp.k("between"), "a link joins two different regions");
                        } else if topo.link(a, b).is_none() {
                            cx.err(
                                &tp.k("between"),
                                format!(
                                    "no link between {} and {} in the topology",
                                    topo.regions[a.index()],
                                    topo.regions[b.index()]
                                ),
                            );
                        }
                        link = Some((a, b));
                    }
                }
                _ => cx.err(
                    &tp,
                    "a link fault targets two regions: target = { between = [\"a\", \"b\"] }",
                ),
            }
        } else {
            match f.kind {
                FaultKind::RegionOutage => {
                    check(
                        &mut cx,
                        &tp,
                        t.region.is_some() && t.service.is_none() && t.between.is_none() && t.queue.is_none(),
                        "a region_outage targets a region: target = { region = \"...\" }",
                    );
                }
                FaultKind::QueueStall => {
                    if t.service.is_some() || t.between.is_some() {
                        cx.err(&tp, "a queue_stall takes `queue` and `region` only");
                    }
                    match &t.queue {
                        Some(q) => match topo.queues.iter().position(|x| &x.name == q) {
                            Some(qi) => queue = Some(QueueId::from_index(qi)),
                            None => {
                                let known: Vec<&str> = topo.queues.iter().map(|q| q.name.as_str()).collect();
                                cx.err(
                                    &tp.k("queue"),
                                    format!("unknown queue \"{q}\" (known: {})", known.join(", ")),
                                )
                            }
                        },
                        None => cx.err(
                            &tp,
                            "a queue_stall targets a queue: target = { queue = \"...\", region = \"...\" }",
                        ),
                    }
                }
                _ => {
                    if t.service.is_none() {
                        cx.err(&tp, format!("{} fault targets a service: target = {{ service = \"...\", region = \"...\" }} (region optional)", article(&snake(&kind_name))));
                    }
                    if t.between.is_some() || t.queue.is_some() {
                        cx.err(
                            &tp,
                            format!(
                                "{} fault takes `service` and `region` only",
                                article(&snake(&kind_name))
                            ),
                        );
                    }
                }
            }
        }
        let percent = f.percent.unwrap_or(100.0);
        if f.percent.is_some() {
            check(
                &mut cx,
                &fp.k("percent"),
                percent.is_finite() && percent > 0.0 && percent <= 100.0,
                format!("percent must be more than 0 and at most 100, found {percent}"),
            );
        }
        let effect = match f.kind {
            FaultKind::Latency => match &f.delay {
                None => {
                    cx.err(&fp, "a latency fault needs `delay` (ms, or a distribution)");
                    FaultEffect::NotYetSimulated
                }
                Some(d) => match dist(&mut cx, &fp.k("delay"), d, Unit::Ms, &base_dir) {
                    Some(delay) => FaultEffect::Latency { delay, percent },
                    None => FaultEffect::NotYetSimulated,
                },
            },
            FaultKind::Abort => {
                let status = f.error.unwrap_or(503);
                check(
                    &mut cx,
                    &fp.k("error"),
                    (400..=599).contains(&status),
                    format!("error is an HTTP status between 400 and 599, found {status}"),
                );
                FaultEffect::Abort {
                    percent,
                    status: status.clamp(400, 599) as u16,
                }
            }
            FaultKind::Kill => {
                let count = match (f.replicas, f.percent) {
                    (Some(_), Some(_)) => {
                        cx.err(&fp, "give `replicas` or `percent`, not both");
                        KillCount::Percent(100.0)
                    }
                    (Some(n), None) => {
                        let max = service
                            .map(|s| topo.services[s.index()].replicas as i64)
                            .unwrap_or(i64::MAX);
                        check(
                            &mut cx,
                            &fp.k("replicas"),
                            n >= 1 && n <= max,
                            format!(
                                "replicas must be between 1 and the service's replicas per region ({max}), found {n}"
                            ),
                        );
                        KillCount::Replicas(n.clamp(1, 10_000) as u32)
                    }
                    (None, _) => KillCount::Percent(percent),
                };
                FaultEffect::Kill { count }
            }
            FaultKind::Slowdown => match f.factor {
                Some(x) if x.is_finite() && x > 0.0 && x <= 1000.0 => FaultEffect::Slowdown { factor: x },
                Some(x) => {
                    cx.err(
                        &fp.k("factor"),
                        format!("factor multiplies service time: more than 0 and at most 1000, found {x}"),
                    );
                    FaultEffect::NotYetSimulated
                }
                None => {
                    cx.err(
                        &fp,
                        "a slowdown fault needs `factor` (service-time multiplier, e.g. 3.0)",
                    );
                    FaultEffect::NotYetSimulated
                }
            },
            FaultKind::Blackhole => FaultEffect::Blackhole,
            FaultKind::RegionOutage => FaultEffect::RegionOutage,
            FaultKind::Partition => FaultEffect::Partition,
            FaultKind::PacketLoss => FaultEffect::PacketLoss { percent },
            FaultKind::QueueStall => FaultEffect::QueueStall,
            FaultKind::Drift => {
                let discount = f.wrong_effect.as_ref().and_then(|e| e.discount);
                if let Some(d) = discount {
                    check(
                        &mut cx,
                        &fp.k("wrong_effect").k("discount"),
                        d.is_finite() && (0.0..=1.0).contains(&d),
                        format!("discount is a fraction of the order value, between 0 and 1, found {d}"),
                    );
                }
                match f.wrong_rate {
                    Some(r) if r.is_finite() && (0.0..=1.0).contains(&r) => FaultEffect::Drift {
                        wrong_rate: r,
                        discount,
                    },
                    Some(r) => {
                        cx.err(
                            &fp.k("wrong_rate"),
                            format!("wrong_rate is a probability between 0 and 1, found {r}"),
                        );
                        FaultEffect::NotYetSimulated
                    }
                    None => {
                        cx.err(
                            &fp,
                            "a drift fault needs `wrong_rate` (share of wrong outputs while it lasts)",
                        );
                        FaultEffect::NotYetSimulated
                    }
                }
            }
            FaultKind::BadDeploy => FaultEffect::NotYetSimulated,
        };
        if !SIMULATED_FAULTS.contains(&f.kind) {
            not_simulated.push(format!("faults[{i}]: {} faults", snake(&kind_name)));
            cx.warn(
                &fp.k("kind"),
                format!(
                    "{} faults are not simulated yet: `run` refuses this scenario",
                    snake(&kind_name)
                ),
            );
        }
        let random = f.random.as_ref().and_then(|r| {
            let rp = fp.k("random");
            let ok_b = check(
                &mut cx,
                &rp.k("mtbf_s"),
                r.mtbf_s.is_finite() && (1.0..=1e7).contains(&r.mtbf_s),
                format!(
                    "mtbf_s (mean time between failures) must be between 1 and 1e7 seconds, found {}",
                    r.mtbf_s
                ),
            );
            let ok_r = check(
                &mut cx,
                &rp.k("mttr_s"),
                r.mttr_s.is_finite() && (0.001..=1e7).contains(&r.mttr_s),
                format!(
                    "mttr_s (mean time to repair) must be between 0.001 and 1e7 seconds, found {}",
                    r.mttr_s
                ),
            );
            if f.duration_s.is_some() {
                cx.err(
                    &fp.k("duration_s"),
                    "a random fault's periods come from `random`; leave `duration_s` out",
                );
            }
            (ok_b && ok_r).then_some(RandomFault {
                mtbf_ns: (r.mtbf_s.clamp(0.0, 1e7) * NS_PER_S) as u64,
                mttr_ns: (r.mttr_s.clamp(0.0, 1e7) * NS_PER_S) as u64,
            })
        });
        let start = match &f.start_s {
            Some(d) => dist(&mut cx, &fp.k("start_s"), d, Unit::Seconds, &base_dir),
            None => Some(Dist::Const(0.0)),
        };
        let duration = f
            .duration_s
            .as_ref()
            .and_then(|d| dist(&mut cx, &fp.k("duration_s"), d, Unit::Seconds, &base_dir));
        faults.push(Fault {
            name: f.name.clone().unwrap_or_else(|| format!("{}-{i}", snake(&kind_name))),
            kind: f.kind,
            effect,
            service,
            regions,
            link,
            queue,
            start: start.unwrap_or(Dist::Const(0.0)),
            duration,
            random,
        });
    }
    if faults.len() > 64 {
        cx.err(&root.k("faults"), "at most 64 faults per scenario");
    }

    // [[slos]]
    let mut slos = Vec::new();
    let mut slo_names = BTreeSet::new();
    for (i, s) in raw.slos.iter().enumerate() {
        let sp = root.k("slos").i(i);
        if !slo_names.insert(s.name.as_str()) {
            cx.err(&sp.k("name"), format!("duplicate SLO name \"{}\"", s.name));
        }
        let flow = s.flow.as_ref().and_then(|f| {
            let id = topo.flow_by_name(f);
            if id.is_none() {
                let known: Vec<&str> = topo.flows.iter().map(|f| f.name.as_str()).collect();
                cx.err(
                    &sp.k("flow"),
                    format!("unknown flow \"{f}\" (known: {})", known.join(", ")),
                );
            }
            id
        });
        check(
            &mut cx,
            &sp.k("objective"),
            s.objective.is_finite() && s.objective > 0.0 && s.objective < 1.0,
            format!(
                "objective is a fraction of good requests, more than 0 and less than 1 (e.g. 0.999), found {}",
                s.objective
            ),
        );
        let threshold_ns = match (s.kind, s.threshold_ms) {
            (SloKind::Latency, None) => {
                cx.err(&sp, "a latency SLO needs `threshold_ms`");
                None
            }
            (SloKind::Latency, Some(t)) => {
                check(
                    &mut cx,
                    &sp.k("threshold_ms"),
                    t.is_finite() && t > 0.0 && t <= 86_400_000.0,
                    format!("threshold_ms must be more than 0, found {t}"),
                );
                Some((t.clamp(0.0, 86_400_000.0) * NS_PER_MS) as u64)
            }
            (SloKind::Backlog, Some(t)) => Some((t.clamp(0.0, 86_400_000.0) * NS_PER_MS) as u64),
            (_, Some(_)) => {
                cx.err(
                    &sp.k("threshold_ms"),
                    "threshold_ms is only for latency and backlog SLOs",
                );
                None
            }
            (_, None) => None,
        };
        let window_ns = s.window_s.and_then(|w| {
            let horizon = run.duration_s - warmup_s;
            check(
                &mut cx,
                &sp.k("window_s"),
                w.is_finite() && w >= 1.0 && w <= horizon.max(1.0),
                format!(
                    "window_s must be between 1 and the counted horizon (duration_s - warmup_s = {horizon}), found {w}"
                ),
            )
            .then_some((w.clamp(0.0, 1e7) * NS_PER_S) as u64)
        });
        if s.queue.is_some() && s.kind != SloKind::Backlog {
            cx.err(&sp.k("queue"), "`queue` is only for backlog SLOs");
        }
        let queue = match (s.kind, &s.queue) {
            (SloKind::Backlog, None) => {
                cx.err(
                    &sp,
                    "a backlog SLO needs `queue` (and `threshold_ms`: the message age that is good enough)",
                );
                None
            }
            (SloKind::Backlog, Some(q)) => {
                let id = topo.queues.iter().position(|x| &x.name == q).map(QueueId::from_index);
                if id.is_none() {
                    let known: Vec<&str> = topo.queues.iter().map(|q| q.name.as_str()).collect();
                    cx.err(
                        &sp.k("queue"),
                        format!("unknown queue \"{q}\" (known: {})", known.join(", ")),
                    );
                }
                if s.flow.is_some() {
                    cx.err(&sp.k("flow"), "a backlog SLO is about a queue's messages, not a flow");
                }
                id
            }
            _ => None,
        };
        if s.kind == SloKind::Backlog && s.threshold_ms.is_none() {
            cx.err(
                &sp,
                "a backlog SLO needs `threshold_ms` (the message age that is good enough)",
            );
        }
        slos.push(Slo {
            name: s.name.clone(),
            flow,
            kind: s.kind,
            objective: s.objective,
            threshold_ns,
            window_ns,
            queue,
        });
    }

    let blast_radius = raw.blast_radius.as_ref().map(|b| {
        let bp = root.k("blast_radius");
        for (key, v) in [("max_services", b.max_services), ("max_regions", b.max_regions)] {
            if let Some(v) = v {
                check(
                    &mut cx,
                    &bp.k(key),
                    (0..=1_000_000).contains(&v),
                    format!("{key} must be at least 0, found {v}"),
                );
            }
        }
        let dw = b.degraded_when.clone().unwrap_or(RawDegradedWhen {
            error_rate: None,
            latency_factor: None,
        });
        let er = dw.error_rate.unwrap_or(0.01);
        let lf = dw.latency_factor.unwrap_or(2.0);
        check(
            &mut cx,
            &bp.k("degraded_when").k("error_rate"),
            er.is_finite() && (0.0..=1.0).contains(&er),
            "error_rate must be between 0 and 1",
        );
        check(
            &mut cx,
            &bp.k("degraded_when").k("latency_factor"),
            lf.is_finite() && lf >= 1.0,
            "latency_factor must be at least 1",
        );
        BlastRadius {
            max_services: b.max_services.map(|v| v.clamp(0, 1_000_000) as u32),
            max_regions: b.max_regions.map(|v| v.clamp(0, 1_000_000) as u32),
            degraded_error_rate: er,
            degraded_latency_factor: lf,
        }
    });
    if blast_radius.is_none() && !raw.faults.is_empty() {
        cx.rule(
            &root,
            "no [blast_radius]: declare what the experiment is allowed to hit (max_services, max_regions)",
        );
    }

    let mut guardrails = Vec::new();
    for (i, g) in raw.guardrails.iter().enumerate() {
        let gp = root.k("guardrails").i(i);
        let wp = gp.k("when");
        let slo = raw.slos.iter().position(|x| x.name == g.when.slo);
        if slo.is_none() {
            cx.err(
                &wp.k("slo"),
                format!(
                    "unknown SLO \"{}\" (known: {})",
                    g.when.slo,
                    slo_names.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        check(
            &mut cx,
            &wp.k("burn_rate"),
            g.when.burn_rate.is_finite() && g.when.burn_rate > 0.0 && g.when.burn_rate <= 1e6,
            format!(
                "burn_rate must be more than 0 (14.4 pages on 2% of a 30-day budget in an hour), found {}",
                g.when.burn_rate
            ),
        );
        let window_ok = check(
            &mut cx,
            &wp.k("window_s"),
            g.when.window_s.is_finite() && (1.0..=86_400.0).contains(&g.when.window_s),
            format!("window_s must be between 1 and 86400, found {}", g.when.window_s),
        );
        let short = g.when.short_window_s.and_then(|w| {
            check(
                &mut cx,
                &wp.k("short_window_s"),
                w.is_finite() && w >= 1.0 && (!window_ok || w <= g.when.window_s),
                format!(
                    "short_window_s must be between 1 and window_s ({}), found {w}",
                    g.when.window_s
                ),
            )
            .then_some((w.clamp(1.0, 86_400.0) * NS_PER_S) as u64)
        });
        let delay = g.detect_delay_s.unwrap_or(0.0);
        check(
            &mut cx,
            &gp.k("detect_delay_s"),
            delay.is_finite() && (0.0..=86_400.0).contains(&delay),
            format!("detect_delay_s must be between 0 and 86400, found {delay}"),
        );
        let a = &g.action;
        let ap = gp.k("action");
        let service_named = |cx: &mut Ctx, key: &str, name: &Option<String>| -> Option<ServiceId> {
            match name {
                None => {
                    cx.err(&ap, format!("this action needs `{key}` (a service)"));
                    None
                }
                Some(n) => {
                    let id = topo.service_by_name(n);
                    if id.is_none() {
                        cx.err(
                            &ap.k(key),
                            format!("unknown service \"{n}\" (known: {})", service_list()),
                        );
                    }
                    id
                }
            }
        };
        let action = match a.kind {
            ActionKind::Failover => {
                let from = service_named(&mut cx, "from", &a.from);
                match a.to.as_deref() {
                    None => {
                        cx.err(&ap, "failover needs `to`: a service or a region");
                        None
                    }
                    Some(to) => match (topo.service_by_name(to), topo.region_by_name(to)) {
                        (Some(t), _) => from.map(|f| Action::FailoverService { from: f, to: t }),
                        (None, Some(r)) => from.map(|f| Action::FailoverRegion { service: f, to: r }),
                        (None, None) => {
                            cx.err(
                                &ap.k("to"),
                                format!(
                                    "unknown service or region \"{to}\" (services: {}; regions: {region_list})",
                                    service_list()
                                ),
                            );
                            None
                        }
                    },
                }
            }
            ActionKind::KillSwitch => {
                service_named(&mut cx, "service", &a.service).map(|s| Action::KillSwitch { service: s })
            }
            ActionKind::Shed => {
                let share = a.share.unwrap_or(0.5);
                check(
                    &mut cx,
                    &ap.k("share"),
                    share.is_finite() && share > 0.0 && share <= 1.0,
                    format!("share is the fraction of arrivals rejected, more than 0 and at most 1, found {share}"),
                );
                let mut mask = 0u64;
                match &a.flows {
                    None => mask = u64::MAX,
                    Some(fs) => {
                        for (fi, f) in fs.iter().enumerate() {
                            match topo.flow_by_name(f) {
                                Some(id) => mask |= 1 << id.index(),
                                None => cx.err(&ap.k("flows").i(fi), format!("unknown flow \"{f}\"")),
                            }
                        }
                    }
                }
                Some(Action::Shed { share, flows: mask })
            }
            ActionKind::Scale => {
                let service = service_named(&mut cx, "service", &a.service);
                let n = a.replicas.unwrap_or(1);
                check(
                    &mut cx,
                    &ap.k("replicas"),
                    (1..=1000).contains(&n),
                    format!("replicas to add must be between 1 and 1000, found {n}"),
                );
                let d = a.delay_s.unwrap_or(60.0);
                check(
                    &mut cx,
                    &ap.k("delay_s"),
                    d.is_finite() && (0.0..=86_400.0).contains(&d),
                    format!("delay_s (provisioning time) must be between 0 and 86400, found {d}"),
                );
                service.map(|s| Action::Scale {
                    service: s,
                    replicas: n.clamp(1, 1000) as u32,
                    delay_ns: (d.clamp(0.0, 86_400.0) * NS_PER_S) as u64,
                })
            }
            ActionKind::Rollback => {
                if raw.rollout.is_none() {
                    cx.err(&ap, "a rollback undoes a bad deploy: it needs a [rollout]");
                }
                not_simulated.push(format!("guardrails[{i}]: rollback actions"));
                Some(Action::Rollback)
            }
        };
        if let (Some(slo), Some(action)) = (slo, action) {
            guardrails.push(Guardrail {
                name: g.name.clone(),
                slo,
                burn_rate: g.when.burn_rate,
                window_ns: (g.when.window_s.clamp(1.0, 86_400.0) * NS_PER_S) as u64,
                short_window_ns: short,
                detect_delay_ns: (delay.clamp(0.0, 86_400.0) * NS_PER_S) as u64,
                action,
            });
        }
    }
    if guardrails.len() > 64 {
        cx.err(&root.k("guardrails"), "at most 64 guardrails per scenario");
    }
    if raw.rollout.is_some() {
        not_simulated.push("[rollout]".to_string());
        cx.warn(
            &root.k("rollout"),
            "rollouts are not simulated yet: `run` refuses this scenario",
        );
    }

    let mut expect = Expect::default();
    if let Some(e) = &raw.expect {
        let xp = root.k("expect");
        for (name, p) in &e.max_violation_probability {
            if !slo_names.contains(name.as_str()) {
                cx.err(
                    &xp.k("max_violation_probability").k(name),
                    format!(
                        "unknown SLO \"{name}\" (known: {})",
                        slo_names.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            check(
                &mut cx,
                &xp.k("max_violation_probability").k(name),
                p.is_finite() && (0.0..=1.0).contains(p),
                "a probability is between 0 and 1",
            );
            expect.max_violation_probability.push((name.clone(), *p));
        }
        if let Some(p) = e.max_containment_breach_probability {
            check(
                &mut cx,
                &xp.k("max_containment_breach_probability"),
                p.is_finite() && (0.0..=1.0).contains(&p),
                "a probability is between 0 and 1",
            );
            expect.max_containment_breach_probability = Some(p);
        }
    }

    if cx.has_errors() {
        return Err(cx.diags);
    }
    let scenario = Scenario {
        name: exp.name.clone(),
        path: src.path.clone(),
        topology_path: topo.path.clone(),
        owner: exp.owner.clone().unwrap_or_default(),
        severity: exp.severity.clone().unwrap_or_default(),
        hypothesis: exp.hypothesis.clone().unwrap_or_default(),
        rollback: exp.rollback.clone().unwrap_or_default(),
        tags: exp.tags.clone(),
        duration_ns,
        warmup_ns,
        replications: replications.clamp(1, 10_000_000) as u32,
        seed: run.seed.unwrap_or(1),
        rate_per_s,
        surges,
        faults,
        slos,
        blast_radius,
        expect,
        guardrails,
        not_simulated,
    };
    Ok((scenario, cx.diags))
}

fn region_mask_of(cx: &mut Ctx, path: &KeyPath, names: &[String], topo: &Topology) -> Vec<bool> {
    let mut mask = vec![false; topo.regions.len()];
    for (i, n) in names.iter().enumerate() {
        match topo.region_by_name(n) {
            Some(r) => mask[r.index()] = true,
            None => cx.err(
                &path.i(i),
                format!("unknown region \"{n}\" (known: {})", topo.regions.join(", ")),
            ),
        }
    }
    mask
}

/// "a latency", "an abort".
fn article(word: &str) -> String {
    let an = word.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {word}", if an { "an" } else { "a" })
}

/// `RegionOutage` → `region_outage`.
fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
