//! Stage one: from text to raw structs, each section read on its own so that
//! every malformed section is reported, not only the first.
//!
//! Only what the user wrote is parsed here: TOML syntax, then each
//! section's shape through its `Raw*` serde structs (which deny unknown
//! keys). Serde's messages are reworded in the user's terms and located at
//! the offending key or value. Nothing is resolved or range-checked yet.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diag::{Diagnostic, Severity, Source};
use super::scenario::{RawScenario, SCENARIO_KEYS};
use super::topology::{RawTopology, TOPOLOGY_KEYS};

/// What a TOML file in a catalog is, from its top-level keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Scenario,
    Topology,
}

/// The most syntax errors shown for one file: after the first few, the
/// parser's recovery mostly reports consequences of the first.
const MAX_SYNTAX_ERRORS: usize = 5;

/// Parses the TOML syntax, reporting the syntax errors found (in file
/// order, one per line, the first few).
fn parse_root(src: &Source) -> Result<Spanned<DeTable<'_>>, Vec<Diagnostic>> {
    let (root, errors) = DeTable::parse_recoverable(&src.text);
    if errors.is_empty() {
        return Ok(root);
    }
    let mut diags: Vec<Diagnostic> = errors
        .iter()
        .map(|e| {
            let d = src.at_span(Severity::Error, e.span(), String::new());
            let message = syntax_message(&d.line_text, e.message().trim());
            Diagnostic {
                message: format!("invalid TOML: {message}"),
                ..d
            }
        })
        .collect();
    diags.sort_by_key(|d| (d.line, d.column));
    diags.dedup_by_key(|d| d.line);
    if let Some(first) = diags.first_mut()
        && let Some(open) = unclosed_array_before(&src.text, first.line)
    {
        first
            .message
            .push_str(&format!(" (is the array opened on line {open} closed?)"));
    }
    let total = diags.len();
    diags.truncate(MAX_SYNTAX_ERRORS);
    if total > MAX_SYNTAX_ERRORS {
        diags.push(src.at_span(
            Severity::Error,
            None,
            format!(
                "{} more syntax errors not shown (often caused by the first ones)",
                total - MAX_SYNTAX_ERRORS
            ),
        ));
        if let Some(last) = diags.last_mut() {
            last.line = 0;
        }
    }
    Err(diags)
}

/// Replaces the parser's wording where it misleads: a key with nothing after
/// its `=` is a missing value, not an unquoted string.
fn syntax_message(line: &str, message: &str) -> String {
    let code = line.split('#').next().unwrap_or("").trim_end();
    if code.ends_with('=') {
        return "missing value after `=` (expected a number, a quoted string, a table or an array)".to_string();
    }
    message.to_string()
}

/// The last line before `line` (1-based) that opens a `[` value it does not
/// close: the usual cause of a cascade of syntax errors further down.
fn unclosed_array_before(text: &str, line: usize) -> Option<usize> {
    let mut depth = 0i32;
    let mut opened_at = None;
    for (i, l) in text.lines().take(line.saturating_sub(1)).enumerate() {
        let code = l.split('#').next().unwrap_or("");
        let trimmed = code.trim_start();
        if depth == 0 && trimmed.starts_with('[') {
            continue; // a table header, not a value
        }
        let mut in_string = false;
        for c in code.chars() {
            match c {
                '"' => in_string = !in_string,
                '[' if !in_string => {
                    if depth == 0 {
                        opened_at = Some(i + 1);
                    }
                    depth += 1;
                }
                ']' if !in_string => depth -= 1,
                _ => {}
            }
        }
        if depth <= 0 {
            depth = 0;
            opened_at = None;
        }
    }
    opened_at
}

/// Serde's wording, in the user's terms: type names become words.
fn humanize(message: &str) -> String {
    let mut m = message.to_string();
    for (rust, words) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected a whole number ≥ 0"),
        ("expected u32", "expected a whole number ≥ 0"),
        ("expected u16", "expected a whole number ≥ 0"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
        (" as i128", ""),
        (" as u128", ""),
    ] {
        m = m.replace(rust, words);
    }
    m
}

/// The key written just before `offset` on its line (`key = value`, also
/// inside an inline table), if any.
fn key_before(text: &str, offset: usize) -> Option<String> {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let before = &text[start..offset];
    let eq = before.rfind('=')?;
    let lhs = &before[..eq];
    let key = lhs.rsplit(['{', ',']).next()?.trim().trim_matches('"');
    (!key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c))).then(|| key.to_string())
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
        let message = humanize(e.message().trim());
        // Name the key when the error points at a value (`key = value`).
        let key = span
            .as_ref()
            .filter(|_| !message.starts_with("unknown field") && !message.starts_with("missing field"))
            .and_then(|s| key_before(&src.text, s.start));
        let what = match key {
            Some(k) if !what.ends_with(&k) => format!("{what}: `{k}`"),
            _ => what.to_string(),
        };
        src.at_span(Severity::Error, span, format!("{what}: {message}"))
    })
}

/// Deserialises a table section (`[key]`). Serde would read an array of
/// tables (`[[key]]`) as a struct's fields by position and complain about
/// the first field's type, so an array is refused by name instead. (Used by
/// `[kubernetes]`; the older sections keep serde's message, unchanged.)
fn de_table<T: DeserializeOwned>(src: &Source, v: &Spanned<DeValue<'_>>, key: &str) -> Result<T, Diagnostic> {
    if v.get_ref().as_table().is_none() {
        let found = v.get_ref().type_str();
        let a = if found.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        return Err(src.at_span(
            Severity::Error,
            Some(v.span()),
            format!("{key}: expected a table ([{key}]), found {a} {found}"),
        ));
    }
    de(src, v, key)
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
            "kubernetes" => t.kubernetes = de_table(src, v, "kubernetes").map_err(|d| diags.push(d)).ok(),
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
            "uncertain" => s.uncertain = de_array(src, v, "uncertain", &mut diags),
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
