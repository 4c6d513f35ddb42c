//! `chaoscal calibrate`: a topology (and a starter scenario and a fit
//! report) from OpenTelemetry traces of the real mesh, so a model starts
//! from what production did. The rules, and what traces cannot tell, are
//! in `docs/calibrate.md`.
//!
//! Calibration runs in stages:
//!
//! 1. **Read** ([`otlp`]): OTLP/JSON files, one document or one per line,
//!    streamed span by span into compact records; malformed lines and
//!    unusable spans are located and counted, never fatal.
//! 2. **Group** ([`spill`]): spans go to buckets by a hash of their trace
//!    id (files in a scratch folder when the input is large), then each
//!    bucket is read back and sorted, giving whole traces with memory
//!    bounded by one bucket.
//! 3. **Fold** (`traces.rs` → [`tally`]): each trace's spans are linked,
//!    its calls and retries grouped, and everything added to bounded
//!    tallies (histograms, counts, order-independent samples).
//! 4. **Infer** ([`infer`]): regions, network, flows, services, calls
//!    (stages, p, timeouts, retries, fallbacks), queues and load.
//! 5. **Write** ([`emit`]) the topology, its empirical CSVs and a starter
//!    scenario; they are loaded back through [`crate::input`].
//! 6. **Fit** ([`fit`]): the written files simulated at the observed load
//!    and compared with the traces, per flow and per service.
//!
//! [`read_texts`] runs stages 1–3 on texts in memory (fuzzing, tests).

pub mod cli;
pub mod emit;
pub mod fit;
pub mod infer;
pub mod otlp;
pub mod spill;
pub mod tally;
mod traces;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

pub use cli::{CalibrateArgs, cmd_calibrate};

use crate::input::{Diagnostic, Severity};
use otlp::{Counts, Located, Names, Problem, ReadCx, Span};
use spill::Buckets;
use tally::Tally;

/// The region of spans whose resource has no `cloud.region`.
pub const DEFAULT_REGION: &str = "default";
/// A trace with more spans is skipped (counted): real traces rarely hold
/// more, and one trace is held in memory whole.
pub const MAX_TRACE_SPANS: usize = 100_000;
/// The most trace files read in one calibration.
pub const MAX_FILES: usize = 10_000;

/// How traces are read.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// The span attribute naming a root span's flow (default: its name).
    pub flow_attribute: Option<String>,
    /// Where bucket files go when the input is large (default: the system's temporary folder).
    pub scratch: Option<PathBuf>,
    /// Force this many buckets (tests); default: from the input size.
    pub buckets: Option<usize>,
}

/// What the traces added up to, and what was wrong with them.
#[derive(Debug, Default)]
pub struct Read {
    pub tally: Tally,
    pub names: Names,
    pub counts: Counts,
    pub located: Vec<Located>,
    pub files: Vec<PathBuf>,
    pub input_bytes: u64,
    pub buckets: usize,
}

impl Read {
    pub fn spans(&self) -> u64 {
        self.tally.spans
    }

    /// Every problem, counted ones merged with those found assembling traces.
    pub fn all_counts(&self) -> Counts {
        let mut c = self.counts.clone();
        c.merge(&self.tally.counts);
        c
    }
}

/// Reads trace files (stages 1–3). I/O problems with a file are errors in
/// the returned diagnostics; the other files are still read.
pub fn read_files(paths: &[PathBuf], opts: &ReadOptions) -> (Read, Vec<Diagnostic>) {
    let mut read = Read::default();
    let mut diags = Vec::new();
    let files: Vec<PathBuf> = paths.iter().take(MAX_FILES).cloned().collect();
    if paths.len() > MAX_FILES {
        diags.push(Diagnostic::file_error(
            &paths[MAX_FILES],
            format!("more than {MAX_FILES} trace files: the rest are not read"),
        ));
    }
    read.input_bytes = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let scratch = opts.scratch.clone().unwrap_or_else(std::env::temp_dir);
    let buckets = match opts.buckets {
        Some(n) => Buckets::with_count(n, &scratch),
        None => Buckets::new(read.input_bytes, &scratch),
    };
    let mut buckets = match buckets {
        Ok(b) => b,
        Err(e) => {
            diags.push(Diagnostic::file_error(
                &scratch,
                format!("cannot write scratch files for grouping spans by trace: {e}; choose a folder with --scratch"),
            ));
            return (read, diags);
        }
    };
    read.buckets = buckets.count();
    let mut spill_error: Option<io::Error> = None;
    for (i, f) in files.iter().enumerate() {
        read.files.push(f.clone());
        let file = match File::open(f) {
            Ok(file) if f.is_dir() => {
                drop(file);
                diags.push(Diagnostic::file_error(
                    f,
                    "is a folder; expected an OTLP/JSON trace file",
                ));
                continue;
            }
            Ok(file) => file,
            Err(e) => {
                diags.push(Diagnostic::file_error(f, format!("cannot read: {e}")));
                continue;
            }
        };
        let mut sink = |s: Span| {
            if spill_error.is_none()
                && let Err(e) = buckets.push(s)
            {
                spill_error = Some(e);
            }
        };
        let mut cx = ReadCx {
            names: &mut read.names,
            counts: &mut read.counts,
            located: &mut read.located,
            flow_attribute: opts.flow_attribute.as_deref(),
            file: i as u16,
            sink: &mut sink,
            spans: 0,
        };
        if let Err(e) = otlp::read(BufReader::with_capacity(256 * 1024, file), &mut cx) {
            diags.push(Diagnostic::file_error(f, format!("cannot read: {e}")));
        }
    }
    if let Some(e) = spill_error {
        diags.push(Diagnostic::file_error(
            &scratch,
            format!("cannot write scratch files for grouping spans by trace: {e}; choose a folder with --scratch"),
        ));
        return (read, diags);
    }
    let tally = &mut read.tally;
    if let Err(e) = buckets.drain(|spans| fold_bucket(spans, tally)) {
        diags.push(Diagnostic::file_error(
            &scratch,
            format!("cannot read back scratch files: {e}"),
        ));
    }
    diags.extend(diagnostics(&read, &|i| LineSource::File(read.files[i].clone())));
    (read, diags)
}

/// Reads trace texts held in memory (stages 1–3), as [`read_files`] does files.
pub fn read_texts(texts: &[(&Path, &str)], opts: &ReadOptions) -> (Read, Vec<Diagnostic>) {
    let mut read = Read::default();
    let mut spans = Vec::new();
    for (i, (path, text)) in texts.iter().enumerate() {
        read.files.push(path.to_path_buf());
        read.input_bytes += text.len() as u64;
        let mut sink = |s: Span| spans.push(s);
        let mut cx = ReadCx {
            names: &mut read.names,
            counts: &mut read.counts,
            located: &mut read.located,
            flow_attribute: opts.flow_attribute.as_deref(),
            file: i as u16,
            sink: &mut sink,
            spans: 0,
        };
        otlp::read(io::Cursor::new(text.as_bytes()), &mut cx).expect("reading from memory cannot fail");
    }
    read.buckets = 1;
    spans.sort_unstable_by_key(|s| (s.trace, s.start_ns, s.id, s.end_ns, s.file, s.line, s.col, s.kind as u8));
    fold_bucket(&mut spans, &mut read.tally);
    let diags = diagnostics(&read, &|i| LineSource::Text(texts[i].1.to_string()));
    (read, diags)
}

fn fold_bucket(spans: &mut [Span], tally: &mut Tally) {
    for trace in spans.chunk_by(|a, b| a.trace == b.trace) {
        traces::fold(trace, tally);
    }
}

/// Where a file's lines are read from, to show them in diagnostics.
enum LineSource {
    File(PathBuf),
    Text(String),
}

/// Located errors (malformed JSON) and one counted warning per kind of
/// problem, at the first place it was met, with the line shown.
fn diagnostics(read: &Read, source: &dyn Fn(usize) -> LineSource) -> Vec<Diagnostic> {
    let counts = read.all_counts();
    let mut wanted: BTreeMap<u16, BTreeSet<u64>> = BTreeMap::new();
    for l in &read.located {
        wanted.entry(l.file).or_default().insert(l.pos.line);
    }
    for (_, at) in counts.counts.values() {
        if let Some((f, p)) = at {
            wanted.entry(*f).or_default().insert(p.line);
        }
    }
    let mut lines: BTreeMap<(u16, u64), String> = BTreeMap::new();
    for (&f, set) in &wanted {
        if (f as usize) < read.files.len() {
            for (n, text) in line_texts(source(f as usize), set) {
                lines.insert((f, n), text);
            }
        }
    }
    let make = |severity: Severity, file: u16, line: u64, col: u64, message: String| {
        let path = read.files.get(file as usize).cloned().unwrap_or_default();
        let full = lines.get(&(file, line)).cloned().unwrap_or_default();
        let (text, col) = shown(&full, col);
        Diagnostic {
            severity,
            file: path,
            line: line as usize,
            column: col,
            line_text: text,
            message,
        }
    };
    let mut out = Vec::new();
    for l in &read.located {
        let sev = if l.error { Severity::Error } else { Severity::Warning };
        out.push(make(sev, l.file, l.pos.line, l.pos.col, l.message.clone()));
    }
    for (&p, &(n, at)) in &counts.counts {
        // Malformed lines are shown one by one above.
        if p == Problem::MalformedLine && n as usize <= read.located.len() {
            continue;
        }
        let msg = p.describe(n);
        match at {
            Some((f, pos)) if pos.line > 0 => out.push(make(
                Severity::Warning,
                f,
                pos.line,
                pos.col,
                format!("{msg} (the first here)"),
            )),
            _ => out.push(Diagnostic {
                severity: Severity::Warning,
                file: read.files.first().cloned().unwrap_or_default(),
                line: 0,
                column: 0,
                line_text: String::new(),
                message: msg,
            }),
        }
    }
    out
}

/// The longest line shown whole in a diagnostic; longer ones show the
/// characters just before the column, so the caret still points at it.
pub const SHOWN_LINE_CHARS: usize = 1000;
const SHOWN_BEFORE: usize = 120;

fn shown(line: &str, col: u64) -> (String, usize) {
    let chars = line.chars().count();
    let col = (col as usize).clamp(1, chars + 1);
    if chars <= SHOWN_LINE_CHARS {
        return (line.to_string(), col);
    }
    let from = (col - 1).saturating_sub(SHOWN_BEFORE);
    let window: String = line.chars().skip(from).take(col - 1 - from).collect();
    (format!("…{window}"), col)
}

/// The texts of some lines (1-based) of a file, each cut after the bytes
/// a diagnostic can show, read in one streaming pass.
fn line_texts(source: LineSource, wanted: &BTreeSet<u64>) -> BTreeMap<u64, String> {
    const MAX_BYTES: usize = 1 << 20;
    let mut out = BTreeMap::new();
    let mut reader: Box<dyn BufRead> = match source {
        LineSource::File(p) => match File::open(p) {
            Ok(f) => Box::new(BufReader::with_capacity(256 * 1024, f)),
            Err(_) => return out,
        },
        LineSource::Text(t) => Box::new(io::Cursor::new(t.into_bytes())),
    };
    let Some(&last) = wanted.iter().next_back() else {
        return out;
    };
    let mut line = 1u64;
    let mut cur: Vec<u8> = Vec::new();
    let finish = |line: u64, cur: &mut Vec<u8>, out: &mut BTreeMap<u64, String>| {
        if wanted.contains(&line) {
            let text = String::from_utf8_lossy(cur);
            out.insert(line, text.trim_end_matches('\r').to_string());
        }
        cur.clear();
    };
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) if !b.is_empty() => b,
            _ => {
                finish(line, &mut cur, &mut out);
                return out;
            }
        };
        let (n, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if wanted.contains(&line) && cur.len() < MAX_BYTES {
            let take = (n - newline as usize).min(MAX_BYTES - cur.len());
            cur.extend_from_slice(&buf[..take]);
        }
        reader.consume(n);
        if newline {
            finish(line, &mut cur, &mut out);
            if line >= last {
                return out;
            }
            line += 1;
        }
    }
}

/// Files named on the command line: files as given, folders searched for
/// `.json` and `.jsonl` files (sorted).
pub fn collect_trace_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            let keep = |f: &Path| f.extension().is_some_and(|x| x == "json" || x == "jsonl");
            crate::input::walk_files(p, &keep, &mut found);
            found.sort();
            if found.is_empty() {
                diags.push(Diagnostic::file_error(p, "no .json or .jsonl files in this folder"));
            }
            files.extend(found);
        } else if !p.exists() {
            diags.push(Diagnostic::file_error(p, "no such file"));
        } else {
            files.push(p.clone());
        }
    }
    (files, diags)
}
