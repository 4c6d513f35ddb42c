//! `chaoscal import` (issue 13): every supported kind becomes the scenario
//! it must, imported experiments run as their hand-written equivalents do,
//! and bad or unsupported manifests get located messages.

use std::path::Path;

use chaoscal::import::{Imported, Options, from_texts};
use chaoscal::input::{Diagnostic, LoadedScenario, Severity, scenario_from_str};
use chaoscal::sim::run_replication;

use crate::common::{run_cli, scratch};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{rel}")).expect("fixture exists")
}

fn topology() -> String {
    read("topology.toml")
}

/// The base scenario without its blast radius (the hand-written files add theirs).
fn base() -> String {
    read("base.toml")
}

/// Imports fixture files onto the base; panics with the diagnostics on failure.
fn import_with(files: &[&str], opts: &Options) -> Imported {
    let texts: Vec<(String, String)> = files.iter().map(|f| (f.to_string(), read(f))).collect();
    let pairs: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let topo = topology();
    let base = base();
    match from_texts(&pairs, ("topology.toml", &topo), Some(("base.toml", &base)), opts) {
        Ok(i) => i,
        Err(d) => panic!("import failed:\n{}", show(&d)),
    }
}

fn import(files: &[&str]) -> Imported {
    import_with(files, &Options::default())
}

/// Imports texts and returns the diagnostics, whether it succeeded or not.
fn diagnostics(files: &[(&str, &str)], opts: &Options) -> (bool, Vec<Diagnostic>) {
    let topo = topology();
    let base = base();
    match from_texts(files, ("topology.toml", &topo), Some(("base.toml", &base)), opts) {
        Ok(i) => (true, i.diagnostics),
        Err(d) => (false, d),
    }
}

fn show(d: &[Diagnostic]) -> String {
    d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

/// The base with hand-written `[[faults]]` (or other sections) appended.
fn hand(extra: &str) -> LoadedScenario {
    let text = format!("{}\n{extra}", base());
    match scenario_from_str(Path::new("topology.toml"), &topology(), Path::new("hand.toml"), &text) {
        Ok((l, _)) => l,
        Err(d) => panic!("hand-written scenario does not load:\n{}", show(&d)),
    }
}

/// The resolved faults, names left out, as text to compare.
fn faults(l: &LoadedScenario) -> Vec<String> {
    l.scenario
        .faults
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.name.clear();
            format!("{f:?}")
        })
        .collect()
}

fn assert_same_faults(imported: &Imported, hand_written: &str) {
    let want = hand(hand_written);
    assert_eq!(
        faults(&imported.loaded),
        faults(&want),
        "imported scenario:\n{}",
        imported.scenario_toml
    );
}

#[test]
fn network_chaos_delay_with_jitter_becomes_a_uniform_latency() {
    // NetworkChaos delay: latency ± jitter is Chaos Mesh's uniform delay, on the service the labels pick, in the namespace's region, for `duration`.
    let i = import(&["chaos-mesh/network-delay.yaml"]);
    assert_same_faults(
        &i,
        r#"[[faults]]
kind = "latency"
target = { service = "psp", region = "eu-west" }
start_s = 120
duration_s = 600
delay = { dist = "uniform", min_ms = 1000, max_ms = 2000 }
percent = 100
"#,
    );
    assert!(
        i.scenario_toml
            .contains("# from chaos-mesh/network-delay.yaml, document 1 (NetworkChaos \"psp-delay\")")
    );
}

#[test]
fn network_chaos_loss_partition_and_bandwidth() {
    // Loss on 3 of 6 pods is 12.5% of answers lost; whole namespaces partitioned is the link's partition; bandwidth is not modelled, with a warning at the field.
    let i = import(&["chaos-mesh/network.yaml"]);
    assert_same_faults(
        &i,
        r#"[[faults]]
kind = "packet_loss"
target = { service = "fraud" }
start_s = 120
duration_s = 300
percent = 12.5
[[faults]]
kind = "partition"
target = { between = ["eu-west", "us-east"] }
start_s = 120
duration_s = 120
"#,
    );
    let w = i
        .diagnostics
        .iter()
        .find(|d| d.message.contains("spec.bandwidth"))
        .expect("a bandwidth warning");
    assert_eq!(w.severity, Severity::Warning);
    assert!(
        w.message.contains("document 3 (NetworkChaos \"psp-bandwidth\")") && w.message.contains("not modelled"),
        "{w}"
    );
    assert_eq!(w.line, 36);
}

#[test]
fn pod_chaos_kills_with_restarts() {
    // pod-kill (mode one) kills one replica for the pod restart time, pod-failure (50% of 4) two for its duration, container-kill (all) every replica in the namespace's region for the container restart.
    let i = import(&["chaos-mesh/pod.yaml"]);
    assert_same_faults(
        &i,
        r#"[[faults]]
kind = "kill"
target = { service = "fraud", region = "eu-west" }
start_s = 120
duration_s = 30
replicas = 1
[[faults]]
kind = "kill"
target = { service = "psp", region = "us-east" }
start_s = 120
duration_s = 120
replicas = 2
[[faults]]
kind = "kill"
target = { service = "api", region = "eu-west" }
start_s = 120
duration_s = 10
percent = 100
"#,
    );
}

#[test]
fn http_chaos_abort_and_delay() {
    // HTTPChaos abort is a 503 abort; delay a constant latency.
    let i = import(&["chaos-mesh/http.yaml"]);
    assert_same_faults(
        &i,
        r#"[[faults]]
kind = "abort"
target = { service = "fraud", region = "eu-west" }
start_s = 120
duration_s = 300
error = 503
[[faults]]
kind = "latency"
target = { service = "fraud", region = "us-east" }
start_s = 120
duration_s = 300
delay = 250
"#,
    );
}

#[test]
fn stress_chaos_is_a_slowdown() {
    // Two workers at 50% on a one-CPU pod: service time × (1 + 2·0.5/1) = 2.
    let i = import(&["chaos-mesh/stress.yaml"]);
    assert_same_faults(
        &i,
        "[[faults]]\nkind = \"slowdown\"\ntarget = { service = \"psp\", region = \"eu-west\" }\nstart_s = 120\nduration_s = 180\nfactor = 2\n"
            .replace("psp", "fraud")
            .as_str(),
    );
}

#[test]
fn schedule_repeats_its_chaos_within_the_run() {
    // "@every 2m" from 120 s in a 900 s run fires 6 times, 2 min apart, the first 2 min after applying.
    let i = import(&["chaos-mesh/schedule.yaml"]);
    let hand_written: String = (1..=6)
        .map(|k| {
            format!(
                "[[faults]]\nkind = \"kill\"\ntarget = {{ service = \"psp\", region = \"eu-west\" }}\nstart_s = {}\nduration_s = 30\nreplicas = 1\n",
                120 + 120 * k
            )
        })
        .collect();
    assert_same_faults(&i, &hand_written);
}

#[test]
fn workflow_steps_become_start_times() {
    // Serial: a 10 s Suspend, then a Parallel of a 20 s delay and a 40 s CPU stress, both 10 s after applying.
    let i = import(&["chaos-mesh/workflow.yaml"]);
    assert_same_faults(
        &i,
        r#"[[faults]]
kind = "latency"
target = { service = "psp", region = "eu-west" }
start_s = 130
duration_s = 20
delay = 90
[[faults]]
kind = "slowdown"
target = { service = "fraud", region = "eu-west" }
start_s = 130
duration_s = 40
factor = 2
"#,
    );
}

#[test]
fn litmus_engine_experiments_and_probes() {
    // pod-delete every 10 s for 30 s kills 50% of the 4 pods three times; latency ± jitter on 1 of 4 pods is 25% of calls; loss and CPU hog likewise; the httpProbe and the promProbe become SLOs with [expect].
    let i = import(&["litmus/engine.yaml"]);
    let mut hand_written = String::new();
    for start in [120, 130, 140] {
        hand_written.push_str(&format!(
            "[[faults]]\nkind = \"kill\"\ntarget = {{ service = \"psp\", region = \"eu-west\" }}\nstart_s = {start}\nduration_s = 30\nreplicas = 2\n"
        ));
    }
    hand_written.push_str(
        r#"[[faults]]
kind = "latency"
target = { service = "psp", region = "eu-west" }
start_s = 120
duration_s = 60
delay = { dist = "uniform", min_ms = 1800, max_ms = 2200 }
percent = 25
[[faults]]
kind = "packet_loss"
target = { service = "psp", region = "eu-west" }
start_s = 120
duration_s = 45
percent = 2.5
[[faults]]
kind = "slowdown"
target = { service = "psp", region = "eu-west" }
start_s = 120
duration_s = 60
factor = 1.25
"#,
    );
    assert_same_faults(&i, &hand_written);
    let slos: Vec<&str> = i.loaded.scenario.slos.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        slos,
        [
            "checkout-availability",
            "checkout-latency",
            "checkout-up",
            "psp-success"
        ]
    );
    let expect = &i.loaded.scenario.expect.max_violation_probability;
    assert!(expect.contains(&("checkout-up".to_string(), 0.05)), "{expect:?}");
    // The cmdProbe is reported, not dropped.
    assert!(
        i.diagnostics
            .iter()
            .any(|d| d.message.contains("probe[1].mode") && d.message.contains("not modelled"))
    );
}

#[test]
fn istio_faults_and_the_mesh_settings() {
    // VirtualService fault.abort/delay with percentage become faults; retries, timeout, outlierDetection, connectionPool and loadBalancer become topology overrides in the second output.
    let opts = Options {
        topology_out_ref: Some("mesh.toml".into()),
        ..Options::default()
    };
    let i = import_with(&["istio/virtualservice.yaml", "istio/destinationrule.yaml"], &opts);
    assert_same_faults(
        &i,
        r#"[[faults]]
kind = "latency"
target = { service = "psp", region = "eu-west" }
start_s = 120
delay = 5000
percent = 0.5
[[faults]]
kind = "abort"
target = { service = "psp", region = "eu-west" }
start_s = 120
percent = 10
error = 503
"#,
    );
    assert!(i.scenario_toml.contains("topology = \"mesh.toml\""));
    let topo = &i.loaded.topology;
    let api = &topo.services[topo.service_by_name("api").unwrap().index()];
    let (fraud, psp) = (&api.calls[0], &api.calls[1]);
    assert_eq!(fraud.timeout_ns, Some(1_500_000_000));
    assert_eq!(fraud.per_try_timeout_ns, Some(400_000_000));
    assert_eq!(fraud.retry.as_ref().map(|r| r.attempts), Some(4));
    assert_eq!(psp.max_in_flight, Some(64));
    // The retry written in the topology keeps its backoff: overrides merge.
    assert_eq!(
        psp.retry.as_ref().map(|r| (r.attempts, r.backoff_ns)),
        Some((2, 50_000_000))
    );
    let svc = &topo.services[topo.service_by_name("psp").unwrap().index()];
    let od = svc.outlier_detection.as_ref().expect("outlier detection");
    assert_eq!(
        (od.consecutive_errors, od.base_ejection_ns, od.max_ejection_percent),
        (7, 15_000_000_000, 50.0)
    );
    assert_eq!(format!("{:?}", svc.balancer), "RoundRobin");
    let written = i.topology_toml.as_deref().unwrap();
    assert!(
        written.contains("# A small two-region mesh"),
        "the topology's own comments are kept"
    );
}

#[test]
fn toxiproxy_toxics_on_a_service_and_a_link() {
    // latency ± jitter → uniform latency; reset_peer at toxicity 0.2 → a 20% abort; a timeout toxic on a proxy mapped to a link → packet loss there; limit_data with bytes is not modelled.
    let opts = Options {
        proxies: vec![(
            "atlantic".into(),
            chaoscal::import::ProxyTarget::parse("between:eu-west,us-east").unwrap(),
        )],
        ..Options::default()
    };
    let i = import_with(&["toxiproxy/proxies.json"], &opts);
    assert_same_faults(
        &i,
        r#"[[faults]]
kind = "latency"
target = { service = "psp", region = "eu-west" }
start_s = 120
delay = { dist = "uniform", min_ms = 900, max_ms = 1100 }
[[faults]]
kind = "abort"
target = { service = "psp", region = "eu-west" }
start_s = 120
percent = 20
[[faults]]
kind = "packet_loss"
target = { between = ["eu-west", "us-east"] }
start_s = 120
percent = 5
"#,
    );
    assert!(
        i.diagnostics
            .iter()
            .any(|d| d.message.contains("atlantic.toxics[1]") && d.line == 19)
    );
}

#[test]
fn argo_rollout_and_analysis_template() {
    // canary.steps → [rollout] steps; the AnalysisTemplate's success rate ≥ 0.95 → max_error_rate 0.05 with its timing; the background analysis keeps startingStep. The resolved rollout has them too.
    let i = import(&["argo/rollout.yaml"]);
    let doc: toml::Table = toml::from_str(&i.scenario_toml).unwrap();
    let got = doc.get("rollout").expect("[rollout]").clone();
    let want: toml::Value = toml::from_str::<toml::Table>(
        r#"[rollout]
service = "fraud"
start_s = 120
overrides = {}
steps = [
  { weight = 20 },
  { pause_s = 60 },
  { analysis = { max_error_rate = 0.05, interval_s = 30, initial_delay_s = 30, count = 4, failure_limit = 1 } },
  { weight = 50 },
  { pause_s = 120 },
  { weight = 100 },
]
analysis = { max_error_rate = 0.05, interval_s = 30, initial_delay_s = 30, count = 4, failure_limit = 1, starting_step = 2 }
"#,
    )
    .unwrap()["rollout"]
        .clone();
    assert_eq!(got, want);
    let ro = i.loaded.scenario.rollout.as_ref().expect("the rollout resolves");
    assert_eq!(ro.steps.len(), 6);
    let (bg, starting) = ro.background.as_ref().expect("a background analysis");
    assert_eq!((bg.count, bg.failure_limit, *starting), (Some(4), Some(1), 2));
}

#[test]
fn prometheus_burn_rate_alert_becomes_guardrails() {
    // The workbook's two rows give two guardrails on the 99.9% SLO, `for` is the detection delay; another expression is reported as not understood.
    let i = import(&["prometheus/burn-rate.yaml"]);
    let g = &i.loaded.scenario.guardrails;
    assert_eq!(g.len(), 2);
    assert_eq!(
        (g[0].burn_rate, g[0].window_ns, g[0].short_window_ns),
        (14.4, 3_600_000_000_000, Some(300_000_000_000))
    );
    assert_eq!((g[1].burn_rate, g[1].detect_delay_ns), (6.0, 60_000_000_000));
    assert_eq!(i.loaded.scenario.slos[g[0].slo].name, "checkout-availability");
    let w = i
        .diagnostics
        .iter()
        .find(|d| d.message.contains("rules[2].expr"))
        .expect("not understood");
    assert!(w.message.contains("not understood"), "{w}");
}

#[test]
fn imported_and_hand_written_run_identically() {
    // Same seed, same model apart from names: each replication's output is the same, for a mix of kinds.
    let i = import(&[
        "chaos-mesh/network-delay.yaml",
        "chaos-mesh/pod.yaml",
        "istio/virtualservice.yaml",
    ]);
    let mut hand_written = String::new();
    for line in i.scenario_toml.split("\n[[faults]]\n").skip(1) {
        let body: String = line
            .lines()
            .filter(|l| !l.starts_with("name =") && !l.starts_with('#') && !l.starts_with('['))
            .map(|l| format!("{l}\n"))
            .collect();
        hand_written.push_str(&format!("[[faults]]\n{body}"));
    }
    let want = hand(&hand_written);
    let mut short = i.loaded.clone();
    let mut want_short = want.clone();
    for s in [&mut short.scenario, &mut want_short.scenario] {
        s.duration_ns = 300_000_000_000;
        for f in &mut s.faults {
            f.name.clear();
        }
    }
    for r in 0..2 {
        let a = run_replication(&short.topology, &short.scenario, 7, r);
        let b = run_replication(&want_short.topology, &want_short.scenario, 7, r);
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "replication {r}");
    }
}

#[test]
fn an_imported_rollout_runs_as_its_hand_written_equivalent() {
    // The Argo Rollout and its AnalysisTemplate, imported, and the [rollout] written by hand give the same
    // replications, byte for byte (with the new version failing 30% of its calls in both: overrides are not in a manifest).
    let i = import(&["argo/rollout.yaml"]);
    let want = hand(
        r#"[rollout]
service = "fraud"
start_s = 120
overrides = { error_rate = 0.3 }
steps = [
  { weight = 20 },
  { pause_s = 60 },
  { analysis = { max_error_rate = 0.05, interval_s = 30, initial_delay_s = 30, count = 4, failure_limit = 1 } },
  { weight = 50 },
  { pause_s = 120 },
  { weight = 100 },
]
analysis = { max_error_rate = 0.05, interval_s = 30, initial_delay_s = 30, count = 4, failure_limit = 1, starting_step = 2 }
"#,
    );
    let mut want = want;
    let mut imported = i.loaded.clone();
    if let Some(ro) = imported.scenario.rollout.as_mut() {
        ro.version.error_rate = 0.3;
    }
    for s in [&mut imported.scenario, &mut want.scenario] {
        s.duration_ns = 400_000_000_000;
    }
    for r in 0..2 {
        let a = run_replication(&imported.topology, &imported.scenario, 7, r);
        let b = run_replication(&want.topology, &want.scenario, 7, r);
        assert!(
            a.rollout.as_ref().is_some_and(|o| o.exposed_requests > 0),
            "the new version served"
        );
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "replication {r}");
    }
}

#[test]
fn a_whole_folder_imports_validates_and_runs() {
    // Every fixture folder but the rollout's imported by the command line, then validated and run at 2 replications; the rollout's alone, the same.
    let out = scratch("import-folder");
    let scenario = out.join("imported.toml");
    let mesh = out.join("mesh.toml");
    let dirs = ["chaos-mesh", "litmus", "istio", "toxiproxy", "prometheus"].map(|d| format!("{DIR}/{d}"));
    let mut args = vec!["import"];
    args.extend(dirs.iter().map(String::as_str));
    let (topo, base, s, m) = (
        format!("{DIR}/topology.toml"),
        format!("{DIR}/base.toml"),
        scenario.display().to_string(),
        mesh.display().to_string(),
    );
    args.extend([
        "--topology",
        &topo,
        "--base",
        &base,
        "--out",
        &s,
        "--topology-out",
        &m,
        "--proxy",
        "atlantic=between:eu-west,us-east",
    ]);
    let o = run_cli(&args);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v = run_cli(&["validate", &s]);
    assert_eq!(v.status.code(), Some(0), "{}", String::from_utf8_lossy(&v.stderr));
    let results = out.join("results").display().to_string();
    let r = run_cli(&[
        "run",
        &s,
        "--replications",
        "2",
        "--quiet",
        "--no-report",
        "--out",
        &results,
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    let rollout = out.join("rollout.toml").display().to_string();
    let argo = format!("{DIR}/argo");
    let o = run_cli(&["import", &argo, "--topology", &topo, "--base", &base, "--out", &rollout]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v = run_cli(&["validate", &rollout]);
    assert_eq!(v.status.code(), Some(0), "{}", String::from_utf8_lossy(&v.stderr));
    let r = run_cli(&[
        "run",
        &rollout,
        "--replications",
        "2",
        "--quiet",
        "--no-report",
        "--out",
        &results,
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
}

#[test]
fn bad_yaml_and_json_are_located() {
    // A YAML syntax error and a JSON one: file:line:col, the line, a caret, what was expected; exit 2 and nothing written.
    for (file, bad_line) in [("bad/bad-yaml.yaml", 5), ("bad/bad.json", 3)] {
        let (ok, d) = diagnostics(&[(file, &read(file))], &Options::default());
        assert!(!ok);
        let e = d.iter().find(|d| d.is_error()).expect("an error");
        assert_eq!(
            (e.file.display().to_string(), e.line),
            (file.to_string(), bad_line),
            "{e}"
        );
        let shown = e.to_string();
        assert!(
            shown.contains(&format!("{file}:{bad_line}:")) && shown.contains('^'),
            "{shown}"
        );
    }
    let out = scratch("import-bad");
    let s = out.join("x.toml").display().to_string();
    let (topo, bad) = (format!("{DIR}/topology.toml"), format!("{DIR}/bad/bad-yaml.yaml"));
    let o = run_cli(&["import", &bad, "--topology", &topo, "--out", &s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid YAML"));
    assert!(!Path::new(&s).exists());
}

#[test]
fn unsupported_manifests_warn_and_strict_refuses() {
    // A kind the import does not read and a field it does not model are warnings naming file, document and field; --strict makes them errors.
    let text = read("bad/unsupported.yaml");
    let (ok, d) = diagnostics(&[("bad/unsupported.yaml", &text)], &Options::default());
    assert!(ok, "{}", show(&d));
    let kinds: Vec<String> = d
        .iter()
        .filter(|d| d.file.ends_with("unsupported.yaml"))
        .map(|d| d.to_string())
        .collect();
    assert!(
        kinds
            .iter()
            .any(|m| m.contains("document 1 (DNSChaos") && m.contains("not modelled")),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|m| m.contains("document 2 (Deployment") && m.contains("not a kind the import reads")),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|m| m.contains("document 3 (NetworkChaos \"psp-reorder\"), spec.delay.reorder")),
        "{kinds:?}"
    );
    let strict = Options {
        strict: true,
        ..Options::default()
    };
    let (ok, d) = diagnostics(&[("bad/unsupported.yaml", &text)], &strict);
    assert!(!ok && d.iter().all(|d| d.is_error() || d.severity == Severity::CatalogRule));
}

#[test]
fn selectors_matching_nothing_or_several_services_are_errors() {
    // A selector naming no service, and one picking several, each name the selector and what it found.
    let text = read("bad/mapping.yaml");
    let (ok, d) = diagnostics(&[("bad/mapping.yaml", &text)], &Options::default());
    assert!(!ok);
    let errors: Vec<String> = d.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    assert!(
        errors
            .iter()
            .any(|m| m.contains("{app=checkout-v9}") && m.contains("matches no service")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|m| m.contains("matches several services (api, fraud, psp)")),
        "{errors:?}"
    );
}

#[test]
fn durations_are_parsed_as_the_source_projects_do() {
    // Chaos Mesh's one-unit latency refuses "1m30s"; Litmus env values are whole numbers; Istio refuses durations under 1 ms.
    let cm = "apiVersion: chaos-mesh.org/v1alpha1\nkind: NetworkChaos\nmetadata: {name: x, namespace: payments-eu}\nspec:\n  action: delay\n  mode: all\n  selector: {labelSelectors: {app: fraud}}\n  delay: {latency: 1m30s}\n";
    let (ok, d) = diagnostics(&[("cm.yaml", cm)], &Options::default());
    assert!(
        !ok && d
            .iter()
            .any(|d| d.is_error() && d.line == 8 && d.message.contains("one number and one unit")),
        "{}",
        show(&d)
    );
    let litmus = "apiVersion: litmuschaos.io/v1alpha1\nkind: ChaosEngine\nmetadata: {name: x, namespace: payments-eu}\nspec:\n  appinfo: {applabel: app=fraud}\n  experiments:\n  - name: pod-network-latency\n    spec:\n      components:\n        env:\n        - {name: NETWORK_LATENCY, value: 2s}\n";
    let (ok, d) = diagnostics(&[("l.yaml", litmus)], &Options::default());
    assert!(
        !ok && d
            .iter()
            .any(|d| d.is_error() && d.line == 11 && d.message.contains("whole number of milliseconds")),
        "{}",
        show(&d)
    );
    let istio = "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: x, namespace: payments-eu}\nspec:\n  http:\n  - route: [{destination: {host: fraud}}]\n    timeout: 500us\n";
    let (ok, d) = diagnostics(&[("i.yaml", istio)], &Options::default());
    assert!(
        !ok && d
            .iter()
            .any(|d| d.is_error() && d.line == 7 && d.message.contains("at least 1ms")),
        "{}",
        show(&d)
    );
}

#[test]
fn truncated_and_mangled_manifests_never_panic() {
    // Every fixture cut short at many points, and with characters swapped in, gives diagnostics, never a panic.
    let files = [
        "chaos-mesh/network.yaml",
        "chaos-mesh/workflow.yaml",
        "chaos-mesh/schedule.yaml",
        "litmus/engine.yaml",
        "istio/virtualservice.yaml",
        "toxiproxy/proxies.json",
        "argo/rollout.yaml",
        "prometheus/burn-rate.yaml",
    ];
    for f in files {
        let text = read(f);
        let cuts: Vec<usize> = (0..text.len())
            .step_by(13)
            .filter(|i| text.is_char_boundary(*i))
            .collect();
        for cut in cuts {
            let _ = diagnostics(&[(f, &text[..cut])], &Options::default());
            let mangled: String = text
                .char_indices()
                .map(|(i, c)| if i % 97 == cut % 97 && c != '\n' { '{' } else { c })
                .collect();
            let _ = diagnostics(&[(f, &mangled)], &Options::default());
        }
    }
}
