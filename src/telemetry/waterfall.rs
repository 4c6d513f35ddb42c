//! The two requests the report draws as trace waterfalls — one failed
//! request (preferably one whose path met a fault) and the slowest
//! successful one among the traces kept — saved as `waterfalls.json` in the
//! results folder, from which `present` draws them as a trace viewer would.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Names;
use crate::observe::telemetry::{EventWhat, NO_SPAN, SpanKind, SpanWhat, Trace};

/// The file in the results folder.
pub const FILE: &str = "waterfalls.json";

/// `waterfalls.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Waterfalls {
    pub failed: Option<Waterfall>,
    pub slowest: Option<Waterfall>,
}

/// One request's spans, one row each, as a trace viewer lists them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Waterfall {
    pub trace_id: String,
    pub flow: String,
    pub duration_ms: f64,
    pub failed: bool,
    pub rows: Vec<Row>,
}

/// One span: where it ran, when (ms from the request's start), how it ended.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub service: String,
    pub region: String,
    pub name: String,
    pub kind: String,
    pub depth: u32,
    pub start_ms: f64,
    pub end_ms: f64,
    /// `error.type` when it failed.
    pub error: Option<String>,
    /// Faults met, with when.
    pub faults: Vec<Mark>,
}

/// A fault event on a span.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Mark {
    pub at_ms: f64,
    pub fault: String,
}

impl Waterfalls {
    /// Writes `waterfalls.json` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::results::files::write(&dir.join(FILE), text + "\n")
    }
}

/// The candidates seen so far.
#[derive(Default)]
pub(super) struct Picks {
    failed: Option<Trace>,
    slowest: Option<Trace>,
}

fn duration(t: &Trace) -> u64 {
    t.root().map_or(0, |r| r.end_ns - r.start_ns)
}

impl Picks {
    /// A kept trace: the first failed one (the first that met a fault, once
    /// one does) and the slowest successful one (the first, on a tie).
    pub fn offer(&mut self, t: &Trace) {
        let Some(root) = t.root() else { return };
        if !matches!(root.what, SpanWhat::Request { .. }) {
            return;
        }
        if root.cause.failed() {
            let faulty = |t: &Trace| t.events.iter().any(|e| matches!(e.what, EventWhat::Fault(_)));
            if self.failed.as_ref().is_none_or(|f| !faulty(f) && faulty(t)) {
                self.failed = Some(t.clone());
            }
        } else if self.slowest.as_ref().is_none_or(|s| duration(t) > duration(s)) {
            self.slowest = Some(t.clone());
        }
    }

    pub fn waterfalls(&self, names: &Names) -> Option<Waterfalls> {
        if self.failed.is_none() && self.slowest.is_none() {
            return None;
        }
        Some(Waterfalls {
            failed: self.failed.as_ref().map(|t| waterfall(t, names)),
            slowest: self.slowest.as_ref().map(|t| waterfall(t, names)),
        })
    }
}

/// The spans of a trace in tree order (depth first, children by start).
fn waterfall(t: &Trace, names: &Names) -> Waterfall {
    let root = &t.spans[0];
    let ms = |ns: u64| (ns.saturating_sub(root.start_ns)) as f64 / 1e6;
    let mut rows = Vec::new();
    let mut stack: Vec<(usize, u32)> = vec![(0, 0)];
    while let Some((i, depth)) = stack.pop() {
        let s = &t.spans[i];
        let flow = match root.what {
            SpanWhat::Request { flow } => names.flow(flow),
            _ => "",
        };
        let name = match s.what {
            SpanWhat::Request { .. } | SpanWhat::Serve => format!("POST /{flow}"),
            SpanWhat::Try {
                target,
                attempt,
                fallback,
            } => {
                let mut n = format!("→ {}", names.service(target));
                if attempt > 0 {
                    n += &format!(" (retry {attempt})");
                }
                if fallback {
                    n += " (fallback)";
                }
                n
            }
            SpanWhat::Queue => "queue wait".to_string(),
            SpanWhat::Publish { queue } => format!("send {}", names.queue(queue).0),
            SpanWhat::Guardrail { .. } | SpanWhat::RolloutStep { .. } => String::new(),
        };
        let kind = match s.kind {
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
        };
        let faults = t
            .events
            .iter()
            .filter(|e| e.span as usize == i)
            .filter_map(|e| match e.what {
                EventWhat::Fault(f) => Some(Mark {
                    at_ms: ms(e.time_ns),
                    fault: names.fault(f).0.to_string(),
                }),
                _ => None,
            })
            .collect();
        rows.push(Row {
            service: names.service(s.place.service).to_string(),
            region: names.region(s.place.region).to_string(),
            name,
            kind: kind.to_string(),
            depth,
            start_ms: ms(s.start_ns),
            end_ms: ms(s.end_ns),
            error: s.cause.error_type().map(str::to_string),
            faults,
        });
        let children: Vec<usize> = (0..t.spans.len())
            .filter(|&c| t.spans[c].parent == i as u32 && t.spans[c].parent != NO_SPAN)
            .collect();
        for &c in children.iter().rev() {
            stack.push((c, depth + 1));
        }
    }
    Waterfall {
        trace_id: format!("{:032x}", t.id),
        flow: match root.what {
            SpanWhat::Request { flow } => names.flow(flow).to_string(),
            _ => String::new(),
        },
        duration_ms: ms(root.end_ns),
        failed: root.cause.failed(),
        rows,
    }
}
