//! An OTLP/JSON trace file (one document, or one per line), read by
//! `calibrate::read_texts`: every diagnostic must be located in the text
//! (or be a counted warning without a line). When the text holds customer
//! requests, the whole calibration runs on it — inference, then writing
//! the topology and starter scenario (service times as percentiles, so no
//! CSV) — and what it writes must load without an error: calibrate never
//! writes a file that `validate` refuses.
#![no_main]

use std::path::Path;

use chaoscal::calibrate::emit::{self, EmitOptions};
use chaoscal::calibrate::infer::{self, InferOptions, ServiceTimeForm};
use chaoscal::calibrate::{ReadOptions, read_texts};
use chaoscal::input::{Diagnostic, scenario_from_str};
use chaoscal_fuzz::{Text, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("traces/fuzz.jsonl");
    let (read, diags) = read_texts(&[(path, text)], &ReadOptions::default());
    let diags = whole_lines(text, diags);
    let result = if diags.iter().any(|d| d.is_error()) {
        Err(diags)
    } else {
        Ok(((), diags))
    };
    check(&[Text { path, text }], &result);
    if read.tally.requests == 0 {
        return;
    }
    let model = infer::infer(
        &read.tally,
        &read.names,
        &InferOptions {
            service_time: ServiceTimeForm::Percentiles,
        },
    );
    // No flow with an entry service: `calibrate` stops there (exit 2).
    if model.flows.is_empty() {
        return;
    }
    let written = emit::write(
        &model,
        &EmitOptions {
            name: "fuzz".into(),
            data_dir: "fuzz-service-times".into(),
            topology_ref: "../topologies/fuzz.toml".into(),
            report_ref: "results/fuzz-calibration/calibration.md".into(),
            source: "fuzz".into(),
            warmup_s: 60.0,
            seed: 1,
        },
    );
    let loaded = scenario_from_str(
        Path::new("topologies/fuzz.toml"),
        &written.topology,
        Path::new("scenarios/fuzz.toml"),
        &written.scenario,
    );
    if let Err(diags) = &loaded {
        let shown: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        panic!(
            "calibrate wrote files that do not load:\n{}\n--- topology ---\n{}\n--- scenario ---\n{}",
            shown.join("\n"),
            written.topology,
            written.scenario
        );
    }
});

/// A diagnostic on a line longer than `SHOWN_LINE_CHARS` shows `…` and the
/// characters just before its column, not the whole line: checks that the
/// window is exactly that, then gives the diagnostic its whole line for
/// the shared check.
fn whole_lines(text: &str, diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let lines: Vec<&str> = text.split('\n').collect();
    diags
        .into_iter()
        .map(|mut d| {
            let raw = d.line.checked_sub(1).and_then(|i| lines.get(i));
            // A line that itself begins with `…` and is shown whole is not shortened.
            let whole = raw.is_some_and(|r| r.trim_end_matches('\r') == d.line_text);
            if let (Some(window), Some(raw), false) = (d.line_text.strip_prefix('…'), raw, whole) {
                let raw = raw.trim_end_matches('\r');
                let before: String = raw.chars().take(d.column.saturating_sub(1)).collect();
                assert!(
                    before.ends_with(window),
                    "the shortened line is not the text before the column: {d}"
                );
                d.line_text = raw.to_string();
            }
            d
        })
        .collect()
}
