//! What every fuzz target checks, whatever reader it drives.
//!
//! The property (the project's "bad input never panics"): a loader either
//! accepts a text, with warnings only, or rejects it with at least one error
//! that points at a line and column of one of the texts it was given, the
//! line shown being that line. A panic, an abort, a hang (libFuzzer's
//! `-timeout`) or runaway memory (`-rss_limit_mb`) is a finding; so is a
//! rejection without a located error. Every diagnostic is also rendered, so
//! the compiler-style caret code runs on every input.

use std::path::Path;

use chaoscal::input::Diagnostic;

/// One text handed to a loader, under the name it is loaded as.
pub struct Text<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

/// Checks a loader's answer for `texts` (see the crate docs).
pub fn check<T>(texts: &[Text<'_>], result: &Result<(T, Vec<Diagnostic>), Vec<Diagnostic>>) {
    match result {
        Ok((_, warnings)) => {
            for d in warnings {
                assert!(!d.is_error(), "accepted, but with an error: {d}");
                check_located(texts, d);
            }
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "rejected without a diagnostic");
            for d in diags {
                check_located(texts, d);
            }
            assert!(
                diags.iter().any(|d| d.is_error() && d.line >= 1 && d.column >= 1),
                "rejected without an error at a line and column: {diags:#?}"
            );
        }
    }
}

/// A diagnostic with a line names one of the texts, a line inside it, and
/// shows that line; its column is inside the line (or just past its end).
/// The column may count a trailing `\r`, which the shown line drops (as in
/// tests/integration/bad_input.rs): a lone `\r` is itself a syntax error.
fn check_located(texts: &[Text<'_>], d: &Diagnostic) {
    let shown = d.to_string();
    assert!(!shown.is_empty());
    if d.line == 0 {
        return;
    }
    let Some(t) = texts.iter().find(|t| t.path == d.file) else {
        // A file the text named (an `empirical` CSV): not ours to check.
        return;
    };
    let lines: Vec<&str> = t.text.split('\n').collect();
    assert!(
        d.line <= lines.len(),
        "line {} past the end ({} lines): {d}",
        d.line,
        lines.len()
    );
    let raw = lines[d.line - 1];
    assert_eq!(
        d.line_text,
        raw.trim_end_matches('\r'),
        "the line shown is not line {}: {d}",
        d.line
    );
    assert!(
        d.column >= 1 && d.column <= raw.chars().count() + 1,
        "column {} outside line {} ({} characters): {d}",
        d.column,
        d.line,
        raw.chars().count()
    );
}

/// The bundled topologies a scenario may name, by file name.
pub const TOPOLOGIES: &[(&str, &str)] = &[
    (
        "eu-us-payments.toml",
        include_str!("../../topologies/eu-us-payments.toml"),
    ),
    (
        "apac-legacy-checkout.toml",
        include_str!("../../topologies/apac-legacy-checkout.toml"),
    ),
];

/// The bundled topology a scenario text names in `topology = "..."` (by
/// its file name anywhere in the text), else the first one.
pub fn topology_for(scenario: &str) -> (&'static str, &'static str) {
    TOPOLOGIES
        .iter()
        .copied()
        .find(|(name, _)| scenario.contains(name))
        .unwrap_or(TOPOLOGIES[0])
}

/// The line that splits a `pair` input into its topology and scenario.
pub const PAIR_SEPARATOR: &str = "\n# ---- scenario ----\n";
