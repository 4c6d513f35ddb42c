//! Writing the import: the base scenario (or a minimal one) with the
//! imported entries, each commented with the file and document it came
//! from; and the topology with the mesh's settings applied.
//!
//! Both are edited with `toml_edit`, so the base's and the topology's own
//! comments, order and layout are kept.

use std::collections::BTreeSet;
use std::path::Path;

use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use super::{Cx, DelayOut, FaultOut, OverrideValue, Plan, Scope, Step, TargetOut};
use crate::input::{Diagnostic, KeyPath, Severity, Source};
use crate::model::FaultKind;

/// Without `--base`: the run's length, warm-up and load (docs/import.md).
pub const MINIMAL_DURATION_S: f64 = 3600.0;
pub const MINIMAL_WARMUP_S: f64 = 60.0;
pub const MINIMAL_RATE_PER_S: f64 = 10.0;
pub const MINIMAL_REPLICATIONS: i64 = 100;
pub const MINIMAL_OBJECTIVE: f64 = 0.999;
/// The manifests are applied this long after warm-up, unless `--start-s`
/// says when: the blast radius compares with the time before.
pub const START_AFTER_WARMUP_S: f64 = 60.0;

/// A base scenario as an editable document.
pub struct Base {
    pub name: String,
    pub text: String,
    pub doc: DocumentMut,
}

pub fn parse_base(name: &str, text: &str) -> Result<Base, Vec<Diagnostic>> {
    match text.parse::<DocumentMut>() {
        Ok(doc) => Ok(Base {
            name: name.to_string(),
            text: text.to_string(),
            doc,
        }),
        Err(e) => {
            let src = Source::new(name, text);
            Err(vec![src.at_span(
                Severity::Error,
                e.span(),
                format!("invalid TOML: {}", e.message().trim()),
            )])
        }
    }
}

pub struct Timing {
    pub duration_s: f64,
    pub start_s: f64,
}

/// The run's length and when the manifests are applied.
pub fn timing(base: Option<&Base>, opts: &super::Options) -> Timing {
    let get = |k: &str| {
        base.and_then(|b| b.doc.get("run"))
            .and_then(|r| r.get(k))
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
    };
    let (duration_s, warmup_s) = match base {
        Some(_) => (
            get("duration_s").unwrap_or(MINIMAL_DURATION_S),
            get("warmup_s").unwrap_or(0.0),
        ),
        None => (MINIMAL_DURATION_S, MINIMAL_WARMUP_S),
    };
    let start_s = opts
        .start_s
        .unwrap_or((warmup_s + START_AFTER_WARMUP_S).min(duration_s / 2.0));
    Timing { duration_s, start_s }
}

pub struct Written {
    pub name: String,
    pub scenario_toml: String,
    pub topology_toml: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A number as TOML writes it: whole numbers as integers.
fn num(x: f64) -> Value {
    // Twelve decimals: 1 − 0.95 is written 0.05, not 0.050000000000000044.
    let x = format!("{x:.12}").parse::<f64>().unwrap_or(x);
    if x.fract() == 0.0 && x.abs() < 1e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

fn inline(pairs: &[(&str, Value)]) -> Value {
    let mut t = InlineTable::new();
    for (k, v) in pairs {
        t.insert(*k, v.clone());
    }
    Value::InlineTable(t)
}

/// `# from …` and the notes, as the comment above an entry.
fn comment(origin: &str, notes: &[String]) -> String {
    let mut s = format!("\n# from {origin}\n");
    for n in notes {
        s.push_str(&format!("# {n}\n"));
    }
    s
}

/// Appends a table to an array of tables `key` (created if absent; an
/// inline array gets the table inline).
fn push_entry(doc: &mut DocumentMut, key: &str, mut table: Table, prefix: String) {
    table.decor_mut().set_prefix(prefix);
    match doc.get_mut(key) {
        Some(Item::ArrayOfTables(a)) => a.push(table),
        Some(Item::Value(Value::Array(a))) => a.push(Value::InlineTable(table.into_inline_table())),
        _ => {
            let mut a = ArrayOfTables::new();
            a.push(table);
            doc.insert(key, Item::ArrayOfTables(a));
        }
    }
}

/// The base's text without a warning for a section the import replaces.
fn replaced(diags: &mut Vec<Diagnostic>, base: &Base, key: &str, why: &str) {
    let src = Source::new(&base.name, base.text.as_str());
    diags.push(src.warning(&KeyPath::root().k(key), why));
}

pub fn write(cx: &mut Cx, base: Option<Base>, topology: super::Text<'_>, plan: &Plan) -> Written {
    let mut diags = Vec::new();
    let opts = cx.opts;
    let topology_ref = opts
        .topology_out_ref
        .clone()
        .unwrap_or_else(|| opts.topology_ref.clone());
    let (mut doc, minimal) = match base {
        Some(b) => {
            let mut doc = b.doc.clone();
            if doc.contains_key("faults") && !plan.faults.is_empty() {
                replaced(
                    &mut diags,
                    &b,
                    "faults",
                    "the base's [[faults]] are replaced by the imported ones",
                );
                doc.remove("faults");
            }
            if doc.contains_key("rollout") && plan.rollout.is_some() {
                replaced(
                    &mut diags,
                    &b,
                    "rollout",
                    "the base's [rollout] is replaced by the imported one",
                );
                doc.remove("rollout");
            }
            (doc, false)
        }
        None => (minimal(cx, plan), true),
    };
    // [experiment]: the topology as seen from the written scenario, the name if given.
    if let Some(exp) = doc.get_mut("experiment").and_then(Item::as_table_like_mut) {
        exp.insert("topology", toml_edit::value(topology_ref.clone()));
        if let Some(n) = &opts.name {
            exp.insert("name", toml_edit::value(n.clone()));
        }
    }
    let name = doc
        .get("experiment")
        .and_then(|e| e.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or(&opts.default_name)
        .to_string();
    // SLOs (probes), then their [expect].
    let mut slo_names: Vec<(String, String, f64, String)> = doc
        .get("slos")
        .and_then(|s| s.as_array_of_tables())
        .map(|a| {
            a.iter()
                .map(|t| {
                    let s = |k: &str| t.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                    let obj = t.get("objective").and_then(|v| v.as_float()).unwrap_or(0.0);
                    (s("name"), s("kind"), obj, s("flow"))
                })
                .collect()
        })
        .unwrap_or_default();
    for s in &plan.slos {
        let mut n = s.name.clone();
        while slo_names.iter().any(|x| x.0 == n) {
            n = format!("{n}-probe");
        }
        let mut t = Table::new();
        t.insert("name", toml_edit::value(n.clone()));
        if !s.flow.is_empty() {
            t.insert("flow", toml_edit::value(s.flow.clone()));
        }
        t.insert("kind", toml_edit::value(s.kind));
        t.insert("objective", Item::Value(num(s.objective)));
        if let Some(th) = s.threshold_ms {
            t.insert("threshold_ms", Item::Value(num(th)));
        }
        if let Some(w) = s.window_s {
            t.insert("window_s", Item::Value(num(w)));
        }
        push_entry(&mut doc, "slos", t, comment(&s.origin, &s.notes));
        if let Some(p) = s.expect {
            let expect = doc.entry("expect").or_insert(Item::Table(Table::new()));
            if let Some(e) = expect.as_table_like_mut() {
                let m = e
                    .entry("max_violation_probability")
                    .or_insert(Item::Value(Value::InlineTable(InlineTable::new())));
                if let Some(m) = m.as_table_like_mut() {
                    m.insert(&n, Item::Value(num(p)));
                }
            }
        }
        slo_names.push((n, s.kind.to_string(), s.objective, s.flow.clone()));
    }
    // Faults.
    let mut fault_names = BTreeSet::new();
    for f in &plan.faults {
        if f.start_s >= cx.run_s {
            diags.push(file_warning(
                &f.origin,
                format!(
                    "fault \"{}\" starts at {} s, after the run ends ({} s): it never runs",
                    f.name, f.start_s, cx.run_s
                ),
            ));
        }
        let mut n = f.name.clone();
        let mut k = 2;
        while !fault_names.insert(n.clone()) {
            n = format!("{}-{k}", f.name);
            k += 1;
        }
        push_entry(&mut doc, "faults", fault_table(f, &n), comment(&f.origin, &f.notes));
    }
    if minimal && !plan.faults.is_empty() {
        doc.insert("blast_radius", Item::Table(declared_radius(plan)));
    }
    // Guardrails.
    for g in &plan.guardrails {
        let slo = g.slo.clone().or_else(|| {
            let fits: Vec<&(String, String, f64, String)> = slo_names
                .iter()
                .filter(|s| ((1.0 - s.2) - g.budget).abs() < 1e-9)
                .collect();
            fits.iter()
                .find(|s| g.labels.iter().any(|l| *l == s.0 || *l == s.3))
                .or_else(|| fits.first())
                .map(|s| s.0.clone())
        });
        let Some(slo) = slo else {
            diags.push(file_warning(&g.origin, format!(
                "alert {}: no SLO of the scenario has the error budget {} (objective {}); give it in --base; not imported",
                g.name, g.budget, 1.0 - g.budget
            )));
            continue;
        };
        if g.window_s > 86_400.0 || g.detect_delay_s > 86_400.0 {
            diags.push(file_warning(
                &g.origin,
                format!(
                    "alert {}: a window over a day ({} s) is longer than chaoscal's guardrails watch; not imported",
                    g.name, g.window_s
                ),
            ));
            continue;
        }
        let action_text = g
            .action
            .clone()
            .or_else(|| opts.on_alert.clone())
            .or_else(|| plan.rollout.as_ref().map(|_| "rollback".to_string()));
        let Some(action_text) = action_text else {
            diags.push(file_warning(&g.origin, format!(
                "alert {}: an alert says nothing of what automation does; give --on-alert (e.g. failover:FROM:TO, kill_switch:SERVICE, shed:0.5, scale:SERVICE:2, rollback) or a `chaoscal.io/action` annotation; not imported",
                g.name
            )));
            continue;
        };
        let action = match action(&action_text) {
            Ok(a) => a,
            Err(e) => {
                diags.push(Diagnostic {
                    severity: Severity::Error,
                    ..file_warning(&g.origin, format!("alert {}: {e}", g.name))
                });
                continue;
            }
        };
        let mut t = Table::new();
        t.insert("name", toml_edit::value(g.name.clone()));
        let mut when = vec![
            ("slo", Value::from(slo.clone())),
            ("burn_rate", num(g.burn_rate)),
            ("window_s", num(g.window_s)),
        ];
        if let Some(s) = g.short_window_s {
            when.push(("short_window_s", num(s)));
        }
        t.insert("when", Item::Value(inline(&when)));
        if g.detect_delay_s > 0.0 {
            t.insert("detect_delay_s", Item::Value(num(g.detect_delay_s)));
        }
        t.insert("action", Item::Value(action));
        push_entry(&mut doc, "guardrails", t, comment(&g.origin, &g.notes));
    }
    // The rollout.
    if let Some(r) = &plan.rollout {
        let mut t = Table::new();
        t.insert("service", toml_edit::value(r.service.clone()));
        t.insert("start_s", Item::Value(num(cx.start_s)));
        t.insert("overrides", Item::Value(Value::InlineTable(InlineTable::new())));
        let mut steps = Array::new();
        for s in &r.steps {
            steps.push(match s {
                Step::Weight(w) => inline(&[("weight", num(*w))]),
                Step::PauseS(p) => inline(&[("pause_s", num(*p))]),
                Step::Analysis(a) => inline(&[("analysis", analysis(a, None))]),
            });
        }
        for v in steps.iter_mut() {
            v.decor_mut().set_prefix("\n  ");
        }
        steps.set_trailing("\n");
        steps.set_trailing_comma(true);
        t.insert("steps", Item::Value(Value::Array(steps)));
        if let Some((a, start)) = &r.analysis {
            t.insert("analysis", Item::Value(analysis(a, Some(*start))));
        }
        t.decor_mut().set_prefix(comment(&r.origin, &r.notes));
        doc.insert("rollout", Item::Table(t));
    }
    // The topology with the mesh's settings.
    let topology_toml = if plan.overrides.is_empty() {
        Some(topology.1.to_string())
    } else {
        match apply_overrides(topology.1, plan) {
            Ok(t) => {
                if opts.topology_out_ref.is_none() {
                    let keys: BTreeSet<String> = plan
                        .overrides
                        .iter()
                        .map(|o| format!("{} of {}", o.key, o.service))
                        .collect();
                    let mut d = Diagnostic::file_error(
                        Path::new(topology.0),
                        format!(
                            "the mesh's settings ({}) are not applied: give --topology-out to write the topology with them",
                            keys.into_iter().collect::<Vec<_>>().join(", ")
                        ),
                    );
                    d.severity = Severity::Warning;
                    diags.push(d);
                }
                Some(t)
            }
            Err(e) => {
                diags.push(Diagnostic::file_error(Path::new(topology.0), e));
                None
            }
        }
    };
    let mut text = doc.to_string();
    if minimal {
        text = text.trim_start().to_string();
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Written {
        name,
        scenario_toml: text,
        topology_toml,
        diagnostics: diags,
    }
}

/// A warning about an imported entry, at its file (whole-file position).
fn file_warning(origin: &str, msg: String) -> Diagnostic {
    let file = origin.split(", document").next().unwrap_or(origin);
    let mut d = Diagnostic::file_error(
        Path::new(file),
        format!(
            "{}: {msg}",
            origin.strip_prefix(file).unwrap_or("").trim_start_matches(", ")
        ),
    );
    d.severity = Severity::Warning;
    d
}

fn fault_table(f: &FaultOut, name: &str) -> Table {
    let mut t = Table::new();
    t.insert("name", toml_edit::value(name));
    t.insert("kind", toml_edit::value(f.kind.name()));
    let target = match &f.target {
        TargetOut::Service { service, region } => {
            let mut p = vec![("service", Value::from(service.clone()))];
            if let Some(r) = region {
                p.push(("region", Value::from(r.clone())));
            }
            inline(&p)
        }
        TargetOut::Link(a, b) => {
            let mut arr = Array::new();
            arr.push(a.clone());
            arr.push(b.clone());
            inline(&[("between", Value::Array(arr))])
        }
    };
    t.insert("target", Item::Value(target));
    t.insert("start_s", Item::Value(num(f.start_s)));
    if let Some(d) = f.duration_s {
        t.insert("duration_s", Item::Value(num(d)));
    }
    if let Some((mtbf, mttr)) = f.random {
        t.insert(
            "random",
            Item::Value(inline(&[("mtbf_s", num(mtbf)), ("mttr_s", num(mttr))])),
        );
    }
    match &f.delay {
        Some(DelayOut::ConstMs(ms)) => {
            t.insert("delay", Item::Value(num(*ms)));
        }
        Some(DelayOut::UniformMs(a, b)) => {
            t.insert(
                "delay",
                Item::Value(inline(&[
                    ("dist", Value::from("uniform")),
                    ("min_ms", num(*a)),
                    ("max_ms", num(*b)),
                ])),
            );
        }
        None => {}
    }
    if let Some(p) = f.percent
        && !(f.kind == FaultKind::Kill && f.replicas.is_some())
    {
        t.insert("percent", Item::Value(num(p)));
    }
    if let Some(e) = f.error {
        t.insert("error", Item::Value(num(f64::from(e))));
    }
    if let Some(r) = f.replicas {
        t.insert("replicas", Item::Value(num(f64::from(r))));
    }
    if let Some(x) = f.factor {
        t.insert("factor", Item::Value(num(x)));
    }
    t
}

fn analysis(a: &super::Analysis, starting_step: Option<u32>) -> Value {
    let mut p: Vec<(&str, Value)> = Vec::new();
    if let Some(v) = a.max_error_rate {
        p.push(("max_error_rate", num(v)));
    }
    if let Some(v) = a.max_p99_ms {
        p.push(("max_p99_ms", num(v)));
    }
    if let Some(v) = a.interval_s {
        p.push(("interval_s", num(v)));
    }
    if let Some(v) = a.initial_delay_s {
        p.push(("initial_delay_s", num(v)));
    }
    if let Some(v) = a.count {
        p.push(("count", num(f64::from(v))));
    }
    if let Some(v) = a.failure_limit {
        p.push(("failure_limit", num(f64::from(v))));
    }
    if let Some(v) = a.inconclusive_limit {
        p.push(("inconclusive_limit", num(f64::from(v))));
    }
    if let Some(s) = starting_step {
        p.push(("starting_step", num(f64::from(s))));
    }
    inline(&p)
}

/// `rollback`, `kill_switch:SERVICE`, `failover:FROM:TO`, `shed:SHARE`,
/// `scale:SERVICE:N` as a guardrail's `action`.
pub fn action(s: &str) -> Result<Value, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || {
        format!(
            "\"{s}\" is not an action: expected rollback, kill_switch:SERVICE, failover:FROM:TO, shed:SHARE or scale:SERVICE:N"
        )
    };
    Ok(match parts.as_slice() {
        ["rollback"] => inline(&[("kind", Value::from("rollback"))]),
        ["kill_switch", svc] => inline(&[("kind", Value::from("kill_switch")), ("service", Value::from(*svc))]),
        ["failover", from, to] => inline(&[
            ("kind", Value::from("failover")),
            ("from", Value::from(*from)),
            ("to", Value::from(*to)),
        ]),
        ["shed", share] => inline(&[
            ("kind", Value::from("shed")),
            ("share", num(share.parse::<f64>().map_err(|_| bad())?)),
        ]),
        ["scale", svc, n] => inline(&[
            ("kind", Value::from("scale")),
            ("service", Value::from(*svc)),
            ("replicas", num(n.parse::<u32>().map_err(|_| bad())? as f64)),
        ]),
        _ => return Err(bad()),
    })
}

/// The declared blast radius of a minimal scenario: the services and
/// regions the faults target.
fn declared_radius(plan: &Plan) -> Table {
    let mut services = BTreeSet::new();
    let mut regions = BTreeSet::new();
    let mut every_region = false;
    for f in &plan.faults {
        match &f.target {
            TargetOut::Service { service, region } => {
                services.insert(service.clone());
                match region {
                    Some(r) => {
                        regions.insert(r.clone());
                    }
                    None => every_region = true,
                }
            }
            TargetOut::Link(a, b) => {
                regions.insert(a.clone());
                regions.insert(b.clone());
            }
        }
    }
    let mut t = Table::new();
    t.decor_mut()
        .set_prefix("\n# declared: the services and regions the imported faults target\n");
    if !services.is_empty() {
        t.insert("max_services", Item::Value(num(services.len() as f64)));
    }
    if !every_region {
        t.insert("max_regions", Item::Value(num(regions.len() as f64)));
    }
    t
}

/// The scenario written without `--base` (docs/import.md, "Without a base").
fn minimal(cx: &Cx, plan: &Plan) -> DocumentMut {
    let opts = cx.opts;
    let name = opts.name.clone().unwrap_or_else(|| opts.default_name.clone());
    let mut files: Vec<&str> = plan
        .faults
        .iter()
        .map(|f| f.origin.as_str())
        .chain(plan.guardrails.iter().map(|g| g.origin.as_str()))
        .chain(plan.rollout.iter().map(|r| r.origin.as_str()))
        .map(|o| o.split(", document").next().unwrap_or(o))
        .collect();
    files.sort_unstable();
    files.dedup();
    let mut text = String::new();
    text.push_str("# Written by `chaoscal import` without --base: a minimal scenario.\n");
    text.push_str("# Set the load, the run and the SLOs to your own before trusting the figures.\n");
    text.push_str("[experiment]\n");
    text.push_str(&format!("name = {}\n", Value::from(name)));
    text.push_str("topology = \"\"\n");
    text.push_str("owner = \"unassigned\"\n");
    text.push_str("hypothesis = \"The mesh's SLOs hold while the imported chaos runs\"\n");
    text.push_str(&format!(
        "rollback = {}\n",
        Value::from(format!(
            "delete the chaos objects (kubectl delete -f {})",
            files.join(" ")
        ))
    ));
    text.push_str("tags = [\"imported\"]\n\n[run]\n");
    text.push_str(&format!(
        "duration_s = {}\nwarmup_s = {}\nreplications = {MINIMAL_REPLICATIONS}\nseed = 1\n\n",
        MINIMAL_DURATION_S, MINIMAL_WARMUP_S
    ));
    text.push_str(&format!(
        "[workload]\nrate_per_s = {MINIMAL_RATE_PER_S}   # requests per second in each region: a light load\n"
    ));
    for f in &cx.topo.flows {
        text.push_str(&format!(
            "\n[[slos]]\nname = {}\nflow = {}\nkind = \"availability\"\nobjective = {MINIMAL_OBJECTIVE}\n",
            Value::from(format!("{}-availability", f.name)),
            Value::from(f.name.clone())
        ));
    }
    text.parse::<DocumentMut>().unwrap_or_default()
}

/// The topology text with the overrides applied (comments kept), and a
/// header saying what was changed and where it came from.
fn apply_overrides(text: &str, plan: &Plan) -> Result<String, String> {
    let mut doc = text
        .parse::<DocumentMut>()
        .map_err(|e| format!("cannot edit the topology: {}", e.message()))?;
    let mut header = String::from("# chaoscal import applied the mesh's own settings:\n");
    for o in &plan.overrides {
        let value = match &o.value {
            OverrideValue::Number(x) => num(*x),
            OverrideValue::Text(s) => Value::from(s.clone()),
            OverrideValue::Table(t) => inline(&t.iter().map(|(k, v)| (*k, num(*v))).collect::<Vec<_>>()),
        };
        let shown = value.to_string();
        let mut changed = 0;
        let Some(services) = doc.get_mut("services") else {
            continue;
        };
        let mut each = |t: &mut dyn toml_edit::TableLike, is_target: bool| {
            if !is_target {
                return;
            }
            match (t.get_mut(o.key), &o.value) {
                // A table merges into the one written (keys not set keep their values).
                (Some(item), OverrideValue::Table(pairs)) if item.is_table_like() => {
                    if let Some(tl) = item.as_table_like_mut() {
                        for (k, v) in pairs {
                            tl.insert(k, Item::Value(num(*v)));
                        }
                    }
                }
                _ => {
                    t.insert(o.key, Item::Value(value.clone()));
                }
            }
            changed += 1;
        };
        visit_services(services, &mut |svc: &mut dyn toml_edit::TableLike| {
            let svc_name = svc.get("name").and_then(|n| n.as_str()).unwrap_or("").to_string();
            match o.scope {
                Scope::Service => each(svc, svc_name == o.service),
                Scope::Calls => {
                    if let Some(calls) = svc.get_mut("calls") {
                        visit_services(calls, &mut |c: &mut dyn toml_edit::TableLike| {
                            let to = c.get("to").and_then(|n| n.as_str()).unwrap_or("").to_string();
                            each(c, to == o.service);
                        });
                    }
                }
            }
        });
        let where_ = match o.scope {
            Scope::Service => format!("service {}", o.service),
            Scope::Calls => format!("{changed} call(s) to {}", o.service),
        };
        header.push_str(&format!("#   {where_}: {} = {shown}  (from {})\n", o.key, o.origin));
    }
    Ok(format!("{header}\n{doc}"))
}

/// Each table of an array of tables or an array of inline tables.
fn visit_services(item: &mut Item, f: &mut dyn FnMut(&mut dyn toml_edit::TableLike)) {
    match item {
        Item::ArrayOfTables(a) => a.iter_mut().for_each(|t| f(t)),
        Item::Value(Value::Array(a)) => a.iter_mut().for_each(|v| {
            if let Some(t) = v.as_inline_table_mut() {
                f(t)
            }
        }),
        _ => {}
    }
}
