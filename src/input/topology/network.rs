//! `[network]`: one-way latency inside a region (`intra_region`, default
//! `defaults::INTRA_REGION_LATENCY_MS`) and between two regions
//! (`[[network.links]]`, symmetric; no link by default, so the regions
//! cannot reach each other). Also orders, for each region, the others by
//! link latency: the routing rule's "nearest region".

use std::path::Path;

use serde::Deserialize;

use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::input::dist::{RawDist, Unit, dist};
use crate::model::{Dist, NS_PER_MS, RegionId};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub intra_region: Option<RawDist>,
    #[serde(default)]
    pub links: Vec<RawLink>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    pub between: Vec<String>,
    pub latency: RawDist,
}

/// The latency matrix (`Topology::latency`) and each region's regions by
/// increasing median latency (`Topology::nearest`).
pub fn resolve(
    cx: &mut Ctx,
    raw: &RawNetwork,
    regions: &[String],
    base_dir: &Path,
) -> (Vec<Option<Dist>>, Vec<Vec<RegionId>>) {
    let root = KeyPath::root();
    let nr = regions.len();
    let mut latency: Vec<Option<Dist>> = vec![None; nr * nr];
    let intra = match &raw.intra_region {
        Some(d) => dist(cx, &root.k("network").k("intra_region"), d, Unit::Ms, base_dir),
        None => Some(Dist::Const(defaults::INTRA_REGION_LATENCY_MS * NS_PER_MS)),
    };
    for r in 0..nr {
        latency[r * nr + r] = intra.clone();
    }
    for (i, link) in raw.links.iter().enumerate() {
        let p = root.k("network").k("links").i(i);
        let ends: Vec<Option<usize>> = link
            .between
            .iter()
            .enumerate()
            .map(|(j, n)| {
                let r = regions.iter().position(|r| r == n);
                if r.is_none() {
                    cx.err(
                        &p.k("between").i(j),
                        format!("unknown region \"{n}\" (known: {})", regions.join(", ")),
                    );
                }
                r
            })
            .collect();
        let d = dist(cx, &p.k("latency"), &link.latency, Unit::Ms, base_dir);
        if ends.len() != 2 {
            cx.err(
                &p.k("between"),
                format!("a link joins exactly two regions, found {}", ends.len()),
            );
            continue;
        }
        if let (Some(a), Some(b), Some(d)) = (ends[0], ends[1], d) {
            if a == b {
                cx.err(
                    &p.k("between"),
                    "a link joins two different regions; use network.intra_region for one",
                );
            } else if latency[a * nr + b].is_some() {
                cx.err(
                    &p.k("between"),
                    format!("a second link between {} and {}", regions[a], regions[b]),
                );
            } else {
                latency[a * nr + b] = Some(d.clone());
                latency[b * nr + a] = Some(d);
            }
        }
    }
    let nearest = nearest(&latency, nr);
    (latency, nearest)
}

/// For each region: itself, then the regions it has a link to by
/// increasing median latency (ties by region order).
fn nearest(latency: &[Option<Dist>], nr: usize) -> Vec<Vec<RegionId>> {
    let mut nearest = Vec::with_capacity(nr);
    for a in 0..nr {
        let mut others: Vec<(f64, usize)> = (0..nr)
            .filter(|&b| b != a)
            .filter_map(|b| latency[a * nr + b].as_ref().map(|d| (d.median(), b)))
            .collect();
        others.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let mut order = vec![RegionId::from_index(a)];
        order.extend(others.into_iter().map(|(_, b)| RegionId::from_index(b)));
        nearest.push(order);
    }
    nearest
}
