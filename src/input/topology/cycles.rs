//! Synchronous call cycles: a request would wait on itself forever.
//!
//! The graph has an edge from a service to each service it calls and to
//! each service it falls back to (queues break the chain: a publish does not
//! wait for the consumer). Each strongly connected component of two or more
//! services is reported once, with a path around it, at the call that
//! starts that path.

use std::collections::BTreeSet;

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::Names;
use super::calls::FALLBACK_DEGRADE;
use super::services::RawService;
use crate::input::diag::{Ctx, KeyPath};

pub fn check(cx: &mut Ctx, services: &[RawService], names: &Names) {
    // Edges carry the (service, call) they come from, in file order.
    let mut graph: DiGraph<usize, (usize, usize)> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..services.len()).map(|i| graph.add_node(i)).collect();
    for (si, s) in services.iter().enumerate() {
        for (ci, c) in s.calls.iter().enumerate() {
            if let Some(t) = names.service(&c.to)
                && t != si
            {
                graph.add_edge(nodes[si], nodes[t], (si, ci));
            }
            if let Some(f) = &c.fallback
                && f != FALLBACK_DEGRADE
                && let Some(t) = names.service(f)
                && t != si
            {
                graph.add_edge(nodes[si], nodes[t], (si, ci));
            }
        }
    }
    for scc in kosaraju_scc(&graph) {
        if scc.len() < 2 {
            continue;
        }
        let members: BTreeSet<usize> = scc.iter().map(|n| graph[*n]).collect();
        let start = *members.iter().next().expect("scc is not empty");
        let mut path = vec![start];
        let mut cur = start;
        let mut first_edge = None;
        // Walk edges inside the component until a service repeats.
        for _ in 0..=members.len() {
            let next = graph
                .edges(nodes[cur])
                .map(|e| (graph[e.target()], *e.weight()))
                .filter(|(t, _)| members.contains(t))
                .min();
            let Some((t, w)) = next else { break };
            first_edge.get_or_insert(w);
            if let Some(pos) = path.iter().position(|&x| x == t) {
                path.drain(..pos);
                path.push(t);
                break;
            }
            path.push(t);
            cur = t;
        }
        let cycle: Vec<&str> = path.iter().map(|&i| names.services[i].as_str()).collect();
        let (si, ci) = first_edge.unwrap_or((start, 0));
        cx.err(
            &KeyPath::root().k("services").i(si).k("calls").i(ci).k("to"),
            format!(
                "call cycle: {} (synchronous calls must not loop back)",
                cycle.join(" → ")
            ),
        );
    }
}
