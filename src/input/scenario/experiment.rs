//! `[experiment]`: what the catalog entry is and who owns it. No defaults:
//! `owner`, `hypothesis` and `rollback` left out break a catalog rule
//! (`validate` refuses, `run` warns); `severity`, `tags` and `description`
//! are free. The name must be usable as a results folder.

use serde::Deserialize;

use crate::input::diag::{Ctx, KeyPath};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub name: String,
    pub topology: String,
    pub owner: Option<String>,
    pub severity: Option<String>,
    pub hypothesis: Option<String>,
    pub rollback: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[expect(dead_code, reason = "accepted for the catalog's readers; nothing uses it yet")]
    pub description: Option<String>,
}

/// Checks the name and the catalog rules (`topology` is checked by the loader).
pub fn check(cx: &mut Ctx, exp: &RawExperiment) {
    let ep = KeyPath::root().k("experiment");
    cx.check(
        &ep.k("name"),
        safe_name(&exp.name),
        format!(
            "\"{}\" is not usable as a results folder name: use letters, digits, '-', '_' or '.'",
            exp.name
        ),
    );
    for (key, v) in [
        ("owner", &exp.owner),
        ("hypothesis", &exp.hypothesis),
        ("rollback", &exp.rollback),
    ] {
        if v.as_deref().map(str::trim).unwrap_or("").is_empty() {
            cx.rule(
                &ep,
                format!("no `{key}`: a catalog entry says who owns it, what it expects and how to roll back"),
            );
        }
    }
}

/// A name used as a folder under `results/`: letters, digits, `-`, `_`, `.`.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
