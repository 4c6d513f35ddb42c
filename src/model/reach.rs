//! Who depends on whom: the service dependency graph (calls, fallbacks and
//! the consumers behind queues) and the static blast radius read from it.
//!
//! The static blast radius of a set of failing services is every service
//! that reaches one of them through calls — the services themselves
//! included. It is what the graph says could break; the simulation says
//! what did.

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, Reversed};

use super::{CallTarget, Fallback, Scenario, Topology};

/// The dependency graph: node `s` is service `s`; an edge `a → b` means a
/// failure of `b` can reach `a` (a call, a fallback, or a publish to a queue
/// whose consumer is `b`).
fn dependency_graph(topo: &Topology) -> (DiGraph<(), ()>, Vec<NodeIndex>) {
    let mut graph: DiGraph<(), ()> = DiGraph::new();
    let nodes: Vec<_> = topo.services.iter().map(|_| graph.add_node(())).collect();
    for (s, svc) in topo.services.iter().enumerate() {
        for c in &svc.calls {
            let to = match c.to {
                CallTarget::Service(t) => t.index(),
                // A publish depends on the broker, and its consumer's work on the message.
                CallTarget::Queue(q) => topo.queues[q.index()].consumer.index(),
            };
            graph.add_edge(nodes[s], nodes[to], ());
            if let Some(Fallback::Service(f)) = c.fallback {
                graph.add_edge(nodes[s], nodes[f.index()], ());
            }
        }
    }
    (graph, nodes)
}

/// `dependents[s]`: service `s` transitively calls a service marked in
/// `failing` (or is one).
pub fn dependents(topo: &Topology, failing: &[bool]) -> Vec<bool> {
    let (graph, nodes) = dependency_graph(topo);
    let reversed = Reversed(&graph);
    let mut hit = vec![false; topo.services.len()];
    for (t, _) in failing.iter().enumerate().filter(|(_, f)| **f) {
        let mut dfs = Dfs::new(reversed, nodes[t]);
        while let Some(x) = dfs.next(reversed) {
            hit[x.index()] = true;
        }
    }
    hit
}

/// Each service's own static blast radius: how many services (itself
/// included) transitively call it, so would be hit if it failed everywhere.
pub fn radius_per_service(topo: &Topology) -> Vec<usize> {
    let n = topo.services.len();
    (0..n)
        .map(|s| {
            let mut one = vec![false; n];
            one[s] = true;
            dependents(topo, &one).iter().filter(|h| **h).count()
        })
        .collect()
}

/// The services a scenario's faults hit directly: a service fault's service;
/// every service of an outaged region or of a link's two regions; a stalled
/// queue's publishers and consumer; a rollout's service (its new version
/// is the change under test).
pub fn fault_targets(topo: &Topology, scn: &Scenario) -> Vec<bool> {
    let mut targets = vec![false; topo.services.len()];
    if let Some(ro) = &scn.rollout {
        targets[ro.service.index()] = true;
    }
    for f in &scn.faults {
        if let Some(s) = f.service {
            targets[s.index()] = true;
        }
        let regions: Vec<usize> = match f.link {
            Some((a, b)) => vec![a.index(), b.index()],
            None if f.service.is_none() && f.queue.is_none() => {
                (0..topo.regions.len()).filter(|&r| f.regions[r]).collect()
            }
            None => Vec::new(),
        };
        for (s, svc) in topo.services.iter().enumerate() {
            if regions.iter().any(|&r| svc.present[r]) {
                targets[s] = true;
            }
        }
        if let Some(q) = f.queue {
            targets[topo.queues[q.index()].consumer.index()] = true;
            for (s, svc) in topo.services.iter().enumerate() {
                if svc.calls.iter().any(|c| c.to == CallTarget::Queue(q)) {
                    targets[s] = true;
                }
            }
        }
    }
    targets
}

/// A scenario's static blast radius: the services that transitively call a
/// fault target, the targets included, in service order.
pub fn static_blast_radius(topo: &Topology, scn: &Scenario) -> Vec<usize> {
    let hit = dependents(topo, &fault_targets(topo, scn));
    (0..hit.len()).filter(|&s| hit[s]).collect()
}
