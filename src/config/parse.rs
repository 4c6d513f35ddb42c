//! Stage one: from text to raw structs, each section read on its own so that
//! every malformed section is reported, not only the first.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diag::{Diagnostic, Severity, Source};
use super::raw::*;

/// What a TOML file in a catalog is, from its top-level keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Scenario,
    Topology,
}

/// Reads a file's bytes as a [`Source`]; missing, unreadable and non-UTF-8
/// files become diagnostics.
pub fn read_source(path: &std::path::Path) -> Result<Source, Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "file not found".to_string(),
            _ => format!("cannot read file: {e}"),
        };
        Diagnostic::file_error(path, what)
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Diagnostic::file_error(
            path,
            format!(
                "not a UTF-8 text file (invalid byte at offset {}); expected a TOML file",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(Source::new(path, text))
}

/// Parses the TOML syntax, reporting every syntax error found.
fn parse_root(src: &Source) -> Result<Spanned<DeTable<'_>>, Vec<Diagnostic>> {
    let (root, errors) = DeTable::parse_recoverable(&src.text);
    if errors.is_empty() {
        return Ok(root);
    }
    Err(errors
        .iter()
        .map(|e| {
            src.at_span(
                Severity::Error,
                e.span(),
                format!("invalid TOML: {}", e.message().trim()),
            )
        })
        .collect())
}

/// Tells a scenario from a topology by its top-level keys.
pub fn file_kind(src: &Source) -> Result<FileKind, Vec<Diagnostic>> {
    let root = parse_root(src)?;
    let t = root.get_ref();
    if t.get("experiment").is_some() {
        Ok(FileKind::Scenario)
    } else if t.get("services").is_some() || t.get("regions").is_some() {
        Ok(FileKind::Topology)
    } else if src.text.trim().is_empty() {
        Err(vec![src.at_span(
            Severity::Error,
            None,
            "the file is empty; expected a scenario (an [experiment] table) or a topology ([[regions]] and [[services]])",
        )])
    } else {
        Err(vec![src.at_span(
            Severity::Error,
            None,
            "neither a scenario (no [experiment] table) nor a topology (no [[services]])",
        )])
    }
}

/// Deserialises one value, turning a serde error into a located diagnostic.
fn de<T: DeserializeOwned>(src: &Source, v: &Spanned<DeValue<'_>>, what: &str) -> Result<T, Diagnostic> {
    T::deserialize(ValueDeserializer::from(v.clone())).map_err(|e| {
        let span = e.span().or_else(|| Some(v.span()));
        src.at_span(Severity::Error, span, format!("{what}: {}", e.message().trim()))
    })
}

/// Deserialises an array of tables element by element.
fn de_array<T: DeserializeOwned>(
    src: &Source,
    v: &Spanned<DeValue<'_>>,
    key: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<T> {
    let Some(arr) = v.get_ref().as_array() else {
        diags.push(src.at_span(
            Severity::Error,
            Some(v.span()),
            format!(
                "{key}: expected an array of tables ([[{key}]]), found a {}",
                v.get_ref().type_str()
            ),
        ));
        return Vec::new();
    };
    let mut out = Vec::with_capacity(arr.len());
    for (i, item) in arr.iter().enumerate() {
        match de(src, item, &format!("{key}[{i}]")) {
            Ok(x) => out.push(x),
            Err(d) => diags.push(d),
        }
    }
    out
}

fn unknown_key(src: &Source, key: &Spanned<std::borrow::Cow<'_, str>>, known: &[&str]) -> Diagnostic {
    src.at_span(
        Severity::Error,
        Some(key.span()),
        format!("unknown key `{}`; expected one of: {}", key.get_ref(), known.join(", ")),
    )
}

fn missing(src: &Source, what: &str) -> Diagnostic {
    src.at_span(Severity::Error, None, format!("missing {what}"))
}

pub fn parse_topology(src: &Source) -> Result<RawTopology, Vec<Diagnostic>> {
    let root = parse_root(src)?;
    let mut diags = Vec::new();
    let mut t = RawTopology::default();
    for (key, v) in root.get_ref().iter() {
        match key.get_ref().as_ref() {
            "name" => t.name = de(src, v, "name").map_err(|d| diags.push(d)).ok(),
            "description" => t.description = de(src, v, "description").map_err(|d| diags.push(d)).ok(),
            "regions" => t.regions = de_array(src, v, "regions", &mut diags),
            "network" => t.network = de(src, v, "network").map_err(|d| diags.push(d)).unwrap_or_default(),
            "flows" => t.flows = de_array(src, v, "flows", &mut diags),
            "services" => t.services = de_array(src, v, "services", &mut diags),
            "queues" => t.queues = de_array(src, v, "queues", &mut diags),
            _ => diags.push(unknown_key(src, key, TOPOLOGY_KEYS)),
        }
    }
    if diags.is_empty() {
        if t.name.is_none() {
            diags.push(missing(src, "`name = \"...\"` (the topology's name)"));
        }
        if root.get_ref().get("regions").is_none() {
            diags.push(missing(src, "[[regions]]: a topology needs at least one region"));
        }
        if root.get_ref().get("services").is_none() {
            diags.push(missing(src, "[[services]]: a topology needs at least one service"));
        }
        if root.get_ref().get("flows").is_none() {
            diags.push(missing(src, "[[flows]]: a topology needs at least one request flow"));
        }
    }
    if diags.is_empty() { Ok(t) } else { Err(diags) }
}

pub fn parse_scenario(src: &Source) -> Result<RawScenario, Vec<Diagnostic>> {
    let root = parse_root(src)?;
    let mut diags = Vec::new();
    let mut s = RawScenario::default();
    for (key, v) in root.get_ref().iter() {
        match key.get_ref().as_ref() {
            "experiment" => s.experiment = de(src, v, "experiment").map_err(|d| diags.push(d)).ok(),
            "run" => s.run = de(src, v, "run").map_err(|d| diags.push(d)).ok(),
            "workload" => s.workload = de(src, v, "workload").map_err(|d| diags.push(d)).ok(),
            "faults" => s.faults = de_array(src, v, "faults", &mut diags),
            "slos" => s.slos = de_array(src, v, "slos", &mut diags),
            "blast_radius" => s.blast_radius = de(src, v, "blast_radius").map_err(|d| diags.push(d)).ok(),
            "guardrails" => s.guardrails = de_array(src, v, "guardrails", &mut diags),
            "expect" => s.expect = de(src, v, "expect").map_err(|d| diags.push(d)).ok(),
            "rollout" => s.rollout = de(src, v, "rollout").map_err(|d| diags.push(d)).ok(),
            _ => diags.push(unknown_key(src, key, SCENARIO_KEYS)),
        }
    }
    let t = root.get_ref();
    if t.get("experiment").is_none() {
        diags.push(missing(
            src,
            "[experiment] (name, topology, owner, hypothesis, rollback)",
        ));
    }
    if t.get("run").is_none() {
        diags.push(missing(src, "[run] (duration_s, warmup_s, replications, seed)"));
    }
    if t.get("workload").is_none() {
        diags.push(missing(src, "[workload] (rate_per_s)"));
    }
    if diags.is_empty() { Ok(s) } else { Err(diags) }
}
