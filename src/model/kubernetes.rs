//! How the mesh maps onto Kubernetes (`docs/format.md`, "Kubernetes mapping"): which
//! namespace runs in which region, and the pod labels of each service
//! (`Service::kubernetes_labels`). Importers and calibration use it to turn
//! a manifest's namespace and label selector into services and regions.

use super::{RegionId, ServiceId, Topology};

/// The well-known label a selector may name to narrow it to one region
/// (its value is a region of the topology).
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

/// Namespaces and the regions they run in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubernetesMapping {
    /// Namespace → region, sorted by namespace. A namespace not listed
    /// maps to every region.
    pub namespaces: Vec<(String, RegionId)>,
}

/// A service a selector picks, and the regions it picks it in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubernetesMatch {
    pub service: ServiceId,
    /// `regions[r]`: picked in region r (the service runs there).
    pub regions: Vec<bool>,
}

impl Topology {
    /// The regions a namespace stands for: its region when the mapping
    /// lists it, otherwise (and for no namespace) every region.
    pub fn namespace_regions(&self, namespace: Option<&str>) -> Vec<bool> {
        let listed = namespace.and_then(|ns| {
            let i = self.kubernetes.namespaces.binary_search_by(|(n, _)| n.as_str().cmp(ns));
            i.ok().map(|i| self.kubernetes.namespaces[i].1)
        });
        match listed {
            Some(r) => (0..self.regions.len()).map(|i| i == r.index()).collect(),
            None => vec![true; self.regions.len()],
        }
    }

    /// The services a label selector (`matchLabels`) picks in `namespace`:
    /// those whose labels include every label of the selector, in the
    /// regions they run in that the namespace stands for. A selector label
    /// [`REGION_LABEL`] narrows to the region it names instead of being
    /// matched against service labels. Services picked in no region are
    /// left out; an empty selector picks every service, as in Kubernetes.
    pub fn services_matching(&self, selector: &[(&str, &str)], namespace: Option<&str>) -> Vec<KubernetesMatch> {
        let mut regions = self.namespace_regions(namespace);
        for (_, region) in selector.iter().filter(|(k, _)| *k == REGION_LABEL) {
            let named = self.region_by_name(region);
            for (i, r) in regions.iter_mut().enumerate() {
                *r &= named.is_some_and(|n| n.index() == i);
            }
        }
        let labels = || selector.iter().filter(|(k, _)| *k != REGION_LABEL);
        self.services
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                labels()
                    .all(|(k, v)| (s.kubernetes_labels.iter()).any(|(sk, sv)| sk.as_str() == *k && sv.as_str() == *v))
            })
            .map(|(i, s)| KubernetesMatch {
                service: ServiceId::from_index(i),
                regions: (s.present.iter().zip(&regions)).map(|(p, r)| *p && *r).collect(),
            })
            .filter(|m| m.regions.iter().any(|r| *r))
            .collect()
    }
}
