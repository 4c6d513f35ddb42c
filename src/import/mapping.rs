//! From Kubernetes names to the topology: label selectors and hosts to
//! services, namespaces to regions (the topology's `[kubernetes]`), and a
//! selector's `mode` to a number of pods.
//!
//! A selector must pick exactly one service: one that matches nothing, or
//! several services, is an error naming the selector and what it matched.

use super::yaml::Node;
use super::{Cx, D, TargetOut};
use crate::model::{ServiceId, Topology};

/// One service and the regions a selector picked it in.
#[derive(Clone, Debug, PartialEq)]
pub struct Picked {
    pub service: ServiceId,
    pub regions: Vec<bool>,
}

impl Picked {
    /// Pods picked: the service's replicas in each picked region.
    pub fn pods(&self, topo: &Topology) -> u32 {
        let n = self.regions.iter().filter(|r| **r).count() as u32;
        n * topo.services[self.service.index()].replicas
    }

    pub fn name<'t>(&self, topo: &'t Topology) -> &'t str {
        &topo.services[self.service.index()].name
    }

    /// The fault targets: one with no region when the service is picked
    /// everywhere it runs, otherwise one per picked region.
    pub fn targets(&self, topo: &Topology) -> Vec<TargetOut> {
        let s = &topo.services[self.service.index()];
        let service = s.name.clone();
        if self.regions == s.present {
            return vec![TargetOut::Service { service, region: None }];
        }
        (self.regions.iter().enumerate())
            .filter(|(_, r)| **r)
            .map(|(i, _)| TargetOut::Service {
                service: service.clone(),
                region: Some(topo.regions[i].clone()),
            })
            .collect()
    }
}

/// The services a label selector picks in any of `namespaces` (`None`:
/// every namespace), regions merged per service.
pub fn matching(topo: &Topology, labels: &[(String, String)], namespaces: &[Option<String>]) -> Vec<Picked> {
    let sel: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut out: Vec<Picked> = Vec::new();
    for ns in namespaces {
        for m in topo.services_matching(&sel, ns.as_deref()) {
            match out.iter_mut().find(|p| p.service == m.service) {
                Some(p) => (p.regions.iter_mut().zip(&m.regions)).for_each(|(a, b)| *a |= *b),
                None => out.push(Picked {
                    service: m.service,
                    regions: m.regions,
                }),
            }
        }
    }
    out
}

/// Exactly one service for a selector, or an error at `node` naming the
/// selector (`what`) and what it matched.
pub fn one(cx: &mut Cx, d: &D, node: &Node, path: &str, what: &str, found: Vec<Picked>) -> Option<Picked> {
    match found.len() {
        1 => found.into_iter().next(),
        0 => {
            cx.err(
                d,
                node,
                path,
                format!(
                    "the selector {what} matches no service of the topology (a service matches pods labelled app (or app.kubernetes.io/name) = its name unless its `kubernetes.labels` say otherwise; namespaces map to regions in [kubernetes])"
                ),
            );
            None
        }
        _ => {
            let names: Vec<&str> = found.iter().map(|p| p.name(cx.topo)).collect();
            cx.err(
                d,
                node,
                path,
                format!(
                    "the selector {what} matches several services ({}); narrow it to one (add a label) or give each service its own labels in the topology",
                    names.join(", ")
                ),
            );
            None
        }
    }
}

/// `{app=x, tier=y} in namespaces a, b`, for messages.
pub fn describe(labels: &[(String, String)], namespaces: &[Option<String>]) -> String {
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let ns: Vec<&str> = namespaces.iter().map(|n| n.as_deref().unwrap_or("any")).collect();
    format!("{{{}}} in namespace {}", l.join(", "), ns.join(", "))
}

/// A Kubernetes host (`psp`, `psp.payments-eu`, `psp.payments-eu.svc.cluster.local`,
/// `psp:8080`) as a service name and namespace.
pub fn split_host(host: &str, default_ns: Option<&str>) -> (String, Option<String>) {
    let host = host
        .rsplit_once(':')
        .map(|(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { host })
        .unwrap_or(host);
    let mut parts = host.split('.');
    let name = parts.next().unwrap_or("").to_string();
    let ns = parts
        .next()
        .map(str::to_string)
        .or_else(|| default_ns.map(str::to_string));
    (name, ns)
}

/// The service a host names: the one labelled `app` = the host's name, or
/// `app.kubernetes.io/name` = it, or named so in the topology, in the
/// host's namespace.
pub fn host(cx: &mut Cx, d: &D, node: &Node, path: &str, host: &str) -> Option<Picked> {
    let (name, ns) = split_host(host, d.namespace.as_deref());
    let namespaces = [ns.clone()];
    for key in ["app", "app.kubernetes.io/name"] {
        let found = matching(cx.topo, &[(key.to_string(), name.clone())], &namespaces);
        if !found.is_empty() {
            return one(cx, d, node, path, &format!("host \"{host}\" ({key}={name})"), found);
        }
    }
    if let Some(s) = cx.topo.service_by_name(&name) {
        let regions: Vec<bool> = (cx.topo.namespace_regions(ns.as_deref()).iter())
            .zip(&cx.topo.services[s.index()].present)
            .map(|(a, b)| *a && *b)
            .collect();
        if regions.iter().any(|r| *r) {
            return Some(Picked { service: s, regions });
        }
    }
    one(cx, d, node, path, &format!("host \"{host}\""), Vec::new())
}

/// How many of `n` pods a Chaos Mesh `mode` / `value` picks, as Chaos
/// Mesh's `FilterObjectsByMode` does: `one` 1, `all` n, `fixed` min(v, n),
/// `fixed-percent` ⌊n·v/100⌋, `random-max-percent` the mean of ⌊n·p/100⌋
/// over p = 0..v (Chaos Mesh draws p uniformly; the import takes its mean).
pub fn mode_pods(mode: &str, value: Option<&str>, n: u32) -> Result<f64, String> {
    let v = || -> Result<i64, String> {
        let s = value.ok_or_else(|| format!("mode `{mode}` needs `value`"))?;
        s.trim()
            .parse::<i64>()
            .map_err(|_| format!("`value` \"{s}\" is not a whole number (mode `{mode}`)"))
    };
    let n64 = i64::from(n);
    match mode {
        "one" => Ok(1.0_f64.min(n as f64)),
        "all" => Ok(n as f64),
        "fixed" => {
            let v = v()?;
            if v <= 0 {
                return Err(format!("mode fixed needs a value above 0, found {v}"));
            }
            Ok(v.min(n64) as f64)
        }
        "fixed-percent" => {
            let v = v()?;
            if !(1..=100).contains(&v) {
                return Err(format!("mode fixed-percent needs a value in (0, 100], found {v}"));
            }
            Ok((n64 * v / 100) as f64)
        }
        "random-max-percent" => {
            let v = v()?;
            if !(1..=100).contains(&v) {
                return Err(format!("mode random-max-percent needs a value in (0, 100], found {v}"));
            }
            let sum: i64 = (0..=v).map(|p| n64 * p / 100).sum();
            Ok(sum as f64 / (v + 1) as f64)
        }
        _ => Err(format!(
            "unknown mode \"{mode}\"; expected one, all, fixed, fixed-percent or random-max-percent"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_pick_as_chaos_mesh_does() {
        // Each mode's pod count, with Chaos Mesh's rounding down and the mean of random-max-percent.
        assert_eq!(mode_pods("one", None, 6), Ok(1.0));
        assert_eq!(mode_pods("all", None, 6), Ok(6.0));
        assert_eq!(mode_pods("fixed", Some("2"), 6), Ok(2.0));
        assert_eq!(mode_pods("fixed", Some("9"), 6), Ok(6.0));
        assert_eq!(mode_pods("fixed-percent", Some("50"), 6), Ok(3.0));
        assert_eq!(mode_pods("fixed-percent", Some("10"), 6), Ok(0.0));
        // p = 0..=50 of 4 pods: ⌊4p/100⌋ is 0 for p < 25, 1 for 25..49, 2 at 50: (25 + 2)/51.
        assert_eq!(mode_pods("random-max-percent", Some("50"), 4), Ok(27.0 / 51.0));
        assert!(mode_pods("fixed", None, 6).is_err());
        assert!(mode_pods("some", None, 6).is_err());
    }

    #[test]
    fn hosts_split_into_name_and_namespace() {
        // Short names, namespaced names, FQDNs and ports.
        assert_eq!(split_host("psp", Some("x")), ("psp".into(), Some("x".into())));
        assert_eq!(
            split_host("psp.payments-eu.svc.cluster.local", None),
            ("psp".into(), Some("payments-eu".into()))
        );
        assert_eq!(split_host("psp:8080", None), ("psp".into(), None));
    }
}
