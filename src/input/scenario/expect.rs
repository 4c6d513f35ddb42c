//! `[expect]`: the limits CI checks (`chaoscal check`): the most probable
//! each named SLO may be violated, and the containment-breach probability.
//! No defaults: a limit left out is not checked.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::input::diag::{Ctx, KeyPath};
use crate::model::Expect;

#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    #[serde(default)]
    pub max_violation_probability: BTreeMap<String, f64>,
    pub max_containment_breach_probability: Option<f64>,
}

pub fn resolve(cx: &mut Ctx, raw: Option<&RawExpect>, slo_names: &BTreeSet<&str>) -> Expect {
    let mut expect = Expect::default();
    let Some(e) = raw else {
        return expect;
    };
    let xp = KeyPath::root().k("expect");
    for (name, p) in &e.max_violation_probability {
        let at = xp.k("max_violation_probability").k(name);
        if !slo_names.contains(name.as_str()) {
            cx.err(
                &at,
                format!(
                    "unknown SLO \"{name}\" (known: {})",
                    slo_names.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        cx.check(
            &at,
            p.is_finite() && (0.0..=1.0).contains(p),
            "a probability is between 0 and 1",
        );
        expect.max_violation_probability.push((name.clone(), *p));
    }
    if let Some(p) = e.max_containment_breach_probability {
        cx.check(
            &xp.k("max_containment_breach_probability"),
            p.is_finite() && (0.0..=1.0).contains(&p),
            "a probability is between 0 and 1",
        );
        expect.max_containment_breach_probability = Some(p);
    }
    expect
}
