//! `chaoscal graph` and the graph beside each run's results: the static
//! blast radius of every service, regions as clusters, a scenario's marks.

use std::path::Path;

use crate::common::{run_cli, scratch};

/// gw (both regions) calls a, and publishes to q, whose consumer is c; a
/// calls b (only in eu) with fallback f.
const MESH: &str = r#"
name = "graph-mesh"
[[regions]]
name = "eu"
[[regions]]
name = "us"
[network]
intra_region = { dist = "const", ms = 0.5 }
[[network.links]]
between = ["eu", "us"]
latency = { dist = "const", ms = 40 }
[[flows]]
name = "buy"
entry = "gw"
[[services]]
name = "gw"
regions = ["eu", "us"]
service_time = { dist = "const", ms = 1 }
  [[services.calls]]
  to = "a"
  [[services.calls]]
  to = "q"
[[services]]
name = "a"
regions = ["eu", "us"]
service_time = { dist = "const", ms = 1 }
  [[services.calls]]
  to = "b"
  fallback = "f"
[[services]]
name = "b"
regions = ["eu"]
service_time = { dist = "const", ms = 1 }
[[services]]
name = "f"
regions = ["eu", "us"]
service_time = { dist = "const", ms = 1 }
[[services]]
name = "c"
regions = ["eu", "us"]
service_time = { dist = "const", ms = 1 }
[[queues]]
name = "q"
regions = ["eu", "us"]
consumer = "c"
"#;

const SCENARIO: &str = r#"
[experiment]
name = "b-slow"
topology = "mesh.toml"
[run]
duration_s = 20
warmup_s = 5
replications = 2
seed = 7
[workload]
rate_per_s = { eu = 20, us = 20 }
[[faults]]
kind = "latency"
target = { service = "b", region = "eu" }
start_s = 10
delay = 200
[[slos]]
name = "avail"
kind = "availability"
objective = 0.99
"#;

fn write_case(dir: &Path) {
    std::fs::write(dir.join("mesh.toml"), MESH).unwrap();
    std::fs::write(dir.join("scn.toml"), SCENARIO).unwrap();
}

fn stdout_of(args: &[&str]) -> String {
    let out = run_cli(args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn each_service_is_labelled_with_its_transitive_callers() {
    // Derived by hand: radius(gw) = {gw} = 1; a = {a, gw} = 2; b = {b, a, gw} = 3;
    // f (a fallback) = {f, a, gw} = 3; c (behind the queue gw publishes to) = {c, gw} = 2.
    let dir = scratch("graph-radius");
    write_case(&dir);
    let dot = stdout_of(&["graph", dir.join("mesh.toml").to_str().unwrap()]);
    for (svc, r) in [("gw", 1), ("a", 2), ("b", 3), ("f", 3), ("c", 2)] {
        assert!(
            dot.contains(&format!("label=\"{svc}\\nservice · radius {r}\"")),
            "{svc} radius {r} in\n{dot}"
        );
    }
    // Regions are clusters; b runs in eu only, so us's a reaches it across the link.
    assert!(dot.contains("subgraph \"cluster_eu\"") && dot.contains("subgraph \"cluster_us\""));
    assert!(dot.contains("\"a@us\" -> \"b@eu\" [style=dotted"), "{dot}");
    assert!(dot.contains("\"a@eu\" -> \"b@eu\";"));
    assert!(dot.contains("\"a@eu\" -> \"f@eu\" [style=dashed"));
    assert!(dot.contains("\"gw@us\" -> \"q@us\";") && dot.contains("\"q@us\" -> \"c@us\";"));
    assert!(!dot.contains("\"b@us\""), "b does not run in us");
}

#[test]
fn a_scenario_marks_its_targets_and_static_radius_as_the_summary_counts_them() {
    // The fault slows b in eu: b@eu is the target; a and gw (its callers) are the rest of the
    // static radius, in both regions; f, c and q are outside it. The run's summary agrees.
    let dir = scratch("graph-scenario");
    write_case(&dir);
    let dot = stdout_of(&["graph", dir.join("scn.toml").to_str().unwrap()]);
    let fill = |node: &str| {
        let line = dot
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("\"{node}\" [")))
            .unwrap();
        if line.contains("#f4a3a3") {
            "target"
        } else if line.contains("#fdd9a8") {
            "radius"
        } else {
            "none"
        }
    };
    let expected = [
        ("b@eu", "target"),
        ("a@eu", "radius"),
        ("a@us", "radius"),
        ("gw@eu", "radius"),
        ("gw@us", "radius"),
        ("f@eu", "none"),
        ("c@us", "none"),
        ("q@eu", "none"),
    ];
    for (node, mark) in expected {
        assert_eq!(fill(node), mark, "{node}");
    }
    let out = dir.join("results");
    stdout_of(&[
        "run",
        dir.join("scn.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("b-slow/summary.json")).unwrap()).unwrap();
    let static_services: Vec<&str> = summary["blast_radius"]["static_services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(static_services, ["gw", "a", "b"]);
    // Beside the results: the same drawing, and the report inlines it.
    assert_eq!(std::fs::read_to_string(out.join("b-slow/graph.dot")).unwrap(), dot);
    let svg = std::fs::read_to_string(out.join("b-slow/graph.svg")).unwrap();
    let report = std::fs::read_to_string(out.join("b-slow/report.html")).unwrap();
    assert!(report.contains("<h2>Service graph</h2>") && report.contains("<title>b in eu: service · radius 3</title>"));
    assert!(svg.starts_with("<svg xmlns"));
}

/// The boxes (x, y) of an SVG the graph drew.
fn boxes(svg: &str) -> Vec<(f64, f64)> {
    svg.match_indices("<rect x=\"")
        .filter_map(|(i, _)| {
            let rest = &svg[i..];
            let tag = &rest[..rest.find('>')?];
            if !tag.contains("width=\"190\" height=\"44\"") {
                return None;
            }
            let attr = |name: &str| -> f64 {
                let s = &tag[tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3..];
                s[..s.find('"').unwrap()].parse().unwrap()
            };
            Some((attr("x"), attr("y")))
        })
        .collect()
}

#[test]
fn the_svg_draws_every_box_once_without_overlap_and_the_same_bytes_every_time() {
    // 5 services in eu + 4 in us (b is eu-only) + the queue in both = 11 boxes, pairwise apart.
    let dir = scratch("graph-svg");
    write_case(&dir);
    let mesh = dir.join("mesh.toml");
    let svg = stdout_of(&["graph", mesh.to_str().unwrap(), "--format", "svg"]);
    let b = boxes(&svg);
    assert_eq!(b.len(), 11);
    for (i, p) in b.iter().enumerate() {
        for q in &b[i + 1..] {
            assert!(
                (p.0 - q.0).abs() >= 190.0 || (p.1 - q.1).abs() >= 44.0,
                "{p:?} overlaps {q:?}"
            );
        }
    }
    let out = dir.join("drawn");
    let run = run_cli(&["graph", mesh.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(run.status.success());
    assert_eq!(std::fs::read_to_string(out.join("mesh.svg")).unwrap(), svg);
    assert!(out.join("mesh.dot").is_file());
}

#[test]
fn a_broken_file_is_a_located_error_not_a_picture() {
    // A topology with a call to nowhere: exit 2, the file and line named.
    let dir = scratch("graph-bad");
    let text = MESH.replace("to = \"b\"", "to = \"nowhere\"");
    std::fs::write(dir.join("mesh.toml"), text).unwrap();
    let out = run_cli(&["graph", dir.join("mesh.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mesh.toml:") && err.contains("nowhere"), "{err}");
    assert!(out.stdout.is_empty());
}
