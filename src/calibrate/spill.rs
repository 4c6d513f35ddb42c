//! Grouping spans by trace with bounded memory: an external pass.
//!
//! The spans of one trace may lie anywhere in the files (a single
//! document is often grouped by service instance, so a trace's spans are
//! spread over the whole file). While reading, each span goes to one of
//! `K` buckets by a hash of its trace id — in memory when the input is
//! small, else appended to a file per bucket in a scratch folder. Then
//! the buckets are read back one at a time: every span of a trace is in
//! the same bucket, so sorting a bucket by (trace, start) gives whole
//! traces. `K` grows with the input size so that a bucket holds about
//! [`BUCKET_INPUT_BYTES`] of input; memory is one bucket's spans, not the
//! whole input.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::otlp::{Kind, Span};

/// Input bytes per bucket. A span takes about 300–600 bytes of OTLP/JSON
/// and [`RECORD_BYTES`] in a bucket, so a bucket holds ~10–20 MB of spans.
pub const BUCKET_INPUT_BYTES: u64 = 64 * 1024 * 1024;
/// The most buckets (files open at once); beyond ~64 GB of input the
/// buckets grow instead.
pub const MAX_BUCKETS: usize = 1024;
/// One span in a bucket file.
pub const RECORD_BYTES: usize = 16 + 8 * 4 + 4 * 5 + 1 + 1 + 2 + 2 + 4 + 4;

/// Where spans wait to be grouped by trace.
pub struct Buckets {
    count: usize,
    store: Store,
    pub spans: u64,
}

enum Store {
    Memory(Vec<Span>),
    Files {
        dir: ScratchDir,
        writers: Vec<BufWriter<File>>,
    },
}

/// A scratch folder removed when dropped.
pub struct ScratchDir(pub PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Buckets {
    /// Buckets for `input_bytes` of trace files; files under `scratch`
    /// (a fresh folder in it) when more than one bucket is needed.
    pub fn new(input_bytes: u64, scratch: &Path) -> io::Result<Buckets> {
        let count = input_bytes.div_ceil(BUCKET_INPUT_BYTES).clamp(1, MAX_BUCKETS as u64) as usize;
        Buckets::with_count(count, scratch)
    }

    /// Exactly `count` buckets (tests use it to force files).
    pub fn with_count(count: usize, scratch: &Path) -> io::Result<Buckets> {
        let count = count.clamp(1, MAX_BUCKETS);
        let store = if count == 1 {
            Store::Memory(Vec::new())
        } else {
            let dir = ScratchDir(make_scratch(scratch)?);
            let mut writers = Vec::with_capacity(count);
            for i in 0..count {
                writers.push(BufWriter::with_capacity(
                    64 * 1024,
                    File::create(dir.0.join(format!("bucket-{i:04}.spans")))?,
                ));
            }
            Store::Files { dir, writers }
        };
        Ok(Buckets { count, store, spans: 0 })
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn push(&mut self, s: Span) -> io::Result<()> {
        self.spans += 1;
        match &mut self.store {
            Store::Memory(v) => v.push(s),
            Store::Files { writers, .. } => {
                let b = bucket_of(s.trace, writers.len());
                writers[b].write_all(&encode(&s))?;
            }
        }
        Ok(())
    }

    /// Calls `each` with every bucket's spans sorted by (trace, start, id),
    /// bucket by bucket, then removes the scratch files.
    pub fn drain(self, mut each: impl FnMut(&mut [Span])) -> io::Result<()> {
        match self.store {
            Store::Memory(mut v) => {
                sort(&mut v);
                each(&mut v);
            }
            Store::Files { dir, writers } => {
                let n = writers.len();
                for w in writers {
                    w.into_inner().map_err(|e| e.into_error())?.sync_all().ok();
                }
                for i in 0..n {
                    let path = dir.0.join(format!("bucket-{i:04}.spans"));
                    let mut v = read_bucket(&path)?;
                    let _ = std::fs::remove_file(&path);
                    sort(&mut v);
                    each(&mut v);
                }
            }
        }
        Ok(())
    }
}

fn sort(v: &mut [Span]) {
    v.sort_unstable_by_key(|s| (s.trace, s.start_ns, s.id, s.end_ns, s.file, s.line, s.col, s.kind as u8));
}

fn make_scratch(base: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(base)?;
    for n in 0..1000u32 {
        let dir = base.join(format!("chaoscal-calibrate-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free scratch folder name"))
}

/// The bucket of a trace: a mix of its id's bits (ids are random, but
/// some generators count up in the low bits only).
pub fn bucket_of(trace: u128, buckets: usize) -> usize {
    let mut x = (trace as u64) ^ ((trace >> 64) as u64).rotate_left(29);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    (x % buckets as u64) as usize
}

fn read_bucket(path: &Path) -> io::Result<Vec<Span>> {
    let len = std::fs::metadata(path)?.len() as usize;
    let mut r = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut v = Vec::with_capacity(len / RECORD_BYTES);
    let mut rec = [0u8; RECORD_BYTES];
    loop {
        match r.read_exact(&mut rec) {
            Ok(()) => v.push(decode(&rec)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(v),
            Err(e) => return Err(e),
        }
    }
}

fn encode(s: &Span) -> [u8; RECORD_BYTES] {
    let mut b = [0u8; RECORD_BYTES];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        b[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(&s.trace.to_le_bytes());
    for v in [s.id, s.parent, s.start_ns, s.end_ns] {
        put(&v.to_le_bytes());
    }
    for v in [s.service, s.region, s.instance, s.flow, s.peer] {
        put(&v.to_le_bytes());
    }
    put(&[s.kind as u8, (s.error as u8) | ((s.timeout as u8) << 1)]);
    put(&s.resend.to_le_bytes());
    put(&s.file.to_le_bytes());
    put(&s.line.to_le_bytes());
    put(&s.col.to_le_bytes());
    debug_assert_eq!(at, RECORD_BYTES);
    b
}

fn decode(b: &[u8; RECORD_BYTES]) -> Span {
    let mut at = 0;
    let mut take = |n: usize| {
        let s = &b[at..at + n];
        at += n;
        s
    };
    let u128_ = |s: &[u8]| u128::from_le_bytes(s.try_into().expect("16 bytes"));
    let u64_ = |s: &[u8]| u64::from_le_bytes(s.try_into().expect("8 bytes"));
    let u32_ = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes"));
    let u16_ = |s: &[u8]| u16::from_le_bytes(s.try_into().expect("2 bytes"));
    let trace = u128_(take(16));
    let id = u64_(take(8));
    let parent = u64_(take(8));
    let start_ns = u64_(take(8));
    let end_ns = u64_(take(8));
    let service = u32_(take(4));
    let region = u32_(take(4));
    let instance = u32_(take(4));
    let flow = u32_(take(4));
    let peer = u32_(take(4));
    let kf = take(2);
    let (kind, flags) = (Kind::from_u8(kf[0]), kf[1]);
    let resend = u16_(take(2));
    let file = u16_(take(2));
    let line = u32_(take(4));
    let col = u32_(take(4));
    Span {
        trace,
        id,
        parent,
        start_ns,
        end_ns,
        service,
        region,
        instance,
        flow,
        peer,
        kind,
        error: flags & 1 != 0,
        timeout: flags & 2 != 0,
        resend,
        file,
        line,
        col,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: u128, id: u64, start: u64) -> Span {
        Span {
            trace,
            id,
            parent: id / 2,
            start_ns: start,
            end_ns: start + 7,
            service: 1,
            region: 2,
            instance: 3,
            flow: 4,
            peer: u32::MAX,
            kind: Kind::Consumer,
            error: true,
            timeout: false,
            resend: 2,
            file: 1,
            line: 99,
            col: 5,
        }
    }

    #[test]
    fn records_round_trip() {
        // A span written to a bucket file reads back unchanged.
        let s = span(u128::MAX - 5, 77, 1 << 50);
        assert_eq!(decode(&encode(&s)), s);
    }

    #[test]
    fn files_and_memory_group_the_same() {
        // Spilled to 7 bucket files or kept in memory, every trace comes back whole and sorted.
        let dir = std::env::temp_dir().join(format!("chaoscal-spill-test-{}", std::process::id()));
        let spans: Vec<Span> = (0..500u64)
            .map(|i| span((i % 37) as u128 + 1, i + 1, 1000 - i))
            .collect();
        let mut out = Vec::new();
        for count in [1, 7] {
            let mut b = Buckets::with_count(count, &dir).unwrap();
            for s in &spans {
                b.push(*s).unwrap();
            }
            let mut traces: Vec<Vec<Span>> = Vec::new();
            b.drain(|v| {
                for s in v.chunk_by(|a, b| a.trace == b.trace) {
                    assert!(s.windows(2).all(|w| w[0].start_ns <= w[1].start_ns));
                    traces.push(s.to_vec());
                }
            })
            .unwrap();
            traces.sort_by_key(|t| t[0].trace);
            assert_eq!(traces.len(), 37);
            out.push(traces);
        }
        assert_eq!(out[0], out[1]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
