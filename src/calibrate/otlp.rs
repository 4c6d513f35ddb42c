//! Reading OTLP/JSON trace files, streamed: every span is turned into a
//! compact [`Span`] record and handed to a sink as soon as it is read, so
//! memory does not grow with the file.
//!
//! Two layouts are read, and told apart by the first non-blank line:
//!
//! * **one document per line** (the Collector's `file` exporter, JSONL):
//!   the first line holds a whole JSON value. Each line is parsed on its
//!   own; a malformed line is reported (located) and skipped, and the next
//!   line is read.
//! * **one document** (`{"resourceSpans": …}`, pretty-printed or not), or
//!   several concatenated: the first line does not hold a whole value. The
//!   file is parsed as one stream; a syntax error ends the file (located).
//!
//! The JSON is the proto3 JSON mapping of `TracesData` with OTLP's
//! deviations: ids are hex, 64-bit integers are decimal strings (numbers
//! accepted), enums are integers (the proto names are accepted too),
//! unknown fields are ignored. What is read of a span: ids, kind, times,
//! status, and the attributes `error.type`, `http.request.resend_count`,
//! `messaging.destination.name`, `peer.service`, `server.address` (and the
//! flow attribute when one is asked for); of its resource: `service.name`,
//! `cloud.region`, `service.instance.id`.
//!
//! A span that cannot be used (bad ids, times that do not parse or end
//! before they start) is skipped and counted; each kind of problem becomes
//! one warning with its count and where it was first met.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, Read, Seek};
use std::rc::Rc;

use serde::Deserialize as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Span kinds (OTLP `Span.SpanKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

impl Kind {
    pub fn from_u8(v: u8) -> Kind {
        match v {
            2 => Kind::Server,
            3 => Kind::Client,
            4 => Kind::Producer,
            5 => Kind::Consumer,
            0 => Kind::Unspecified,
            _ => Kind::Internal,
        }
    }

    /// Work done at a service for a caller: a SERVER or CONSUMER span.
    pub fn is_server(self) -> bool {
        matches!(self, Kind::Server | Kind::Consumer)
    }

    /// An outgoing call: a CLIENT or PRODUCER span.
    pub fn is_client(self) -> bool {
        matches!(self, Kind::Client | Kind::Producer)
    }
}

/// A span longer than this (a day) is skipped (counted): it is not a
/// request's work, and the values calibrate writes stay within a day.
pub const MAX_SPAN_NS: u64 = 86_400 * 1_000_000_000;

/// No name (an index into [`Names`]).
pub const NO_NAME: u32 = u32::MAX;

/// One span, as much of it as calibration uses; strings are interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub trace: u128,
    pub id: u64,
    /// 0: a root span.
    pub parent: u64,
    pub start_ns: u64,
    pub end_ns: u64,
    pub service: u32,
    pub region: u32,
    pub instance: u32,
    /// The flow of a root span (its name, or the flow attribute); else [`NO_NAME`].
    pub flow: u32,
    /// Where an outgoing call goes when no server span answers it:
    /// `messaging.destination.name`, else `peer.service`, else `server.address`.
    pub peer: u32,
    pub kind: Kind,
    /// status.code = ERROR.
    pub error: bool,
    /// `error.type` = `timeout`.
    pub timeout: bool,
    /// `http.request.resend_count` (0 for a first try).
    pub resend: u16,
    /// Where the span was read: file index, line and column (1-based).
    pub file: u16,
    pub line: u32,
    pub col: u32,
}

impl Span {
    pub fn duration_ns(&self) -> u64 {
        self.end_ns - self.start_ns
    }
}

/// The most distinct strings kept (services, regions, instances, flows,
/// peers); beyond, a new string is read as [`OVERFLOW_NAME`] (warned once).
pub const MAX_NAMES: usize = 200_000;
/// The longest string kept; longer ones are cut (at a character boundary).
pub const MAX_NAME_BYTES: usize = 256;
pub const OVERFLOW_NAME: &str = "(too many distinct names)";

/// Interned strings: memory bounded by the number of distinct names
/// (capped), not by the number of spans.
#[derive(Clone, Debug, Default)]
pub struct Names {
    list: Vec<String>,
    index: BTreeMap<String, u32>,
    pub overflowed: bool,
}

impl Names {
    pub fn intern(&mut self, s: &str) -> u32 {
        let s = cut(s, MAX_NAME_BYTES);
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let s = if self.list.len() >= MAX_NAMES {
            self.overflowed = true;
            if let Some(&i) = self.index.get(OVERFLOW_NAME) {
                return i;
            }
            OVERFLOW_NAME
        } else {
            s
        };
        let i = self.list.len() as u32;
        self.list.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }

    pub fn get(&self, i: u32) -> &str {
        self.list.get(i as usize).map(String::as_str).unwrap_or("")
    }

    pub fn lookup(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What can be wrong with a span or a file that does not stop the reading;
/// each becomes one counted warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    MalformedLine,
    NotTraces,
    BadTraceId,
    BadSpanId,
    BadParentId,
    BadTime,
    EndsBeforeStart,
    TooLong,
    UnknownKind,
    NoServiceName,
    NoRegion,
    NoInstance,
    TooManyNames,
    // Found when traces are assembled (see `traces.rs`).
    Orphan,
    ClockSkew,
    DuplicateSpanId,
    Unreachable,
    TraceTooLarge,
    NoRoot,
}

impl Problem {
    /// The warning's text, given how many times it was met.
    pub fn describe(self, n: u64) -> String {
        let s = if n == 1 { "" } else { "s" };
        match self {
            Problem::MalformedLine => format!("{n} malformed line{s} skipped"),
            Problem::NotTraces => format!(
                "{n} JSON document{s} without `resourceSpans` (not OTLP/JSON traces; Jaeger's own format is not read)"
            ),
            Problem::BadTraceId => format!("{n} span{s} skipped: `traceId` is not 32 hex digits (or is all zero)"),
            Problem::BadSpanId => format!("{n} span{s} skipped: `spanId` is not 16 hex digits (or is all zero)"),
            Problem::BadParentId => format!("{n} span{s} skipped: `parentSpanId` is neither empty nor 16 hex digits"),
            Problem::BadTime => format!(
                "{n} span{s} skipped: `startTimeUnixNano`/`endTimeUnixNano` missing or not a whole number of nanoseconds"
            ),
            Problem::EndsBeforeStart => format!("{n} span{s} skipped: it ends before it starts"),
            Problem::TooLong => format!("{n} span{s} skipped: longer than a day (not a request's work)"),
            Problem::UnknownKind => format!(
                "{n} span{s} with an unknown `kind` (expected 0-5: UNSPECIFIED, INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER), read as INTERNAL"
            ),
            Problem::NoServiceName => {
                format!("{n} span{s} whose resource has no `service.name`, read as service \"unknown_service\"")
            }
            Problem::NoRegion => format!(
                "{n} span{s} whose resource has no `cloud.region`, read as region \"{}\"",
                super::DEFAULT_REGION
            ),
            Problem::NoInstance => {
                format!("{n} span{s} whose resource has no `service.instance.id`: replicas are not counted for them")
            }
            Problem::TooManyNames => format!(
                "more than {MAX_NAMES} distinct names (services, instances, flows, peers): {n} span{s} got \"{OVERFLOW_NAME}\""
            ),
            Problem::Orphan => format!(
                "{n} span{s} whose parent is not in the files: each starts a fragment used for service times, calls and network, not for flows"
            ),
            Problem::ClockSkew => format!(
                "{n} span{s} starting before their parent (clock skew): network latency is corrected per link, own work uses one host's clock"
            ),
            Problem::DuplicateSpanId => {
                format!("{n} span{s} skipped: a span with the same `spanId` is already in the trace")
            }
            Problem::Unreachable => {
                format!("{n} span{s} skipped: not reachable from a root (their parents form a cycle)")
            }
            Problem::TraceTooLarge => format!(
                "{n} span{s} skipped: their trace has more than {} spans",
                super::MAX_TRACE_SPANS
            ),
            Problem::NoRoot => format!("{n} trace{s} without a root span (only fragments)"),
        }
    }
}

/// A position in a file: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u64,
    pub col: u64,
    /// Byte offset of the line's first byte.
    pub line_start: u64,
    pub offset: u64,
}

/// A problem met while reading, located in a file (by index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub file: u16,
    pub pos: Pos,
    pub message: String,
    pub error: bool,
}

/// Counted problems: how many, and where each kind was first met.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub counts: BTreeMap<Problem, (u64, Option<(u16, Pos)>)>,
}

impl Counts {
    pub fn add(&mut self, p: Problem, at: Option<(u16, Pos)>) {
        let e = self.counts.entry(p).or_insert((0, at));
        e.0 += 1;
        if e.1.is_none() {
            e.1 = at;
        }
    }

    pub fn get(&self, p: Problem) -> u64 {
        self.counts.get(&p).map(|c| c.0).unwrap_or(0)
    }

    pub fn merge(&mut self, o: &Counts) {
        for (&p, &(n, at)) in &o.counts {
            let e = self.counts.entry(p).or_insert((0, at));
            e.0 += n;
            if e.1.is_none() {
                e.1 = at;
            }
        }
    }
}

/// What the reader is asked to do and where it reports.
pub struct ReadCx<'a> {
    pub names: &'a mut Names,
    pub counts: &'a mut Counts,
    /// Located errors (malformed JSON), at most [`MAX_LOCATED`] per file.
    pub located: &'a mut Vec<Located>,
    /// The span attribute naming a root span's flow (default: the span's name).
    pub flow_attribute: Option<&'a str>,
    pub file: u16,
    pub sink: &'a mut dyn FnMut(Span),
    /// Spans read (handed to the sink).
    pub spans: u64,
}

/// The most located errors kept per file; the rest are only counted.
pub const MAX_LOCATED: usize = 20;

/// Reads one file's text (JSONL or one document); see the module docs.
/// Errors are I/O errors only: malformed content is reported through `cx`.
pub fn read<R: BufRead + Seek>(input: R, cx: &mut ReadCx<'_>) -> io::Result<()> {
    let pos = Rc::new(Cell::new(Pos {
        line: 1,
        col: 1,
        ..Pos::default()
    }));
    let mut tracked = Tracked {
        inner: input,
        pos: pos.clone(),
        line_mode: true,
        at_newline: false,
    };
    let layout = detect(&mut tracked)?;
    tracked.inner.rewind()?;
    tracked.pos.set(Pos {
        line: 1,
        col: 1,
        ..Pos::default()
    });
    tracked.at_newline = false;
    match layout {
        Layout::Empty => Ok(()),
        Layout::Lines => read_lines(&mut tracked, cx),
        Layout::Document => {
            tracked.line_mode = false;
            read_document(&mut tracked, cx)
        }
    }
}

enum Layout {
    Empty,
    Lines,
    Document,
}

/// One document per line, or one document: does the first non-blank line
/// hold a whole JSON value?
fn detect<R: BufRead>(t: &mut Tracked<R>) -> io::Result<Layout> {
    loop {
        if t.at_eof()? {
            return Ok(Layout::Empty);
        }
        if t.skip_blank_line()? {
            continue;
        }
        let mut de = serde_json::Deserializer::from_reader(&mut *t);
        let r = IgnoredAny::deserialize(&mut de).and_then(|_| de.end());
        return Ok(match r {
            Err(e) if e.classify() == serde_json::error::Category::Eof => Layout::Document,
            Err(e) if e.is_io() => return Err(io::Error::other(e)),
            _ => Layout::Lines,
        });
    }
}

fn read_lines<R: BufRead>(t: &mut Tracked<R>, cx: &mut ReadCx<'_>) -> io::Result<()> {
    loop {
        t.at_newline = false;
        if t.at_eof()? {
            return Ok(());
        }
        if t.skip_blank_line()? {
            continue;
        }
        let line_pos = t.pos.get();
        let pos = t.pos.clone();
        let result = {
            let mut de = serde_json::Deserializer::from_reader(&mut *t);
            DocSeed { cx, pos: &pos }.deserialize(&mut de).and_then(|_| de.end())
        };
        if let Err(e) = result {
            if e.is_io() {
                return Err(io::Error::other(e));
            }
            let mut at = t.pos.get();
            if at.line != line_pos.line {
                at = line_pos;
            }
            malformed(
                cx,
                at,
                &e,
                "one OTLP/JSON document ({\"resourceSpans\": [...]}) per line",
            );
            t.drain_line()?;
        }
    }
}

fn read_document<R: BufRead>(t: &mut Tracked<R>, cx: &mut ReadCx<'_>) -> io::Result<()> {
    let pos = t.pos.clone();
    let mut de = serde_json::Deserializer::from_reader(&mut *t);
    loop {
        let r = DocSeed { cx, pos: &pos }.deserialize(&mut de);
        if let Err(e) = r {
            if e.is_io() {
                return Err(io::Error::other(e));
            }
            malformed(cx, pos.get(), &e, "an OTLP/JSON document: {\"resourceSpans\": [...]}");
            return Ok(());
        }
        // More documents may follow (concatenated JSON values).
        if de.end().is_ok() {
            return Ok(());
        }
    }
}

fn malformed(cx: &mut ReadCx<'_>, at: Pos, e: &serde_json::Error, expected: &str) {
    cx.counts.add(Problem::MalformedLine, Some((cx.file, at)));
    let mut msg = e.to_string();
    if let Some(i) = msg.find(" at line ") {
        msg.truncate(i);
    }
    let what = match e.classify() {
        serde_json::error::Category::Eof => "the JSON ends too early",
        serde_json::error::Category::Syntax => "malformed JSON",
        _ => "unexpected JSON",
    };
    if cx.located.iter().filter(|l| l.file == cx.file).count() < MAX_LOCATED {
        cx.located.push(Located {
            file: cx.file,
            pos: at,
            message: format!("{what} ({msg}); expected {expected}"),
            error: true,
        });
    }
}

/// A reader that keeps the position of the next byte, and in line mode
/// ends (reads as EOF) at the end of each line.
struct Tracked<R> {
    inner: R,
    pos: Rc<Cell<Pos>>,
    line_mode: bool,
    /// In line mode: the line's newline has been read.
    at_newline: bool,
}

impl<R: BufRead> Tracked<R> {
    fn advance(&mut self, bytes: &[u8]) {
        advance(&self.pos, bytes);
    }

    fn at_eof(&mut self) -> io::Result<bool> {
        Ok(self.inner.fill_buf()?.is_empty())
    }

    /// Skips spaces, tabs and CRs; when the line ends there (or the file
    /// does) consumes its newline and says so.
    fn skip_blank_line(&mut self) -> io::Result<bool> {
        loop {
            let buf = self.inner.fill_buf()?;
            let Some(&b) = buf.first() else {
                return Ok(true);
            };
            match b {
                b' ' | b'\t' | b'\r' => {
                    self.inner.consume(1);
                    self.advance(&[b]);
                }
                b'\n' => {
                    self.inner.consume(1);
                    self.advance(&[b]);
                    return Ok(true);
                }
                _ => return Ok(false),
            }
        }
    }

    /// Reads to the end of the current line (its newline is left, to be skipped).
    fn drain_line(&mut self) -> io::Result<()> {
        while !self.at_newline {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            let n = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.at_newline = true;
                    i
                }
                None => buf.len(),
            };
            advance(&self.pos, &buf[..n]);
            self.inner.consume(n);
        }
        Ok(())
    }
}

/// Moves a position over bytes read.
fn advance(pos: &Cell<Pos>, bytes: &[u8]) {
    let mut p = pos.get();
    for &b in bytes {
        p.offset += 1;
        if b == b'\n' {
            p.line += 1;
            p.col = 1;
            p.line_start = p.offset;
        } else if b & 0xC0 != 0x80 {
            p.col += 1;
        }
    }
    pos.set(p);
}

impl<R: BufRead> Read for Tracked<R> {
    /// In line mode the newline is not handed to the parser (a line cut
    /// short then reads as "ends too early"); it stays to be skipped.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.line_mode && self.at_newline {
            return Ok(0);
        }
        let buf = self.inner.fill_buf()?;
        let mut n = buf.len().min(out.len());
        if self.line_mode
            && let Some(i) = buf[..n].iter().position(|&b| b == b'\n')
        {
            n = i;
            self.at_newline = true;
        }
        out[..n].copy_from_slice(&buf[..n]);
        self.inner.consume(n);
        advance(&self.pos, &out[..n]);
        Ok(n)
    }
}

// ---------------------------------------------------------------- the document

struct DocSeed<'c, 'a> {
    cx: &'c mut ReadCx<'a>,
    pos: &'c Rc<Cell<Pos>>,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an OTLP/JSON document (an object with `resourceSpans`)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let start = self.pos.get();
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "resourceSpans" {
                seen = true;
                map.next_value_seed(ListSeed(ResourceSeed {
                    cx: &mut *self.cx,
                    pos: self.pos,
                }))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !seen {
            self.cx.counts.add(Problem::NotTraces, Some((self.cx.file, start)));
        }
        Ok(())
    }
}

/// A JSON array whose elements are read by a seed, one by one (`null`: none).
struct ListSeed<S>(S);

impl<'de, S> DeserializeSeed<'de> for ListSeed<S>
where
    S: ElementSeed,
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: ElementSeed> Visitor<'de> for ListSeed<S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of {}", S::WHAT)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self.0.element())?.is_some() {}
        self.0.finish();
        Ok(())
    }
}

/// A seed that reads each element of an array.
trait ElementSeed {
    const WHAT: &'static str;
    type Element<'s>: for<'de> DeserializeSeed<'de, Value = ()>
    where
        Self: 's;
    fn element(&mut self) -> Self::Element<'_>;
    fn finish(&mut self) {}
}

/// The resource a span was recorded by.
#[derive(Clone, Copy, Debug)]
struct Resource {
    service: u32,
    region: u32,
    instance: u32,
    missing_service: bool,
    missing_region: bool,
    missing_instance: bool,
}

struct ResourceSeed<'c, 'a> {
    cx: &'c mut ReadCx<'a>,
    pos: &'c Rc<Cell<Pos>>,
}

impl<'a> ElementSeed for ResourceSeed<'_, 'a> {
    const WHAT: &'static str = "ResourceSpans";
    type Element<'s>
        = ResourceSpansSeed<'s, 'a>
    where
        Self: 's;
    fn element(&mut self) -> ResourceSpansSeed<'_, 'a> {
        ResourceSpansSeed {
            cx: &mut *self.cx,
            pos: self.pos,
        }
    }
}

/// The most spans of one ResourceSpans held while its `resource` is not
/// yet read (it came after `scopeSpans`): beyond, the spans are dropped.
pub const MAX_PENDING_SPANS: usize = 1_000_000;

struct ResourceSpansSeed<'c, 'a> {
    cx: &'c mut ReadCx<'a>,
    pos: &'c Rc<Cell<Pos>>,
}

impl<'de> DeserializeSeed<'de> for ResourceSpansSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResourceSpansSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a ResourceSpans object ({\"resource\": ..., \"scopeSpans\": [...]})")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut resource: Option<Resource> = None;
        // Spans read before the resource (when `resource` comes last).
        let mut pending: Vec<(Span, SpanFacts)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "resource" => {
                    let v: Value = map.next_value()?;
                    resource = Some(read_resource(&v, self.cx.names));
                }
                "scopeSpans" | "instrumentationLibrarySpans" => {
                    map.next_value_seed(ListSeed(ScopeSeed {
                        cx: &mut *self.cx,
                        pos: self.pos,
                        resource,
                        pending: &mut pending,
                    }))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !pending.is_empty() {
            let r = resource.unwrap_or_else(|| read_resource(&Value::Null, self.cx.names));
            for (span, facts) in pending {
                emit(self.cx, span, facts, &r);
            }
        }
        Ok(())
    }
}

fn read_resource(v: &Value, names: &mut Names) -> Resource {
    let attrs = v.get("attributes");
    let service = attr_str(attrs, "service.name");
    let region = attr_str(attrs, "cloud.region");
    let instance = attr_str(attrs, "service.instance.id");
    Resource {
        service: names.intern(service.filter(|s| !s.is_empty()).unwrap_or("unknown_service")),
        region: names.intern(region.filter(|s| !s.is_empty()).unwrap_or(super::DEFAULT_REGION)),
        instance: instance
            .filter(|s| !s.is_empty())
            .map(|s| names.intern(s))
            .unwrap_or(NO_NAME),
        missing_service: service.is_none_or(str::is_empty),
        missing_region: region.is_none_or(str::is_empty),
        missing_instance: instance.is_none_or(str::is_empty),
    }
}

struct ScopeSeed<'c, 'a> {
    cx: &'c mut ReadCx<'a>,
    pos: &'c Rc<Cell<Pos>>,
    resource: Option<Resource>,
    pending: &'c mut Vec<(Span, SpanFacts)>,
}

impl<'a> ElementSeed for ScopeSeed<'_, 'a> {
    const WHAT: &'static str = "ScopeSpans";
    type Element<'s>
        = ScopeSpansSeed<'s, 'a>
    where
        Self: 's;
    fn element(&mut self) -> ScopeSpansSeed<'_, 'a> {
        ScopeSpansSeed {
            cx: &mut *self.cx,
            pos: self.pos,
            resource: self.resource,
            pending: &mut *self.pending,
        }
    }
}

struct ScopeSpansSeed<'c, 'a> {
    cx: &'c mut ReadCx<'a>,
    pos: &'c Rc<Cell<Pos>>,
    resource: Option<Resource>,
    pending: &'c mut Vec<(Span, SpanFacts)>,
}

impl<'de> DeserializeSeed<'de> for ScopeSpansSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScopeSpansSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a ScopeSpans object ({\"scope\": ..., \"spans\": [...]})")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "spans" {
                map.next_value_seed(ListSeed(SpanListSeed {
                    cx: &mut *self.cx,
                    pos: self.pos,
                    resource: self.resource,
                    pending: &mut *self.pending,
                }))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct SpanListSeed<'c, 'a> {
    cx: &'c mut ReadCx<'a>,
    pos: &'c Rc<Cell<Pos>>,
    resource: Option<Resource>,
    pending: &'c mut Vec<(Span, SpanFacts)>,
}

impl<'a> ElementSeed for SpanListSeed<'_, 'a> {
    const WHAT: &'static str = "spans";
    type Element<'s>
        = SpanSeed<'s, 'a>
    where
        Self: 's;
    fn element(&mut self) -> SpanSeed<'_, 'a> {
        SpanSeed {
            cx: &mut *self.cx,
            pos: self.pos,
            resource: self.resource,
            pending: &mut *self.pending,
        }
    }
}

struct SpanSeed<'c, 'a> {
    cx: &'c mut ReadCx<'a>,
    pos: &'c Rc<Cell<Pos>>,
    resource: Option<Resource>,
    pending: &'c mut Vec<(Span, SpanFacts)>,
}

impl<'de> DeserializeSeed<'de> for SpanSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// What a span's fields were, before its resource is known.
#[derive(Clone, Copy, Debug)]
struct SpanFacts {
    problem: Option<Problem>,
    unknown_kind: bool,
    at: Pos,
}

impl<'de> Visitor<'de> for SpanSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a span object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut at = self.pos.get();
        // The parser has read one byte past the `{`.
        at.col = at.col.saturating_sub(1).max(1);
        let mut raw = RawSpan::default();
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "traceId" => &mut raw.trace_id,
                "spanId" => &mut raw.span_id,
                "parentSpanId" => &mut raw.parent_span_id,
                "name" => &mut raw.name,
                "kind" => &mut raw.kind,
                "startTimeUnixNano" => &mut raw.start,
                "endTimeUnixNano" => &mut raw.end,
                "attributes" => &mut raw.attributes,
                "status" => &mut raw.status,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value()?;
        }
        let (span, facts) = raw.to_span(self.cx, at);
        match self.resource {
            Some(r) => emit(self.cx, span, facts, &r),
            None if self.pending.len() < MAX_PENDING_SPANS => self.pending.push((span, facts)),
            None => self.cx.counts.add(Problem::TraceTooLarge, Some((self.cx.file, at))),
        }
        Ok(())
    }
}

/// Hands a span to the sink (or counts why it cannot be used).
fn emit(cx: &mut ReadCx<'_>, mut span: Span, facts: SpanFacts, r: &Resource) {
    let at = Some((cx.file, facts.at));
    if let Some(p) = facts.problem {
        cx.counts.add(p, at);
        return;
    }
    if facts.unknown_kind {
        cx.counts.add(Problem::UnknownKind, at);
    }
    if r.missing_service {
        cx.counts.add(Problem::NoServiceName, at);
    }
    if r.missing_region {
        cx.counts.add(Problem::NoRegion, at);
    }
    if r.missing_instance {
        cx.counts.add(Problem::NoInstance, at);
    }
    span.service = r.service;
    span.region = r.region;
    span.instance = r.instance;
    if cx.names.overflowed {
        cx.counts.add(Problem::TooManyNames, at);
        cx.names.overflowed = false;
    }
    cx.spans += 1;
    (cx.sink)(span);
}

#[derive(Default)]
struct RawSpan {
    trace_id: Value,
    span_id: Value,
    parent_span_id: Value,
    name: Value,
    kind: Value,
    start: Value,
    end: Value,
    attributes: Value,
    status: Value,
}

impl RawSpan {
    fn to_span(&self, cx: &mut ReadCx<'_>, at: Pos) -> (Span, SpanFacts) {
        let mut facts = SpanFacts {
            problem: None,
            unknown_kind: false,
            at,
        };
        let trace = hex_id(&self.trace_id, 32).unwrap_or(0);
        let id = hex_id(&self.span_id, 16).unwrap_or(0) as u64;
        let parent = match &self.parent_span_id {
            Value::Null => Some(0),
            Value::String(s) if s.is_empty() => Some(0),
            v => hex_id(v, 16).map(|p| p as u64),
        };
        let start = nanos(&self.start);
        let end = nanos(&self.end);
        let (kind, unknown) = kind(&self.kind);
        facts.unknown_kind = unknown;
        facts.problem = if trace == 0 {
            Some(Problem::BadTraceId)
        } else if id == 0 {
            Some(Problem::BadSpanId)
        } else if parent.is_none() {
            Some(Problem::BadParentId)
        } else if start.is_none() || end.is_none() {
            Some(Problem::BadTime)
        } else if end < start {
            Some(Problem::EndsBeforeStart)
        } else if end.zip(start).is_some_and(|(e, s)| e - s > MAX_SPAN_NS) {
            Some(Problem::TooLong)
        } else {
            None
        };
        let parent = parent.unwrap_or(0);
        let attrs = Some(&self.attributes);
        let error_type = attr_str(attrs, "error.type");
        let code = self.status.get("code");
        let error = match code {
            Some(Value::Number(n)) => n.as_u64() == Some(2),
            Some(Value::String(s)) => s == "2" || s == "STATUS_CODE_ERROR",
            _ => false,
        };
        let flow = if parent == 0 {
            let name = cx
                .flow_attribute
                .and_then(|k| attr_str(attrs, k))
                .or(self.name.as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or("(unnamed)");
            cx.names.intern(name)
        } else {
            NO_NAME
        };
        let peer = if kind.is_client() {
            ["messaging.destination.name", "peer.service", "server.address"]
                .iter()
                .find_map(|k| attr_str(attrs, k).filter(|s| !s.is_empty()))
                .map(|s| cx.names.intern(s))
                .unwrap_or(NO_NAME)
        } else if kind == Kind::Consumer {
            attr_str(attrs, "messaging.destination.name")
                .filter(|s| !s.is_empty())
                .map(|s| cx.names.intern(s))
                .unwrap_or(NO_NAME)
        } else {
            NO_NAME
        };
        let resend = attr_int(attrs, "http.request.resend_count")
            .map(|n| n.clamp(0, u16::MAX as i64) as u16)
            .unwrap_or(0);
        let span = Span {
            trace,
            id,
            parent,
            start_ns: start.unwrap_or(0),
            end_ns: end.unwrap_or(0).max(start.unwrap_or(0)),
            service: NO_NAME,
            region: NO_NAME,
            instance: NO_NAME,
            flow,
            peer,
            kind,
            error: error || error_type.is_some_and(|t| t == "timeout"),
            timeout: error_type.is_some_and(|t| t == "timeout"),
            resend,
            file: cx.file,
            line: at.line.min(u32::MAX as u64) as u32,
            col: at.col.min(u32::MAX as u64) as u32,
        };
        (span, facts)
    }
}

/// A hex id of `digits` digits (case-insensitive); `None` if malformed or all zero.
fn hex_id(v: &Value, digits: usize) -> Option<u128> {
    let s = v.as_str()?;
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok().filter(|&x| x != 0)
}

/// A uint64 of nanoseconds: a decimal string or a number.
fn nanos(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// The span kind: an integer (or its proto name); unknown ones are INTERNAL.
fn kind(v: &Value) -> (Kind, bool) {
    let n = match v {
        Value::Null => return (Kind::Unspecified, false),
        Value::Number(n) => n.as_u64(),
        Value::String(s) => match s.as_str() {
            "SPAN_KIND_UNSPECIFIED" => Some(0),
            "SPAN_KIND_INTERNAL" => Some(1),
            "SPAN_KIND_SERVER" => Some(2),
            "SPAN_KIND_CLIENT" => Some(3),
            "SPAN_KIND_PRODUCER" => Some(4),
            "SPAN_KIND_CONSUMER" => Some(5),
            s => s.parse().ok(),
        },
        _ => None,
    };
    match n {
        Some(k @ 0..=5) => (Kind::from_u8(k as u8), false),
        _ => (Kind::Internal, true),
    }
}

/// The attribute `key` in an OTLP attribute list, as a string value.
fn attr_str<'v>(attrs: Option<&'v Value>, key: &str) -> Option<&'v str> {
    attr(attrs, key)?.get("stringValue")?.as_str()
}

/// The attribute `key` as an integer (`intValue`, a decimal string or a number).
fn attr_int(attrs: Option<&Value>, key: &str) -> Option<i64> {
    match attr(attrs, key)?.get("intValue")? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn attr<'v>(attrs: Option<&'v Value>, key: &str) -> Option<&'v Value> {
    attrs?
        .as_array()?
        .iter()
        .find(|kv| kv.get("key").and_then(Value::as_str) == Some(key))?
        .get("value")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> (Vec<Span>, Names, Counts, Vec<Located>) {
        let mut names = Names::default();
        let mut counts = Counts::default();
        let mut located = Vec::new();
        let mut spans = Vec::new();
        let mut sink = |s: Span| spans.push(s);
        let mut cx = ReadCx {
            names: &mut names,
            counts: &mut counts,
            located: &mut located,
            flow_attribute: None,
            file: 0,
            sink: &mut sink,
            spans: 0,
        };
        read(io::Cursor::new(text.as_bytes()), &mut cx).expect("in-memory reads do not fail");
        (spans, names, counts, located)
    }

    const SPAN: &str = r#"{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"","name":"checkout","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","status":{"code":2}}"#;

    fn doc(spans: &str, resource_first: bool) -> String {
        let res = r#""resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}},{"key":"cloud.region","value":{"stringValue":"eu-west"}},{"key":"service.instance.id","value":{"stringValue":"api-0"}}]}"#;
        let scopes = format!(r#""scopeSpans":[{{"scope":{{"name":"x"}},"spans":[{spans}]}}]"#);
        if resource_first {
            format!(r#"{{"resourceSpans":[{{{res},{scopes}}}]}}"#)
        } else {
            format!(r#"{{"resourceSpans":[{{{scopes},{res}}}]}}"#)
        }
    }

    #[test]
    fn reads_a_span_with_its_resource_in_either_order() {
        // The resource may come before or after its spans; the span gets it either way.
        for first in [true, false] {
            let (spans, names, counts, located) = read_text(&doc(SPAN, first));
            assert!(located.is_empty() && counts.counts.is_empty(), "{located:?} {counts:?}");
            assert_eq!(spans.len(), 1);
            let s = spans[0];
            assert_eq!(s.trace, 0x5B8EFFF798038103D269B633813FC60C);
            assert_eq!(s.parent, 0);
            assert_eq!(s.duration_ns(), 1_000_000_000);
            assert_eq!(s.kind, Kind::Server);
            assert!(s.error && !s.timeout);
            assert_eq!(names.get(s.service), "api");
            assert_eq!(names.get(s.region), "eu-west");
            assert_eq!(names.get(s.instance), "api-0");
            assert_eq!(names.get(s.flow), "checkout");
        }
    }

    #[test]
    fn lines_and_pretty_documents_read_the_same() {
        // JSONL (one document per line) and a pretty-printed document give the same spans.
        let one = doc(SPAN, true);
        let lines = format!("{one}\n\n{one}\n");
        let (a, ..) = read_text(&lines);
        assert_eq!(a.len(), 2);
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&one).unwrap()).unwrap();
        let (b, _, counts, located) = read_text(&pretty);
        assert!(located.is_empty() && counts.counts.is_empty());
        assert_eq!(b.len(), 1);
        assert_eq!(a[0].trace, b[0].trace);
        // The span is located at its opening brace, the line after `"spans": [`.
        let spans_line = pretty.lines().position(|l| l.contains("\"spans\"")).unwrap() as u32 + 1;
        assert_eq!(b[0].line, spans_line + 1);
    }

    #[test]
    fn a_malformed_line_is_located_and_the_next_is_read() {
        // Line 2 is cut short: it is reported at line 2 and line 3 is still read.
        let one = doc(SPAN, true);
        let text = format!("{one}\n{}\n{one}\n", &one[..40]);
        let (spans, _, counts, located) = read_text(&text);
        assert_eq!(spans.len(), 2);
        assert_eq!(counts.get(Problem::MalformedLine), 1);
        assert_eq!(located.len(), 1);
        assert_eq!(located[0].pos.line, 2);
        assert!(located[0].message.contains("ends too early"), "{}", located[0].message);
    }

    #[test]
    fn bad_spans_are_counted_not_fatal() {
        // Each unusable span is skipped with its reason; a good one beside them is read.
        let bad = [
            SPAN.replace("5B8EFFF798038103D269B633813FC60C", "zz"),
            SPAN.replace("EEE19B7EC3C1B174", "00000000000000000"),
            SPAN.replace(r#""parentSpanId":"""#, r#""parentSpanId":"xyz""#),
            SPAN.replace("1544712661000000000", "soon"),
            SPAN.replace("1544712661000000000", "1544712650000000000"),
            SPAN.replace(r#""kind":2"#, r#""kind":9"#),
        ];
        let spans = format!("{},{SPAN}", bad.join(","));
        let (read, _, counts, located) = read_text(&doc(&spans, true));
        assert!(located.is_empty());
        assert_eq!(read.len(), 2, "the good span and the one of unknown kind");
        for p in [
            Problem::BadTraceId,
            Problem::BadSpanId,
            Problem::BadParentId,
            Problem::BadTime,
            Problem::EndsBeforeStart,
            Problem::UnknownKind,
        ] {
            assert_eq!(counts.get(p), 1, "{p:?}");
        }
    }

    #[test]
    fn not_traces_and_empty_files() {
        // A JSON document of another shape is counted; an empty file has no spans and no problem.
        let (s, _, counts, _) = read_text("{\"data\":[]}\n");
        assert!(s.is_empty());
        assert_eq!(counts.get(Problem::NotTraces), 1);
        let (s, _, counts, located) = read_text("\n  \n");
        assert!(s.is_empty() && counts.counts.is_empty() && located.is_empty());
    }
}
