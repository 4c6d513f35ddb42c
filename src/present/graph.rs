//! The service graph (`chaoscal graph`, and `graph.svg` / `graph.dot` beside
//! each experiment's results): every service and queue in every region it
//! runs in, regions as clusters, calls as arrows, each service labelled with
//! its static blast radius. Given a scenario, its fault targets are drawn red
//! and the rest of its static blast radius orange.
//!
//! Two renderings of one drawing: DOT, for Graphviz and the tools that read
//! it, and SVG laid out here (layers by call depth, no external program, no
//! font files: the viewer's sans-serif draws the text). Both are
//! deterministic: same topology and scenario, same bytes.

use std::fmt::Write as _;

use super::escape::xml as esc;
use crate::model::reach::{dependents, fault_targets, radius_per_service};
use crate::model::{CallTarget, Fallback, Scenario, Topology};

/// A box in the drawing: a service or a queue in one region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    Service(usize),
    Queue(usize),
}

/// How an arrow is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Call,
    Fallback,
    /// To a box in another region (the callee does not run in the caller's).
    CrossRegion,
}

/// What a box is in the scenario's eyes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    None,
    Target,
    Radius,
}

struct Node {
    item: Item,
    region: usize,
    mark: Mark,
}

struct Edge {
    from: usize,
    to: usize,
    style: Style,
}

/// The drawing, independent of how it is rendered.
struct Drawing {
    title: String,
    subtitle: String,
    regions: Vec<String>,
    /// `(flow name, node indices of its entry)`.
    flows: Vec<(String, Vec<usize>)>,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    /// Per node: its name and its second line.
    labels: Vec<(String, String)>,
    /// Per node: its layer (call depth of its service or queue).
    depth: Vec<usize>,
}

/// The graph of `topo` as DOT; with `scn`, its targets and radius marked.
pub fn dot(topo: &Topology, scn: Option<&Scenario>) -> String {
    let d = Drawing::new(topo, scn);
    // A DOT string: quoted, its quotes and backslashes escaped; lines joined by DOT's `\n`.
    let q = |s: &str| {
        let lines: Vec<String> = s
            .split('\n')
            .map(|l| l.replace('\\', "\\\\").replace('"', "\\\""))
            .collect();
        format!("\"{}\"", lines.join("\\n"))
    };
    let id = |i: usize| {
        let n = &d.nodes[i];
        let name = match n.item {
            Item::Service(s) => &topo.services[s].name,
            Item::Queue(qi) => &topo.queues[qi].name,
        };
        q(&format!("{name}@{}", d.regions[n.region]))
    };
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", q(&d.title));
    let _ = writeln!(
        out,
        "  graph [rankdir=TB, labelloc=t, fontname=\"Helvetica\", label={}];",
        q(&format!("{}\n{}", d.title, d.subtitle))
    );
    out.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", color=\"#555555\"];\n");
    for (r, region) in d.regions.iter().enumerate() {
        let _ = writeln!(out, "  subgraph {} {{", q(&format!("cluster_{region}")));
        let _ = writeln!(out, "    label={};", q(region));
        for (i, n) in d.nodes.iter().enumerate().filter(|(_, n)| n.region == r) {
            let (name, second) = &d.labels[i];
            let mut attrs = vec![format!("label={}", q(&format!("{name}\n{second}")))];
            if matches!(n.item, Item::Queue(_)) {
                attrs.push("shape=cylinder".to_string());
            }
            if let Some(fill) = fill(n.mark) {
                attrs.push(format!("fillcolor=\"{fill}\""));
            }
            let _ = writeln!(out, "    {} [{}];", id(i), attrs.join(", "));
        }
        out.push_str("  }\n");
    }
    for (f, entries) in &d.flows {
        let fid = q(&format!("flow:{f}"));
        let _ = writeln!(out, "  {fid} [shape=oval, style=solid, label={}];", q(f));
        for &e in entries {
            let _ = writeln!(out, "  {fid} -> {};", id(e));
        }
    }
    for e in &d.edges {
        let attrs = match e.style {
            Style::Call => String::new(),
            Style::Fallback => " [style=dashed, label=\"fallback\"]".to_string(),
            Style::CrossRegion => " [style=dotted, color=\"#7b3294\"]".to_string(),
        };
        let _ = writeln!(out, "  {} -> {}{attrs};", id(e.from), id(e.to));
    }
    out.push_str("}\n");
    out
}

/// The fill of a marked box.
fn fill(mark: Mark) -> Option<&'static str> {
    match mark {
        Mark::None => None,
        Mark::Target => Some("#f4a3a3"),
        Mark::Radius => Some("#fdd9a8"),
    }
}

impl Drawing {
    fn new(topo: &Topology, scn: Option<&Scenario>) -> Drawing {
        let radius = radius_per_service(topo);
        let (targets, in_radius) = match scn {
            Some(s) => {
                let t = fault_targets(topo, s);
                let r = dependents(topo, &t);
                (t, r)
            }
            None => (vec![false; topo.services.len()], vec![false; topo.services.len()]),
        };
        let target_here = |s: usize, r: usize| {
            scn.is_some_and(|scn| {
                scn.rollout.as_ref().is_some_and(|ro| ro.service.index() == s)
                    || scn.faults.iter().any(|f| {
                        f.service.is_some_and(|x| x.index() == s) && f.regions[r]
                            || f.link.is_some_and(|(a, b)| a.index() == r || b.index() == r)
                            || f.service.is_none() && f.queue.is_none() && f.link.is_none() && f.regions[r]
                            || f.queue.is_some_and(|q| {
                                f.regions[r]
                                    && (topo.queues[q.index()].consumer.index() == s
                                        || topo.services[s].calls.iter().any(|c| c.to == CallTarget::Queue(q)))
                            })
                    })
            })
        };
        let mut nodes = Vec::new();
        let mut labels = Vec::new();
        // `index[item][region]`: the node of a service (then queue) in a region.
        let mut index = vec![vec![None; topo.regions.len()]; topo.services.len() + topo.queues.len()];
        #[allow(clippy::needless_range_loop)] // `r` picks a column of `index` and a region
        for r in 0..topo.regions.len() {
            for (s, svc) in topo.services.iter().enumerate().filter(|(_, svc)| svc.present[r]) {
                let mark = if targets[s] && target_here(s, r) {
                    Mark::Target
                } else if in_radius[s] {
                    Mark::Radius
                } else {
                    Mark::None
                };
                index[s][r] = Some(nodes.len());
                nodes.push(Node {
                    item: Item::Service(s),
                    region: r,
                    mark,
                });
                labels.push((svc.name.clone(), format!("{} · radius {}", svc.kind, radius[s])));
            }
            for (qi, queue) in topo.queues.iter().enumerate().filter(|(_, q)| q.present[r]) {
                let stalled = scn.is_some_and(|scn| {
                    scn.faults
                        .iter()
                        .any(|f| f.queue.is_some_and(|q| q.index() == qi) && f.regions[r])
                });
                index[topo.services.len() + qi][r] = Some(nodes.len());
                nodes.push(Node {
                    item: Item::Queue(qi),
                    region: r,
                    mark: if stalled { Mark::Target } else { Mark::None },
                });
                labels.push((queue.name.clone(), format!("queue · {} consumers", queue.consumers)));
            }
        }
        // The box an arrow from region `r` reaches: the callee in `r`, else
        // in the nearest region it runs in.
        let reach = |item: usize, r: usize| -> Option<(usize, bool)> {
            topo.nearest[r]
                .iter()
                .find_map(|n| index[item][n.index()].map(|i| (i, n.index() != r)))
        };
        let mut edges = Vec::new();
        for (from, node) in nodes.iter().enumerate() {
            let r = node.region;
            let arrow = |to_item: usize, fallback: bool, edges: &mut Vec<Edge>| {
                if let Some((to, cross)) = reach(to_item, r) {
                    let style = match (fallback, cross) {
                        (_, true) => Style::CrossRegion,
                        (true, false) => Style::Fallback,
                        (false, false) => Style::Call,
                    };
                    if !edges.iter().any(|e| e.from == from && e.to == to) {
                        edges.push(Edge { from, to, style });
                    }
                }
            };
            match node.item {
                Item::Service(s) => {
                    for c in &topo.services[s].calls {
                        let to = match c.to {
                            CallTarget::Service(t) => t.index(),
                            CallTarget::Queue(q) => topo.services.len() + q.index(),
                        };
                        arrow(to, false, &mut edges);
                        if let Some(Fallback::Service(f)) = c.fallback {
                            arrow(f.index(), true, &mut edges);
                        }
                    }
                }
                Item::Queue(qi) => arrow(topo.queues[qi].consumer.index(), false, &mut edges),
            }
        }
        let flows = topo
            .flows
            .iter()
            .map(|f| {
                let entries = (0..topo.regions.len())
                    .filter_map(|r| index[f.entry.index()][r])
                    .collect();
                (f.name.clone(), entries)
            })
            .collect();
        let depth = layers(topo, &nodes);
        let (title, subtitle) = match scn {
            Some(s) => {
                let hit = in_radius.iter().filter(|h| **h).count();
                (
                    format!("{} — {}", s.name, topo.name),
                    format!("fault targets red, the rest of the static blast radius orange ({hit} services)"),
                )
            }
            None => (
                topo.name.clone(),
                "radius: the services that would be hit if this one failed, itself included".to_string(),
            ),
        };
        Drawing {
            title,
            subtitle,
            regions: topo.regions.clone(),
            flows,
            nodes,
            edges,
            labels,
            depth,
        }
    }
}

/// Each node's layer: the longest call chain from a flow's entry to its
/// service or queue (fallbacks count as calls). Call graphs are acyclic; the
/// relaxation stops after as many rounds as there are items in any case.
fn layers(topo: &Topology, nodes: &[Node]) -> Vec<usize> {
    let ns = topo.services.len();
    let items = ns + topo.queues.len();
    let mut arcs = Vec::new();
    for (s, svc) in topo.services.iter().enumerate() {
        for c in &svc.calls {
            arcs.push((
                s,
                match c.to {
                    CallTarget::Service(t) => t.index(),
                    CallTarget::Queue(q) => ns + q.index(),
                },
            ));
            if let Some(Fallback::Service(f)) = c.fallback {
                arcs.push((s, f.index()));
            }
        }
    }
    for (qi, q) in topo.queues.iter().enumerate() {
        arcs.push((ns + qi, q.consumer.index()));
    }
    let mut depth = vec![0usize; items];
    for _ in 0..items {
        let mut changed = false;
        for &(a, b) in &arcs {
            if depth[b] < depth[a] + 1 && depth[a] < items {
                depth[b] = depth[a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    nodes
        .iter()
        .map(|n| match n.item {
            Item::Service(s) => depth[s],
            Item::Queue(q) => depth[ns + q],
        })
        .collect()
}

// Geometry of the SVG, in pixels.
const BOX_W: f64 = 190.0;
const BOX_H: f64 = 44.0;
const GAP_X: f64 = 22.0;
const GAP_Y: f64 = 48.0;
const PAD: f64 = 18.0;
const CLUSTER_TITLE: f64 = 26.0;
const CLUSTER_GAP: f64 = 24.0;
const HEADER: f64 = 60.0;
const FLOW_H: f64 = 26.0;
const LEGEND: f64 = 40.0;
/// Boxes per row: a wider layer wraps onto the next row.
const PER_ROW: usize = 5;

/// The graph of `topo` as a standalone SVG; with `scn`, its targets and radius marked.
///
/// Layout: the regions one under the other, each a cluster; in a cluster,
/// the flows entering there on top, then the boxes by layer (call depth),
/// a layer wider than `PER_ROW` wrapping onto further rows.
pub fn svg(topo: &Topology, scn: Option<&Scenario>) -> String {
    let d = Drawing::new(topo, scn);
    let layers = d.depth.iter().copied().max().map_or(0, |m| m + 1);
    let mut by_layer: Vec<Vec<Vec<usize>>> = vec![vec![Vec::new(); layers]; d.regions.len()];
    for (i, n) in d.nodes.iter().enumerate() {
        by_layer[n.region][d.depth[i]].push(i);
    }
    let widest = by_layer
        .iter()
        .flatten()
        .map(|l| l.len().min(PER_ROW))
        .max()
        .unwrap_or(1)
        .max(d.flows.len().min(PER_ROW))
        .max(2) as f64;
    let cluster_w = widest * (BOX_W + GAP_X) - GAP_X + 2.0 * PAD;
    let width = cluster_w + 2.0 * PAD;
    let mut pos = vec![(0.0, 0.0); d.nodes.len()];
    // Every row of boxes (its top and its boxes), and each box's row.
    let mut rows: Vec<(f64, Vec<usize>)> = Vec::new();
    let mut row_of = vec![0usize; d.nodes.len()];
    // Per region: its cluster's top and height, and where its flows sit.
    let mut clusters = Vec::new();
    let mut flow_pos: Vec<Vec<(f64, f64)>> = vec![vec![(0.0, 0.0); d.regions.len()]; d.flows.len()];
    let mut y = HEADER;
    for (r, layer_rows) in by_layer.iter().enumerate() {
        let top = y;
        y += CLUSTER_TITLE + PAD;
        let row_x = |count: usize| PAD + PAD + (cluster_w - 2.0 * PAD - (count as f64 * (BOX_W + GAP_X) - GAP_X)) / 2.0;
        let entering: Vec<usize> = (0..d.flows.len())
            .filter(|&f| d.flows[f].1.iter().any(|&e| d.nodes[e].region == r))
            .collect();
        if !entering.is_empty() {
            let x0 = row_x(entering.len().min(PER_ROW));
            for (k, &f) in entering.iter().enumerate() {
                flow_pos[f][r] = (
                    x0 + (k % PER_ROW) as f64 * (BOX_W + GAP_X) + BOX_W / 2.0,
                    y + FLOW_H / 2.0,
                );
            }
            y += FLOW_H + GAP_Y;
        }
        for layer in layer_rows.iter().filter(|l| !l.is_empty()) {
            for chunk in layer.chunks(PER_ROW) {
                let x0 = row_x(chunk.len());
                for (k, &i) in chunk.iter().enumerate() {
                    pos[i] = (x0 + k as f64 * (BOX_W + GAP_X), y);
                    row_of[i] = rows.len();
                }
                rows.push((y, chunk.to_vec()));
                y += BOX_H + GAP_Y;
            }
        }
        y += PAD - GAP_Y;
        clusters.push((top, y - top));
        y += CLUSTER_GAP;
    }
    let height = y - CLUSTER_GAP + PAD + LEGEND;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">"
    );
    out.push_str(
        "<defs><marker id=\"graph-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555555\"/></marker></defs>\n",
    );
    let _ = writeln!(out, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
    let _ = writeln!(
        out,
        "<text x=\"{PAD}\" y=\"26\" font-size=\"17\" font-weight=\"bold\" fill=\"#222222\">{}</text>",
        esc(&d.title)
    );
    let _ = writeln!(
        out,
        "<text x=\"{PAD}\" y=\"46\" font-size=\"12\" fill=\"#555555\">{}</text>",
        esc(&d.subtitle)
    );
    for (r, region) in d.regions.iter().enumerate() {
        let (top, h) = clusters[r];
        let _ = writeln!(
            out,
            "<g><rect x=\"{PAD:.1}\" y=\"{top:.1}\" width=\"{cluster_w:.1}\" height=\"{h:.1}\" rx=\"8\" fill=\"#f4f6f8\" stroke=\"#b8c0c8\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\" fill=\"#333333\">{}</text></g>",
            PAD + 10.0,
            top + 18.0,
            esc(region)
        );
    }
    for (f, (flow, entries)) in d.flows.iter().enumerate() {
        for &e in entries {
            let (cx, cy) = flow_pos[f][d.nodes[e].region];
            let _ = writeln!(
                out,
                "<g><ellipse cx=\"{cx:.1}\" cy=\"{cy:.1}\" rx=\"70\" ry=\"{:.1}\" fill=\"#e8f0fb\" stroke=\"#4a6fa5\"/><text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#1f3b63\">{}</text></g>",
                FLOW_H / 2.0,
                cy + 4.0,
                esc(&fit(&format!("flow {flow}"), 20))
            );
            curve(
                &mut out,
                (cx, cy + FLOW_H / 2.0),
                (pos[e].0 + BOX_W / 2.0, pos[e].1),
                "#4a6fa5",
                "",
            );
        }
    }
    for e in &d.edges {
        let (color, dash) = match e.style {
            Style::Call => ("#555555", ""),
            Style::Fallback => ("#555555", " stroke-dasharray=\"6 4\""),
            Style::CrossRegion => ("#7b3294", " stroke-dasharray=\"2 3\""),
        };
        let from = (pos[e.from].0 + BOX_W / 2.0, pos[e.from].1 + BOX_H);
        let to = (pos[e.to].0 + BOX_W / 2.0, pos[e.to].1);
        let (a, b) = (row_of[e.from], row_of[e.to]);
        if d.nodes[e.from].region == d.nodes[e.to].region && b > a + 1 {
            detour(&mut out, from, to, &rows[a + 1..b], &pos, color, dash);
        } else {
            curve(&mut out, from, to, color, dash);
        }
    }
    for (i, n) in d.nodes.iter().enumerate() {
        let (x, y) = pos[i];
        let (name, second) = &d.labels[i];
        let fill = fill(n.mark).unwrap_or("#ffffff");
        let rx = if matches!(n.item, Item::Queue(_)) { 16 } else { 6 };
        let _ = writeln!(
            out,
            "<g><title>{}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"{rx}\" fill=\"{fill}\" stroke=\"#333333\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#111111\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#444444\">{}</text></g>",
            esc(&format!("{name} in {}: {second}", d.regions[n.region])),
            x + BOX_W / 2.0,
            y + 18.0,
            esc(&fit(name, 24)),
            x + BOX_W / 2.0,
            y + 34.0,
            esc(&fit(second, 30))
        );
    }
    svg_legend(&mut out, scn.is_some(), height - LEGEND);
    out.push_str("</svg>\n");
    out
}

/// An arrow from `a` down to `b` across the rows between them, through the
/// gap between two boxes of each row nearest to the straight line (so it is
/// never drawn through a box it does not touch).
fn detour(
    out: &mut String,
    (x1, y1): (f64, f64),
    (x2, y2): (f64, f64),
    between: &[(f64, Vec<usize>)],
    pos: &[(f64, f64)],
    color: &str,
    dash: &str,
) {
    let mut path = format!("M{x1:.1},{y1:.1}");
    for (top, boxes) in between {
        let mid = top + BOX_H / 2.0;
        let ideal = x1 + (x2 - x1) * (mid - y1) / (y2 - y1).max(1.0);
        let mut gaps = vec![pos[boxes[0]].0 - GAP_X / 2.0];
        gaps.extend(boxes.iter().map(|&i| pos[i].0 + BOX_W + GAP_X / 2.0));
        let gx = gaps
            .into_iter()
            .min_by(|p, q| (p - ideal).abs().total_cmp(&(q - ideal).abs()))
            .unwrap_or(ideal);
        let _ = write!(path, " L{gx:.1},{:.1} L{gx:.1},{:.1}", top - 10.0, top + BOX_H + 10.0);
    }
    let _ = writeln!(
        out,
        "<path d=\"{path} L{x2:.1},{y2:.1}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.3\"{dash} stroke-linejoin=\"round\" marker-end=\"url(#graph-arrow)\"/>"
    );
}

/// An arrow from `a` down (or up) to `b`, as a vertical S-curve.
fn curve(out: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), color: &str, dash: &str) {
    let bend = ((y2 - y1).abs() / 2.0).max(24.0);
    let _ = writeln!(
        out,
        "<path d=\"M{x1:.1},{y1:.1} C{x1:.1},{:.1} {x2:.1},{:.1} {x2:.1},{y2:.1}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.3\"{dash} marker-end=\"url(#graph-arrow)\"/>",
        y1 + bend,
        y2 - bend
    );
}

/// What the colours and dashes mean.
fn svg_legend(out: &mut String, with_scenario: bool, y: f64) {
    let mut items: Vec<(String, String)> = vec![
        ("call".into(), "<line x1=\"0\" y1=\"0\" x2=\"28\" y2=\"0\" stroke=\"#555555\" stroke-width=\"1.3\"/>".into()),
        (
            "fallback".into(),
            "<line x1=\"0\" y1=\"0\" x2=\"28\" y2=\"0\" stroke=\"#555555\" stroke-width=\"1.3\" stroke-dasharray=\"6 4\"/>".into(),
        ),
        (
            "to another region".into(),
            "<line x1=\"0\" y1=\"0\" x2=\"28\" y2=\"0\" stroke=\"#7b3294\" stroke-width=\"1.3\" stroke-dasharray=\"2 3\"/>".into(),
        ),
    ];
    if with_scenario {
        for (label, mark) in [("fault target", Mark::Target), ("static blast radius", Mark::Radius)] {
            items.push((
                label.into(),
                format!(
                    "<rect x=\"0\" y=\"-7\" width=\"28\" height=\"14\" rx=\"3\" fill=\"{}\" stroke=\"#333333\"/>",
                    fill(mark).unwrap_or("#ffffff")
                ),
            ));
        }
    }
    let mut x = PAD;
    for (label, glyph) in items {
        let _ = writeln!(
            out,
            "<g transform=\"translate({x:.1},{:.1})\">{glyph}<text x=\"36\" y=\"4\" font-size=\"12\" fill=\"#333333\">{}</text></g>",
            y + 16.0,
            esc(&label)
        );
        x += 60.0 + label.chars().count() as f64 * 7.0;
    }
}

/// `text`, cut to `max` characters with an ellipsis.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}
