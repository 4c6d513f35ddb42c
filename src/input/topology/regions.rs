//! `[[regions]]`: the regions of the mesh, by name. No defaults; at most
//! 256 regions, names unique and non-empty.

use serde::Deserialize;

use super::duplicate_names;
use crate::input::diag::{Ctx, KeyPath};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    pub name: String,
}

/// The most regions a topology may declare (region ids are `u16`, and
/// link latencies are kept in a regions × regions matrix).
const REGIONS_MAX: usize = 256;

/// The region names, in file order (a region's id is its position).
pub fn resolve(cx: &mut Ctx, raw: &[RawRegion]) -> Vec<String> {
    duplicate_names(cx, "regions", raw.iter().map(|r| r.name.as_str()));
    if raw.len() > REGIONS_MAX {
        cx.err(&KeyPath::root().k("regions"), "at most 256 regions");
    }
    raw.iter().map(|r| r.name.clone()).collect()
}

/// `regions = [...]` of a service or queue: the regions it runs in, as a
/// mask over the topology's regions. At least one is needed.
pub fn mask(cx: &mut Ctx, path: &KeyPath, names: &[String], regions: &[String]) -> Vec<bool> {
    let mut mask = vec![false; regions.len()];
    if names.is_empty() {
        cx.err(path, "expected at least one region");
    }
    for (i, n) in names.iter().enumerate() {
        match regions.iter().position(|r| r == n) {
            Some(r) => mask[r] = true,
            None => cx.err(
                &path.i(i),
                format!("unknown region \"{n}\" (known: {})", regions.join(", ")),
            ),
        }
    }
    mask
}
