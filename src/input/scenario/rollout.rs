//! `[rollout]` (Argo Rollouts canary): accepted and kept as written, but not
//! simulated yet, so `run` refuses an entry that has one.

use serde::Deserialize;

use crate::input::diag::{Ctx, KeyPath};

/// Parsed for its shape only, until rollouts are simulated.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "shape-checked only until rollouts are simulated")]
pub struct RawRollout {
    pub service: String,
    pub start_s: Option<toml::Value>,
    pub overrides: toml::Table,
    pub steps: Vec<toml::Table>,
    pub analysis: Option<toml::Table>,
}

/// Warns about a rollout and records it as not simulated.
pub fn check(cx: &mut Ctx, raw: Option<&RawRollout>, not_simulated: &mut Vec<String>) {
    if raw.is_some() {
        not_simulated.push("[rollout]".to_string());
        cx.warn(
            &KeyPath::root().k("rollout"),
            "rollouts are not simulated yet: `run` refuses this scenario",
        );
    }
}
