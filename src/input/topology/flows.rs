//! `[[flows]]`: the request types entering the mesh, each at its `entry`
//! service, with its `share` of arrivals (default `defaults::FLOW_SHARE`:
//! equal shares; shares are normalised to sum to 1) and an optional order
//! `value` (a distribution of plain numbers, for money at risk).

use serde::Deserialize;

use super::Names;
use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::input::dist::{RawDist, Unit, dist};
use crate::model::{Flow, RegionId, Service, ServiceId};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    pub name: String,
    pub entry: String,
    pub share: Option<f64>,
    pub value: Option<RawDist>,
}

/// The largest share a flow may be given (shares are relative).
const SHARE_MAX: f64 = 1e9;

pub fn resolve(cx: &mut Ctx, raw: &[RawFlow], names: &Names) -> Vec<Flow> {
    let root = KeyPath::root();
    let with_share = raw.iter().filter(|f| f.share.is_some()).count();
    if with_share != 0 && with_share != raw.len() {
        cx.err(&root.k("flows"), "give every flow a `share`, or none (equal shares)");
    }
    let mut flows = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        let p = root.k("flows").i(i);
        let entry = match names.service(&f.entry) {
            Some(s) => ServiceId::from_index(s),
            None => {
                cx.err(
                    &p.k("entry"),
                    format!("unknown service \"{}\" (known: {})", f.entry, names.known_services()),
                );
                ServiceId(0)
            }
        };
        let share = f.share.unwrap_or(defaults::FLOW_SHARE);
        cx.in_range(&p.k("share"), share, 0.0, SHARE_MAX, "share");
        let value = f
            .value
            .as_ref()
            .and_then(|v| dist(cx, &p.k("value"), v, Unit::Plain, &names.base_dir));
        flows.push(Flow {
            name: f.name.clone(),
            entry,
            share,
            value,
        });
    }
    let total_share: f64 = flows.iter().map(|f| f.share).sum();
    if !flows.is_empty() && total_share <= 0.0 {
        cx.err(
            &root.k("flows"),
            "the flows' shares sum to 0; at least one must be positive",
        );
    } else {
        for f in &mut flows {
            f.share /= total_share;
        }
    }
    flows
}

/// Warns about regions whose arrivals cannot reach a flow's entry service
/// (no replica there and no link to a region that has one).
pub fn warn_unreachable(
    cx: &mut Ctx,
    flows: &[Flow],
    services: &[Service],
    nearest: &[Vec<RegionId>],
    regions: &[String],
) {
    for (fi, f) in flows.iter().enumerate() {
        let entry = &services[f.entry.index()];
        for (r, region) in regions.iter().enumerate() {
            let reachable = nearest[r].iter().any(|x| entry.present[x.index()]);
            if !reachable {
                cx.warn(
                    &KeyPath::root().k("flows").i(fi).k("entry"),
                    format!(
                        "arrivals in region {region} cannot reach \"{}\" (no replica there and no link to a region that has one)",
                        entry.name
                    ),
                );
            }
        }
    }
}
