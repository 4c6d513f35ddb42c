//! `[workload]`: Poisson arrivals per region (`rate_per_s`, one number for
//! every region or a table region → rate; regions left out of the table get
//! 0) and `[[workload.surges]]` that multiply them for a while (every
//! region unless `regions` is given).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use super::region_mask;
use crate::input::diag::{Ctx, KeyPath};
use crate::model::{NS_PER_S, Surge, Topology};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub rate_per_s: RawRates,
    #[serde(default)]
    pub surges: Vec<RawSurge>,
}

/// `rate_per_s`: one number for every region, or a table region → rate.
#[derive(Clone, Debug)]
pub enum RawRates {
    Every(f64),
    PerRegion(BTreeMap<String, f64>),
}

impl<'de> Deserialize<'de> for RawRates {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawRates;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate per second for every region, or a table such as { eu-west = 300, us-east = 200 }")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawRates, E> {
                Ok(RawRates::Every(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawRates, E> {
                Ok(RawRates::Every(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawRates, E> {
                Ok(RawRates::Every(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawRates, A::Error> {
                BTreeMap::<String, f64>::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawRates::PerRegion)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSurge {
    pub start_s: f64,
    pub duration_s: f64,
    pub multiplier: f64,
    pub regions: Option<Vec<String>>,
}

/// The highest arrival rate of a region, per second.
const RATE_MAX: f64 = 10_000_000.0;
/// The latest surge start and the longest surge, in seconds.
const SURGE_S_MAX: f64 = 1e7;

/// The arrival rate of each region and the surges.
pub fn resolve(cx: &mut Ctx, wl: &RawWorkload, topo: &Topology) -> (Vec<f64>, Vec<Surge>) {
    let wp = KeyPath::root().k("workload");
    let rate_per_s = rates(cx, &wp, &wl.rate_per_s, topo);
    let mut surges = Vec::new();
    for (i, s) in wl.surges.iter().enumerate() {
        let sp = wp.k("surges").i(i);
        cx.check(
            &sp.k("start_s"),
            s.start_s.is_finite() && s.start_s >= 0.0,
            "start_s must be at least 0",
        );
        cx.check(
            &sp.k("duration_s"),
            s.duration_s.is_finite() && s.duration_s > 0.0,
            "duration_s must be more than 0",
        );
        cx.check(
            &sp.k("multiplier"),
            s.multiplier.is_finite() && (0.0..=1000.0).contains(&s.multiplier),
            format!("multiplier must be between 0 and 1000, found {}", s.multiplier),
        );
        let regions = match &s.regions {
            Some(names) => region_mask(cx, &sp.k("regions"), names, topo),
            None => vec![true; topo.regions.len()],
        };
        let start_ns = (s.start_s.clamp(0.0, SURGE_S_MAX) * NS_PER_S) as u64;
        surges.push(Surge {
            start_ns,
            end_ns: start_ns + (s.duration_s.clamp(0.0, SURGE_S_MAX) * NS_PER_S) as u64,
            multiplier: s.multiplier,
            regions,
        });
    }
    (rate_per_s, surges)
}

fn rates(cx: &mut Ctx, wp: &KeyPath, raw: &RawRates, topo: &Topology) -> Vec<f64> {
    let mut rate_per_s = vec![0.0; topo.regions.len()];
    match raw {
        RawRates::Every(r) => rate_per_s.iter_mut().for_each(|x| *x = *r),
        RawRates::PerRegion(m) => {
            for (name, r) in m {
                match topo.region_by_name(name) {
                    Some(id) => rate_per_s[id.index()] = *r,
                    None => cx.err(
                        &wp.k("rate_per_s").k(name),
                        format!("unknown region \"{name}\" (known: {})", topo.regions.join(", ")),
                    ),
                }
            }
        }
    }
    for (i, r) in rate_per_s.iter().enumerate() {
        let at = match raw {
            RawRates::PerRegion(_) => wp.k("rate_per_s").k(&topo.regions[i]),
            RawRates::Every(_) => wp.k("rate_per_s"),
        };
        cx.check(
            &at,
            r.is_finite() && *r >= 0.0 && *r <= RATE_MAX,
            format!(
                "the rate of {} must be between 0 and 10000000 per second, found {r}",
                topo.regions[i]
            ),
        );
    }
    cx.check(
        &wp.k("rate_per_s"),
        rate_per_s.iter().any(|r| !(r.is_finite() && *r >= 0.0)) || rate_per_s.iter().sum::<f64>() > 0.0,
        "no arrivals: every region's rate is 0",
    );
    rate_per_s
}
