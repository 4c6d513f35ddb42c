//! Chaos Mesh (`chaos-mesh.org/v1alpha1`): NetworkChaos, PodChaos,
//! HTTPChaos, StressChaos, and the Schedule and Workflow that run them.
//! Each kind's mapping and approximations: docs/import.md, "Chaos Mesh".

use super::mapping::{self, Picked};
use super::units::{self, Cron};
use super::yaml::{Node, join};
use super::{Cx, D, DelayOut, FaultOut, TargetOut, boolean, number};
use crate::model::{FaultKind, RegionId};

/// The most faults one Schedule may expand to before it becomes a random
/// fault with the same mean period and duration.
const SCHEDULE_FAULTS_MAX: usize = 32;
/// How deep Workflow templates may nest (a template naming itself ends here).
const WORKFLOW_DEPTH_MAX: usize = 16;
/// The annotation that pauses an experiment.
const PAUSE_ANNOTATION: &str = "experiment.chaos-mesh.org/pause";

/// Converts one Chaos Mesh document.
pub fn convert(cx: &mut Cx, d: &D, root: &Node) {
    if let Some(a) = root
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(PAUSE_ANNOTATION))
        && a.scalar() == Some("true")
    {
        root.mark_all();
        cx.warn(
            d,
            a,
            &format!("metadata.annotations.\"{PAUSE_ANNOTATION}\""),
            "the experiment is paused: nothing imported",
        );
        return;
    }
    let Some(spec) = root.get("spec") else {
        cx.err(d, root, "spec", format!("a {} needs `spec`", d.kind));
        return;
    };
    let faults = match d.kind.as_str() {
        "Schedule" => schedule(cx, d, spec, "spec", &d.name),
        "Workflow" => workflow(cx, d, spec, "spec"),
        kind => chaos(cx, d, kind, spec, "spec", &d.name, None),
    };
    let start = cx.start_s;
    cx.plan.faults.extend(faults.into_iter().map(|mut f| {
        f.start_s += start;
        f
    }));
}

/// The chaos of one spec (`kind` as written in `kind:` or `templateType:`),
/// starting at 0. `deadline_s` is a Workflow step's, which replaces `duration`.
fn chaos(
    cx: &mut Cx,
    d: &D,
    kind: &str,
    spec: &Node,
    path: &str,
    name: &str,
    deadline_s: Option<f64>,
) -> Vec<FaultOut> {
    let duration_s = match (spec.get("duration"), deadline_s) {
        (Some(n), Some(dl)) => {
            cx.warn(
                d,
                n,
                &join(path, "duration"),
                "a Workflow's chaos takes its length from the step's `deadline`, not `duration` (Chaos Mesh refuses this); the deadline is used",
            );
            Some(dl)
        }
        (Some(n), None) => duration(cx, d, n, &join(path, "duration")),
        (None, dl) => dl,
    };
    match kind {
        "NetworkChaos" => network(cx, d, spec, path, name, duration_s),
        "PodChaos" => pod(cx, d, spec, path, name, duration_s),
        "HTTPChaos" => http(cx, d, spec, path, name, duration_s),
        "StressChaos" => stress(cx, d, spec, path, name, duration_s),
        _ => {
            spec.mark_all();
            cx.warn(
                d,
                spec,
                path,
                format!("{kind} is not modelled (the import reads NetworkChaos, PodChaos, HTTPChaos, StressChaos, Schedule and Workflow); skipped"),
            );
            Vec::new()
        }
    }
}

/// A Go duration field, in seconds; an empty string means unset.
fn duration(cx: &mut Cx, d: &D, n: &Node, path: &str) -> Option<f64> {
    let s = n.scalar().unwrap_or("");
    if s.is_empty() {
        return None;
    }
    match units::go_duration(s) {
        Ok(ns) => Some(units::ns_to_s(ns)),
        Err(e) => {
            cx.err(d, n, path, e);
            None
        }
    }
}

/// What a selector picks: the service, and how many of its pods (`k` of `n`).
struct Pods {
    picked: Picked,
    k: f64,
    n: u32,
}

impl Pods {
    fn percent(&self) -> f64 {
        100.0 * self.k / f64::from(self.n.max(1))
    }
}

/// The labels, namespaces and the parts of a selector the import does not read.
fn selector_parts(cx: &mut Cx, d: &D, sel: Option<&Node>, path: &str) -> (Vec<(String, String)>, Vec<Option<String>>) {
    let mut labels = Vec::new();
    let mut namespaces = Vec::new();
    if let Some(sel) = sel {
        let sp = join(path, "selector");
        if let Some(ls) = sel.get("labelSelectors") {
            for e in ls.entries() {
                labels.push((e.key.clone(), e.value.scalar().unwrap_or("").to_string()));
            }
        }
        if let Some(ns) = sel.get("namespaces") {
            namespaces = ns
                .items()
                .iter()
                .filter_map(|n| n.scalar())
                .map(|s| Some(s.to_string()))
                .collect();
        }
        if let Some(ex) = sel.get("expressionSelectors") {
            for (i, e) in ex.items().iter().enumerate() {
                let key = e.get("key").and_then(|k| k.scalar()).unwrap_or("");
                let op = e.get("operator").and_then(|k| k.scalar()).unwrap_or("");
                let values = e.get("values").map(|v| v.items()).unwrap_or(&[]);
                if op == "In" && values.len() == 1 {
                    labels.push((key.to_string(), values[0].scalar().unwrap_or("").to_string()));
                } else {
                    cx.warn(
                        d,
                        e,
                        &format!("{sp}.expressionSelectors[{i}]"),
                        "not modelled: only `In` with one value is read (as a label); this expression is ignored",
                    );
                }
            }
        }
    }
    if namespaces.is_empty() {
        // Chaos Mesh's webhook fills in the object's own namespace.
        namespaces.push(Some(d.namespace.clone().unwrap_or_else(|| "default".to_string())));
    }
    (labels, namespaces)
}

/// The pods a spec's `selector` + `mode` + `value` pick; `None` (with the
/// problem reported) when they pick no service, several, or no pod.
fn pods(cx: &mut Cx, d: &D, spec: &Node, path: &str) -> Option<Pods> {
    let sel = spec.get("selector");
    let (labels, namespaces) = selector_parts(cx, d, sel, path);
    let what = mapping::describe(&labels, &namespaces);
    let found = mapping::matching(cx.topo, &labels, &namespaces);
    let picked = mapping::one(cx, d, sel.unwrap_or(spec), &join(path, "selector"), &what, found)?;
    let n = picked.pods(cx.topo);
    let mode_node = spec.get("mode");
    let mode = mode_node.and_then(|m| m.scalar()).unwrap_or("");
    let value = spec.get("value").and_then(|v| v.scalar());
    match mapping::mode_pods(mode, value, n) {
        Ok(k) if k > 0.0 => Some(Pods { picked, k, n }),
        Ok(_) => {
            cx.warn(
                d,
                mode_node.unwrap_or(spec),
                &join(path, "mode"),
                format!(
                    "mode {mode} with value {} picks no pod of the {n} that {} runs; nothing imported",
                    value.unwrap_or(""),
                    picked.name(cx.topo)
                ),
            );
            None
        }
        Err(e) => {
            cx.err(d, mode_node.unwrap_or(spec), &join(path, "mode"), e);
            None
        }
    }
}

/// One fault per target of `picked`, named `name` (suffixed by region when split).
fn per_target(
    d: &D,
    picked: &Picked,
    cx: &Cx,
    kind: FaultKind,
    name: &str,
    fill: impl Fn(&mut FaultOut),
) -> Vec<FaultOut> {
    let targets = picked.targets(cx.topo);
    let split = targets.len() > 1;
    targets
        .into_iter()
        .map(|t| {
            let mut f = FaultOut::new(d, kind, t.clone());
            f.name = match (&t, split) {
                (TargetOut::Service { region: Some(r), .. }, true) => format!("{name}-{r}"),
                _ => name.to_string(),
            };
            fill(&mut f);
            f
        })
        .collect()
}

/// A kill of `k` pods (rounded) spread over the picked regions in order.
fn kills(cx: &mut Cx, d: &D, p: &Pods, name: &str, duration_s: f64, note: Option<String>) -> Vec<FaultOut> {
    let topo = cx.topo;
    let svc = &topo.services[p.picked.service.index()];
    let mut k = p.k.round().max(1.0) as u32;
    let mut notes: Vec<String> = note.into_iter().collect();
    if (p.k - p.k.round()).abs() > 1e-9 {
        notes.push(format!("{:.3} pods on average, rounded to {k}", p.k));
    }
    if p.k >= f64::from(p.n) {
        return per_target(d, &p.picked, cx, FaultKind::Kill, name, |f| {
            f.percent = Some(100.0);
            f.duration_s = Some(duration_s);
            f.notes = notes.clone();
        });
    }
    let regions: Vec<usize> = (0..topo.regions.len()).filter(|r| p.picked.regions[*r]).collect();
    if regions.len() > 1 {
        notes.push("Chaos Mesh picks pods at random across regions; the import takes them region by region, in the topology's order".to_string());
    }
    let mut out = Vec::new();
    for r in regions {
        if k == 0 {
            break;
        }
        let here = k.min(svc.replicas);
        k -= here;
        let mut f = FaultOut::new(
            d,
            FaultKind::Kill,
            TargetOut::Service {
                service: svc.name.clone(),
                region: Some(topo.regions[RegionId::from_index(r).index()].clone()),
            },
        );
        f.name = format!("{name}-{}", topo.regions[r]);
        f.replicas = Some(here);
        f.duration_s = Some(duration_s);
        f.notes = notes.clone();
        out.push(f);
    }
    out
}

fn network(cx: &mut Cx, d: &D, spec: &Node, path: &str, name: &str, duration_s: Option<f64>) -> Vec<FaultOut> {
    let action_node = spec.get("action");
    let action = action_node.and_then(|a| a.scalar()).unwrap_or("").to_string();
    let direction = spec
        .get("direction")
        .and_then(|n| n.scalar())
        .unwrap_or("to")
        .to_string();
    for key in ["device", "targetDevice"] {
        if let Some(n) = spec.get(key) {
            cx.warn(
                d,
                n,
                &join(path, key),
                "not modelled: chaoscal has one network per replica; every call is affected",
            );
        }
    }
    if let Some(n) = spec.get("externalTargets")
        && !n.items().is_empty()
    {
        cx.warn(
            d,
            n,
            &join(path, "externalTargets"),
            "not modelled: traffic to hosts outside the mesh; the chaos on them is skipped",
        );
        spec.mark_all();
        return Vec::new();
    }
    let target = spec.get("target");
    // Both sides whole namespaces in two regions: the link between them.
    if let Some(t) = target
        && let Some(link) = namespace_link(cx, d, spec, t, path)
    {
        return link_faults(cx, d, spec, path, name, &action, link, duration_s);
    }
    let Some(src) = pods(cx, d, spec, path) else {
        spec.mark_all();
        return Vec::new();
    };
    // With a target, the chaos is on the traffic between the two: the callee's calls.
    let (who, share, twice, mut notes) = match target {
        None => (src.picked.clone(), src.percent(), false, Vec::new()),
        Some(t) => {
            let tp = join(path, "target");
            let Some(dst) = pods(cx, d, t, &tp) else {
                spec.mark_all();
                return Vec::new();
            };
            let topo = cx.topo;
            let calls = |a: &Picked, b: &Picked| {
                topo.services[a.service.index()]
                    .calls
                    .iter()
                    .any(|c| c.to == crate::model::CallTarget::Service(b.service))
            };
            let (callee, caller) = if calls(&src.picked, &dst.picked) {
                (&dst, &src)
            } else if calls(&dst.picked, &src.picked) {
                (&src, &dst)
            } else {
                cx.warn(
                    d,
                    t,
                    &tp,
                    format!(
                        "{} and {} do not call each other in the topology: this chaos touches no call; skipped",
                        src.picked.name(topo),
                        dst.picked.name(topo)
                    ),
                );
                spec.mark_all();
                return Vec::new();
            };
            let mut notes = Vec::new();
            let callers = topo
                .services
                .iter()
                .filter(|s| {
                    s.calls
                        .iter()
                        .any(|c| c.to == crate::model::CallTarget::Service(callee.picked.service))
                })
                .count();
            if callers > 1 {
                notes.push(format!(
                    "the chaos is between {} and {}; chaoscal applies it to every call to {}, from all its {callers} callers",
                    caller.picked.name(topo),
                    callee.picked.name(topo),
                    callee.picked.name(topo)
                ));
            }
            let share = 100.0 * (caller.k / f64::from(caller.n.max(1))) * (callee.k / f64::from(callee.n.max(1)));
            (callee.picked.clone(), share, direction == "both", notes)
        }
    };
    let mut out = Vec::new();
    let want = |a: &str| action == a || action == "netem";
    if want("delay")
        && let Some(delay) = spec.get("delay")
        && let Some(dl) = delay_of(cx, d, delay, &join(path, "delay"), twice, &mut notes)
    {
        out.extend(per_target(d, &who, cx, FaultKind::Latency, name, |f| {
            f.delay = Some(dl.clone());
            f.percent = Some(share);
            f.duration_s = duration_s;
            f.notes = notes.clone();
        }));
    }
    if want("loss")
        && let Some(loss) = spec.get("loss")
        && let Some(p) = loss_of(cx, d, loss, &join(path, "loss"), twice, &mut notes)
    {
        let n = if action == "netem" {
            format!("{name}-loss")
        } else {
            name.to_string()
        };
        out.extend(per_target(d, &who, cx, FaultKind::PacketLoss, &n, |f| {
            f.percent = Some(p * share / 100.0);
            f.duration_s = duration_s;
            f.notes = notes.clone();
        }));
    }
    match action.as_str() {
        "partition" => {
            if target.is_none() && (share - 100.0).abs() < 1e-9 {
                out.extend(per_target(d, &who, cx, FaultKind::Blackhole, name, |f| {
                    f.duration_s = duration_s;
                    f.notes = vec![
                        "a pod cut off from every peer: calls hang and health checks fail (blackhole)".to_string(),
                    ];
                }));
            } else {
                notes.push("a partition loses every answer across it: callers time out (packet_loss 100%)".to_string());
                out.extend(per_target(d, &who, cx, FaultKind::PacketLoss, name, |f| {
                    f.percent = Some(share);
                    f.duration_s = duration_s;
                    f.notes = notes.clone();
                }));
            }
        }
        "duplicate" | "corrupt" | "bandwidth" | "rate" => {
            let n = spec.get(&action).unwrap_or(spec);
            n.mark_all();
            cx.warn(d, n, &join(path, &action), not_modelled_network(&action));
        }
        "delay" | "loss" | "netem" => {}
        _ => cx.err(
            d,
            action_node.unwrap_or(spec),
            &join(path, "action"),
            format!(
                "unknown action \"{action}\"; expected netem, delay, loss, duplicate, corrupt, partition or bandwidth"
            ),
        ),
    }
    for key in ["duplicate", "corrupt", "bandwidth", "rate"] {
        if key != action
            && let Some(n) = spec.get(key)
        {
            n.mark_all();
            cx.warn(d, n, &join(path, key), not_modelled_network(key));
        }
    }
    if (action == "delay" || action == "loss") && spec.get(&action).is_none() {
        cx.err(
            d,
            action_node.unwrap_or(spec),
            &join(path, "action"),
            format!("action {action} needs its settings under `{action}:`"),
        );
    }
    out
}

fn not_modelled_network(action: &str) -> String {
    match action {
        "bandwidth" | "rate" => {
            "not modelled: chaoscal has no message sizes, so a bandwidth limit cannot be; skipped".to_string()
        }
        "duplicate" => "not modelled: TCP drops duplicated packets, so calls see nothing of it; skipped".to_string(),
        _ => format!(
            "not modelled: {action} (TCP retransmits corrupted packets: a little latency chaoscal does not model); skipped"
        ),
    }
}

/// `delay: {latency, jitter, correlation, reorder}` as a delay distribution.
fn delay_of(cx: &mut Cx, d: &D, n: &Node, path: &str, twice: bool, notes: &mut Vec<String>) -> Option<DelayOut> {
    let ms = |cx: &mut Cx, key: &str| -> Option<f64> {
        let v = n.get(key)?;
        match units::chaos_mesh_latency_ms(v.scalar().unwrap_or("")) {
            Ok(ms) => Some(ms),
            Err(e) => {
                cx.err(d, v, &join(path, key), e);
                None
            }
        }
    };
    let Some(latency) = ms(cx, "latency") else {
        if n.get("latency").is_none() {
            cx.err(d, n, path, "a delay needs `latency` (e.g. \"100ms\")");
        }
        return None;
    };
    let jitter = if n.get("jitter").is_some() {
        ms(cx, "jitter")?
    } else {
        0.0
    };
    correlation(cx, d, n, path);
    if let Some(r) = n.get("reorder") {
        r.mark_all();
        cx.warn(
            d,
            r,
            &join(path, "reorder"),
            "not modelled: chaoscal has no packet order; ignored",
        );
    }
    let k = if twice {
        notes.push("direction both: the delay is paid on the way there and back".to_string());
        2.0
    } else {
        1.0
    };
    if jitter > latency {
        notes.push("jitter larger than latency: delays below 0 count as 0".to_string());
    }
    Some(if jitter == 0.0 {
        DelayOut::ConstMs(k * latency)
    } else {
        DelayOut::UniformMs(k * (latency - jitter).max(0.0), k * (latency + jitter))
    })
}

/// `loss: {loss, correlation}` as a percentage.
fn loss_of(cx: &mut Cx, d: &D, n: &Node, path: &str, twice: bool, notes: &mut Vec<String>) -> Option<f64> {
    let Some(v) = n.get("loss") else {
        cx.err(d, n, path, "a loss needs `loss` (a percentage string, e.g. \"25\")");
        return None;
    };
    let p = match units::percent_string(v.scalar().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => {
            cx.err(d, v, &join(path, "loss"), e);
            return None;
        }
    };
    correlation(cx, d, n, path);
    notes.push(
        "a lost packet loses the whole answer and the caller times out (TCP would retransmit it: the pessimistic end)"
            .to_string(),
    );
    Some(if twice {
        notes.push("direction both: the request or the answer may be lost".to_string());
        100.0 * (1.0 - (1.0 - p / 100.0).powi(2))
    } else {
        p
    })
}

fn correlation(cx: &mut Cx, d: &D, n: &Node, path: &str) {
    if let Some(c) = n.get("correlation")
        && units::percent_string(c.scalar().unwrap_or("0")) != Ok(0.0)
    {
        cx.warn(
            d,
            c,
            &join(path, "correlation"),
            "not modelled: each call draws on its own (correlation 0)",
        );
    }
}

/// Selector and target both whole namespaces (no labels), each in one
/// region, two different regions with a link: that link.
fn namespace_link(cx: &mut Cx, d: &D, spec: &Node, target: &Node, path: &str) -> Option<(String, String)> {
    let whole = |n: &Node| {
        n.get("selector").is_some_and(|s| {
            s.get("labelSelectors").is_none_or(|l| l.entries().is_empty())
                && s.get("expressionSelectors").is_none()
                && s.get("namespaces").is_some()
        })
    };
    if !whole(spec) || !whole(target) {
        return None;
    }
    let region = |cx: &mut Cx, n: &Node| -> Option<usize> {
        let (_, ns) = selector_parts(cx, d, n.get("selector"), path);
        let mut mask = vec![false; cx.topo.regions.len()];
        for n in &ns {
            for (i, r) in cx.topo.namespace_regions(n.as_deref()).iter().enumerate() {
                mask[i] |= *r;
            }
        }
        let set: Vec<usize> = (0..mask.len()).filter(|i| mask[*i]).collect();
        (set.len() == 1).then(|| set[0])
    };
    let a = region(cx, spec)?;
    let b = region(cx, target)?;
    let topo = cx.topo;
    (a != b && topo.link(RegionId::from_index(a), RegionId::from_index(b)).is_some())
        .then(|| (topo.regions[a].clone(), topo.regions[b].clone()))
}

#[allow(clippy::too_many_arguments)]
fn link_faults(
    cx: &mut Cx,
    d: &D,
    spec: &Node,
    path: &str,
    name: &str,
    action: &str,
    (a, b): (String, String),
    duration_s: Option<f64>,
) -> Vec<FaultOut> {
    for key in ["mode", "value"] {
        spec.get(key);
        spec.get("target").and_then(|t| t.get(key));
    }
    spec.get("direction");
    let mut notes = vec![format!("whole namespaces in {a} and {b}: the link between the regions")];
    let base = |kind| {
        let mut f = FaultOut::new(d, kind, TargetOut::Link(a.clone(), b.clone()));
        f.name = name.to_string();
        f.duration_s = duration_s;
        f
    };
    let mut out = Vec::new();
    match action {
        "partition" => out.push(base(FaultKind::Partition)),
        "delay" | "loss" | "netem" => {
            if let Some(dn) = spec.get("delay")
                && let Some(dl) = delay_of(cx, d, dn, &join(path, "delay"), false, &mut notes)
            {
                let mut f = base(FaultKind::Latency);
                notes.push("on a link the delay applies to every message crossing it, both ways".to_string());
                f.delay = Some(dl);
                out.push(f);
            }
            if let Some(ln) = spec.get("loss")
                && let Some(p) = loss_of(cx, d, ln, &join(path, "loss"), false, &mut notes)
            {
                let mut f = base(FaultKind::PacketLoss);
                if action == "netem" {
                    f.name = format!("{name}-loss");
                }
                f.percent = Some(p);
                out.push(f);
            }
        }
        other => {
            spec.mark_all();
            cx.warn(d, spec, &join(path, "action"), not_modelled_network(other));
        }
    }
    for f in &mut out {
        f.notes = notes.clone();
    }
    out
}

fn pod(cx: &mut Cx, d: &D, spec: &Node, path: &str, name: &str, duration_s: Option<f64>) -> Vec<FaultOut> {
    let action_node = spec.get("action");
    let action = action_node.and_then(|a| a.scalar()).unwrap_or("pod-kill").to_string();
    let Some(p) = pods(cx, d, spec, path) else {
        spec.mark_all();
        return Vec::new();
    };
    if let Some(g) = spec.get("gracePeriod")
        && number(g).is_some_and(|v| v > 0.0)
    {
        cx.warn(
            d,
            g,
            &join(path, "gracePeriod"),
            "not modelled: a killed replica fails its requests at once (grace period 0)",
        );
    }
    spec.get("containerNames").map(Node::mark_all);
    match action.as_str() {
        "pod-kill" | "container-kill" => {
            let (restart, what) = if action == "pod-kill" {
                (cx.opts.pod_restart_s, "the pod is replaced")
            } else {
                (cx.opts.container_restart_s, "the container restarts")
            };
            let note = format!(
                "{action} is one-shot; {what} after {restart} s (--{}-restart-s)",
                if action == "pod-kill" { "pod" } else { "container" }
            );
            kills(cx, d, &p, name, restart, Some(note))
        }
        "pod-failure" => {
            let dur = duration_s.unwrap_or_else(|| {
                cx.warn(
                    d,
                    spec,
                    &join(path, "duration"),
                    "pod-failure without a duration lasts to the end of the run",
                );
                f64::INFINITY
            });
            let mut out = kills(
                cx,
                d,
                &p,
                name,
                dur,
                Some("pod-failure: the pod's containers are replaced by pause images for the duration".to_string()),
            );
            if dur.is_infinite() {
                out.iter_mut().for_each(|f| f.duration_s = None);
            }
            out
        }
        _ => {
            cx.err(
                d,
                action_node.unwrap_or(spec),
                &join(path, "action"),
                format!("unknown action \"{action}\"; expected pod-kill, pod-failure or container-kill"),
            );
            Vec::new()
        }
    }
}

fn http(cx: &mut Cx, d: &D, spec: &Node, path: &str, name: &str, duration_s: Option<f64>) -> Vec<FaultOut> {
    let Some(p) = pods(cx, d, spec, path) else {
        spec.mark_all();
        return Vec::new();
    };
    let share = p.percent();
    spec.get("target");
    spec.get("port");
    for key in ["path", "method", "code", "request_headers", "response_headers"] {
        if let Some(n) = spec.get(key) {
            let everything = key == "path" && matches!(n.scalar(), Some("*" | "/*" | "/**"));
            n.mark_all();
            if !everything {
                cx.warn(
                    d,
                    n,
                    &join(path, key),
                    format!(
                        "not modelled: chaoscal calls have no {}; every call to the service is affected",
                        key.replace('_', " ")
                    ),
                );
            }
        }
    }
    let abort = spec.get("abort").and_then(boolean).unwrap_or(false);
    let mut out = Vec::new();
    if abort {
        out.extend(per_target(d, &p.picked, cx, FaultKind::Abort, name, |f| {
            f.percent = Some(share);
            f.error = Some(503);
            f.duration_s = duration_s;
            f.notes = vec![
                "HTTPChaos abort closes the connection; the caller's proxy reports it as 503 (retried)".to_string(),
            ];
        }));
        if let Some(n) = spec.get("delay") {
            cx.warn(
                d,
                n,
                &join(path, "delay"),
                "Chaos Mesh aborts before it delays: with abort, the delay never applies; ignored",
            );
        }
    } else if let Some(n) = spec.get("delay")
        && let Some(s) = duration(cx, d, n, &join(path, "delay"))
    {
        out.extend(per_target(
            d,
            &p.picked,
            cx,
            FaultKind::Latency,
            &format!("{name}{}", if out.is_empty() { "" } else { "-delay" }),
            |f| {
                f.delay = Some(DelayOut::ConstMs(s * 1000.0));
                f.percent = Some(share);
                f.duration_s = duration_s;
            },
        ));
    }
    if let Some(r) = spec.get("replace") {
        let code = r.get("code").and_then(number);
        match code {
            Some(c) if (400.0..=599.0).contains(&c) && !abort => {
                out.extend(per_target(
                    d,
                    &p.picked,
                    cx,
                    FaultKind::Abort,
                    &format!("{name}-replace"),
                    |f| {
                        f.percent = Some(share);
                        f.error = Some(c as u16);
                        f.duration_s = duration_s;
                        f.notes = vec![format!(
                            "replace.code {c}: the answer becomes an error (the service still does its work in reality)"
                        )];
                    },
                ));
            }
            _ => {}
        }
        for e in r.entries() {
            if e.key != "code" || code.is_none_or(|c| !(400.0..=599.0).contains(&c)) {
                cx.warn(
                    d,
                    &e.value,
                    &format!("{path}.replace.{}", e.key),
                    "not modelled: chaoscal answers have no headers or bodies; ignored",
                );
            }
        }
    }
    if let Some(n) = spec.get("patch") {
        n.mark_all();
        cx.warn(
            d,
            n,
            &join(path, "patch"),
            "not modelled: chaoscal answers have no headers or bodies; ignored",
        );
    }
    if out.is_empty() {
        cx.warn(
            d,
            spec,
            path,
            "HTTPChaos without abort, delay or an error code: nothing imported",
        );
    }
    out
}

fn stress(cx: &mut Cx, d: &D, spec: &Node, path: &str, name: &str, duration_s: Option<f64>) -> Vec<FaultOut> {
    let Some(p) = pods(cx, d, spec, path) else {
        spec.mark_all();
        return Vec::new();
    };
    spec.get("containerNames").map(Node::mark_all);
    if let Some(n) = spec.get("stressngStressors") {
        cx.warn(
            d,
            n,
            &join(path, "stressngStressors"),
            "not modelled: raw stress-ng options cannot be read as a load; skipped",
        );
        return Vec::new();
    }
    let Some(st) = spec.get("stressors") else {
        cx.err(d, spec, path, "a StressChaos needs `stressors` (cpu or memory)");
        return Vec::new();
    };
    let sp = join(path, "stressors");
    if let Some(m) = st.get("memory") {
        m.mark_all();
        cx.warn(d, m, &join(&sp, "memory"), "not modelled: chaoscal has no memory; if the stress gets the pod OOM-killed, import a PodChaos pod-kill instead");
    }
    let Some(cpu) = st.get("cpu") else {
        return Vec::new();
    };
    let cp = join(&sp, "cpu");
    let workers = cpu.get("workers").and_then(number).unwrap_or(1.0);
    let load = cpu.get("load").and_then(number).unwrap_or(100.0);
    if let Some(o) = cpu.get("options")
        && !o.items().is_empty()
    {
        cx.warn(d, o, &join(&cp, "options"), "not modelled: stress-ng options; ignored");
    }
    if !(workers >= 1.0 && (0.0..=100.0).contains(&load)) {
        cx.err(
            d,
            cpu,
            &cp,
            format!("workers must be at least 1 and load 0–100, found {workers} and {load}"),
        );
        return Vec::new();
    }
    let cpus = cx.opts.cpus_per_pod;
    let full = 1.0 + workers * load / 100.0 / cpus;
    let share = p.k / f64::from(p.n.max(1));
    let factor = (1.0 + (full - 1.0) * share).min(1000.0);
    let mut notes = vec![format!(
        "{workers} worker(s) at {load}% share the pod's {cpus} CPU(s) with the service: service time × (1 + workers·load/cpus) = {full}"
    )];
    if share < 1.0 {
        notes.push(format!(
            "{:.1}% of the pods stressed: the factor is spread over all of them (same mean service time)",
            share * 100.0
        ));
    }
    per_target(d, &p.picked, cx, FaultKind::Slowdown, name, |f| {
        f.factor = Some(factor);
        f.duration_s = duration_s;
        f.notes = notes.clone();
    })
}

/// `Schedule`: the embedded chaos (or workflow) at every firing within the run.
fn schedule(cx: &mut Cx, d: &D, spec: &Node, path: &str, name: &str) -> Vec<FaultOut> {
    let Some(sn) = spec.get("schedule") else {
        cx.err(
            d,
            spec,
            path,
            "a Schedule needs `schedule` (a cron expression such as \"@every 10m\")",
        );
        return Vec::new();
    };
    let cron = match Cron::parse(sn.scalar().unwrap_or("")) {
        Ok((c, tz)) => {
            if let Some(tz) = tz {
                cx.warn(d, sn, &join(path, "schedule"), format!("the time zone {tz} is ignored: the schedule's clock starts at midnight when the manifests are applied"));
            }
            c
        }
        Err(e) => {
            cx.err(d, sn, &join(path, "schedule"), e);
            return Vec::new();
        }
    };
    let kind = spec.get("type").and_then(|t| t.scalar()).unwrap_or("").to_string();
    let key = lower_camel(&kind);
    let Some(inner) = spec.get(&key) else {
        cx.err(
            d,
            spec,
            path,
            format!("a Schedule of type {kind:?} needs its spec under `{key}`"),
        );
        return Vec::new();
    };
    let ip = join(path, &key);
    let one = if kind == "Workflow" {
        workflow(cx, d, inner, &ip)
    } else {
        chaos(cx, d, &kind, inner, &ip, name, None)
    };
    if one.is_empty() {
        return Vec::new();
    }
    spec.get("historyLimit");
    spec.get("startingDeadlineSeconds");
    let allow = spec.get("concurrencyPolicy").and_then(|c| c.scalar()) == Some("Allow");
    let horizon = cx.horizon_s().ceil() as u64;
    let fires = cron.firings(horizon, 100_000);
    if fires.is_empty() {
        cx.warn(
            d,
            sn,
            &join(path, "schedule"),
            "the schedule does not fire during the run; nothing imported",
        );
        return Vec::new();
    }
    let length = one
        .iter()
        .map(|f| f.start_s + f.duration_s.unwrap_or(f64::INFINITY))
        .fold(0.0, f64::max);
    // Forbid (the default): a firing while the last run goes on is skipped.
    let mut kept: Vec<u64> = Vec::new();
    for t in fires {
        if allow || kept.last().is_none_or(|last| (t as f64) >= *last as f64 + length) {
            kept.push(t);
        }
    }
    let mut out = Vec::new();
    if kept.len() * one.len() <= SCHEDULE_FAULTS_MAX {
        for (i, t) in kept.iter().enumerate() {
            for f in &one {
                let mut f = f.clone();
                f.name = format!("{}-{}", f.name, i + 1);
                f.start_s += *t as f64;
                out.push(f);
            }
        }
        return out;
    }
    // Too many runs to list: a random fault with the same mean period and length.
    let first = kept[0] as f64;
    let mean_gap = if kept.len() > 1 {
        (kept[kept.len() - 1] - kept[0]) as f64 / (kept.len() - 1) as f64
    } else {
        cx.horizon_s()
    };
    for f in &one {
        let mut f = f.clone();
        let mttr = f.duration_s.unwrap_or(mean_gap).clamp(0.001, mean_gap);
        f.start_s += first;
        f.random = Some(((mean_gap - mttr).max(1.0), mttr));
        f.duration_s = None;
        f.notes.push(format!(
            "{} runs in the run: written as a random fault with the same mean period ({mean_gap} s) and length ({mttr} s), exponential instead of regular",
            kept.len()
        ));
        if f.kind == FaultKind::Kill {
            f.notes
                .push("a random kill fails and restarts each replica on its own".to_string());
        }
        out.push(f);
    }
    out
}

/// `NetworkChaos` → `networkChaos`.
fn lower_camel(kind: &str) -> String {
    let mut c = kind.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// `Workflow`: the entry template's steps as faults with start times.
fn workflow(cx: &mut Cx, d: &D, spec: &Node, path: &str) -> Vec<FaultOut> {
    let Some(entry) = spec.get("entry").and_then(|e| e.scalar()).map(str::to_string) else {
        cx.err(d, spec, path, "a Workflow needs `entry` (a template name)");
        return Vec::new();
    };
    let templates = spec.get("templates").map(|t| t.items()).unwrap_or(&[]);
    let mut out = Vec::new();
    let wf = Wf {
        spec,
        templates,
        path: join(path, "templates"),
    };
    wf.run(cx, d, &entry, 0.0, 0, &mut out);
    out
}

struct Wf<'n> {
    spec: &'n Node,
    templates: &'n [Node],
    path: String,
}

impl Wf<'_> {
    /// Runs template `name` from `t0`; returns when it ends (`None`: never).
    fn run(&self, cx: &mut Cx, d: &D, name: &str, t0: f64, depth: usize, out: &mut Vec<FaultOut>) -> Option<f64> {
        let Some((i, t)) = self
            .templates
            .iter()
            .enumerate()
            .find(|(_, t)| t.get("name").and_then(|n| n.scalar()) == Some(name))
        else {
            cx.err(
                d,
                self.templates.first().unwrap_or(self.spec),
                &self.path,
                format!("no template named \"{name}\""),
            );
            return Some(t0);
        };
        let tp = format!("{}[{i}]", self.path);
        if depth > WORKFLOW_DEPTH_MAX {
            cx.err(
                d,
                t,
                &tp,
                "templates nested more than 16 deep (does a template contain itself?)",
            );
            return Some(t0);
        }
        let deadline = match t.get("deadline") {
            Some(n) => duration(cx, d, n, &join(&tp, "deadline")),
            None => None,
        };
        let ty = t.get("templateType").and_then(|n| n.scalar()).unwrap_or("").to_string();
        let children: Vec<String> = t
            .get("children")
            .map(|c| c.items())
            .unwrap_or(&[])
            .iter()
            .filter_map(|c| c.scalar().map(str::to_string))
            .collect();
        let first = out.len();
        let end = match ty.as_str() {
            "Serial" => {
                let mut at = Some(t0);
                for c in &children {
                    at = match at {
                        Some(a) => self.run(cx, d, c, a, depth + 1, out),
                        None => None,
                    };
                }
                at
            }
            "Parallel" => {
                let mut end = Some(t0);
                for c in &children {
                    let e = self.run(cx, d, c, t0, depth + 1, out);
                    end = match (end, e) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                }
                end
            }
            "Suspend" => {
                if deadline.is_none() {
                    cx.err(d, t, &tp, "a Suspend template needs `deadline` (how long it waits)");
                }
                Some(t0)
            }
            "Schedule" => {
                let Some(s) = t.get("schedule") else {
                    cx.err(d, t, &tp, "a Schedule template needs `schedule`");
                    return Some(t0);
                };
                let faults = schedule(cx, d, s, &join(&tp, "schedule"), name);
                out.extend(faults.into_iter().map(|mut f| {
                    f.start_s += t0;
                    f
                }));
                None
            }
            "Task" | "StatusCheck" => {
                t.mark_all();
                cx.warn(
                    d,
                    t,
                    &tp,
                    format!("not modelled: a {ty} step runs nothing in chaoscal and takes no time"),
                );
                Some(t0)
            }
            kind if kind.ends_with("Chaos") => {
                let key = lower_camel(kind);
                match t.get(&key) {
                    Some(spec) => {
                        let wf_name = format!("{}-{name}", d.name);
                        let faults = chaos(
                            cx,
                            d,
                            kind,
                            spec,
                            &join(&tp, &key),
                            &wf_name,
                            Some(deadline.unwrap_or(f64::INFINITY)),
                        );
                        out.extend(faults.into_iter().map(|mut f| {
                            f.start_s += t0;
                            if f.duration_s.is_some_and(f64::is_infinite) {
                                f.duration_s = None;
                            }
                            f
                        }));
                    }
                    None => cx.err(d, t, &tp, format!("a {kind} template needs its spec under `{key}`")),
                }
                if deadline.is_none() {
                    cx.warn(
                        d,
                        t,
                        &tp,
                        "a chaos step without `deadline` runs to the end of the run; later steps never start",
                    );
                    return None;
                }
                Some(t0)
            }
            _ => {
                cx.err(
                    d,
                    t,
                    &join(&tp, "templateType"),
                    format!("unknown templateType \"{ty}\""),
                );
                Some(t0)
            }
        };
        for key in ["abortWithStatusCheck", "conditionalBranches", "statusCheck", "task"] {
            if let Some(n) = t.get(key) {
                n.mark_all();
                cx.warn(d, n, &join(&tp, key), "not modelled: chaoscal runs every step; ignored");
            }
        }
        // The deadline ends the step: its chaos stops, its children are cut.
        let Some(dl) = deadline else { return end };
        let stop = t0 + dl;
        let mut kept = Vec::new();
        for mut f in out.drain(first..) {
            if f.start_s >= stop {
                continue;
            }
            let end_f = f.duration_s.map_or(f64::INFINITY, |x| f.start_s + x);
            if end_f > stop && f.kind != FaultKind::Kill {
                f.duration_s = Some(stop - f.start_s);
            }
            kept.push(f);
        }
        out.extend(kept);
        Some(match end {
            Some(e) if ty != "Suspend" && !ty.ends_with("Chaos") => e.min(stop),
            _ => stop,
        })
    }
}
