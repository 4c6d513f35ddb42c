//! Reading one experiment's saved results back from `results/<experiment>/`.
//!
//! Charts and the HTML report are drawn from these files only, never from
//! the simulator's memory, so `chaoscal report RESULTS_DIR` regenerates
//! exactly what `run` wrote. `summary.json` is required (read into the one
//! [`Summary`] schema); the CSVs are optional (a chart whose data file is
//! absent is left out), but a file that is present and malformed is an
//! error naming the file, line and column. Unknown JSON fields and CSV
//! columns are ignored, so results written by a newer chaoscal still read.

use std::path::{Path, PathBuf};

use super::summary::Summary;

/// Why a results folder cannot be read. None of these lets the report
/// continue for that folder; the command exits 2.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A required file (`summary.json`) is not in the folder.
    #[error("{}: not found; is this a results folder written by `chaoscal run`?", .path.display())]
    Missing { path: PathBuf },
    /// The folder holds no experiment (no `summary.json` in it or in its subfolders).
    #[error(
        "{}: no summary.json here or in any subfolder; give a results folder written by `chaoscal run` \
         (one experiment, or the folder holding several)",
        .path.display()
    )]
    NoResults { path: PathBuf },
    /// A file or folder exists but cannot be read.
    #[error("{}: cannot read: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// `summary.json` is not valid JSON or lacks a required field.
    #[error("{}:{line}:{column}: {message}", .path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A CSV file is malformed (missing column, bad number, short row).
    #[error("{}:{line}: {message}", .path.display())]
    Csv { path: PathBuf, line: u64, message: String },
}

/// One row of `timeseries.csv`: one time bucket of one flow, with p10/p50/p90
/// across replications. A figure the file leaves empty is NaN (a gap).
#[derive(Debug, Clone)]
pub struct TimeBucket {
    pub time_s: f64,
    pub flow: String,
    pub requests_per_s: [f64; 3],
    pub error_rate: [f64; 3],
    pub latency_p50_ms: [f64; 3],
    pub latency_p99_ms: [f64; 3],
    pub fault_active_share: f64,
    pub breaker_opens: f64,
    /// The error rate over the minute ending with the bucket (NaN in older results).
    pub error_rate_60s: [f64; 3],
    /// A rollout's weight in percent, averaged over the bucket (NaN without a rollout).
    pub rollout_weight: [f64; 3],
}

/// One point of `latency_cdf.csv`.
#[derive(Debug, Clone)]
pub struct CdfPoint {
    pub flow: String,
    pub phase: String,
    pub latency_ms: f64,
    pub cumulative: f64,
}

/// When one fault was active, over replications (from `replications.csv`).
#[derive(Debug, Clone)]
pub struct FaultTimes {
    pub name: String,
    pub start_s_min: f64,
    pub start_s_max: f64,
    /// None: some replication never ended it (active to the end of the run).
    pub end_s_max: Option<f64>,
}

/// Everything the report draws for one experiment.
#[derive(Debug, Clone)]
pub struct Saved {
    pub dir: PathBuf,
    pub summary: Summary,
    pub timeseries: Option<Vec<TimeBucket>>,
    pub latency_cdf: Option<Vec<CdfPoint>>,
    pub fault_times: Option<Vec<FaultTimes>>,
    /// `blast.services` per replication, when `replications.csv` has it.
    pub blast_services: Option<Vec<f64>>,
}

impl Saved {
    /// Reads the result files of the experiment folder `dir`.
    pub fn load(dir: &Path) -> Result<Saved, ReadError> {
        let summary = read_summary(dir)?;
        let timeseries = read_optional_csv(&dir.join("timeseries.csv"), parse_timeseries)?;
        let latency_cdf = read_optional_csv(&dir.join("latency_cdf.csv"), parse_cdf)?;
        let reps = read_optional_csv(&dir.join("replications.csv"), |p, r| parse_replications(p, r, &summary))?;
        let (fault_times, blast_services) = match reps {
            Some((f, b)) => (Some(f), b),
            None => (None, None),
        };
        Ok(Saved {
            dir: dir.to_path_buf(),
            summary,
            timeseries,
            latency_cdf,
            fault_times,
            blast_services,
        })
    }
}

/// Reads and parses `dir/summary.json`.
pub fn read_summary(dir: &Path) -> Result<Summary, ReadError> {
    let path = dir.join("summary.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Missing { path }),
        Err(source) => return Err(ReadError::Read { path, source }),
    };
    serde_json::from_slice(&bytes).map_err(|e| ReadError::Json {
        path,
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
    })
}

/// The experiment folders directly under `root` (those holding a
/// `summary.json`), sorted by name.
pub fn experiment_dirs(root: &Path) -> Result<Vec<PathBuf>, ReadError> {
    let unreadable = |source| ReadError::Read {
        path: root.to_path_buf(),
        source,
    };
    let mut dirs = Vec::new();
    for e in std::fs::read_dir(root).map_err(unreadable)? {
        let p = e.map_err(unreadable)?.path();
        if p.is_dir() && p.join("summary.json").is_file() {
            dirs.push(p);
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn read_optional_csv<T>(
    path: &Path,
    parse: impl FnOnce(&Path, &mut csv::Reader<std::fs::File>) -> Result<T, ReadError>,
) -> Result<Option<T>, ReadError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ReadError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(file);
    parse(path, &mut reader).map(Some)
}

/// Column positions by header name, so column order and extra columns do not matter.
struct Columns {
    names: Vec<String>,
}

impl Columns {
    fn of(path: &Path, reader: &mut csv::Reader<std::fs::File>) -> Result<Columns, ReadError> {
        let header = reader.headers().map_err(|e| csv_error(path, &e))?;
        Ok(Columns {
            names: header.iter().map(|s| s.trim().to_string()).collect(),
        })
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    fn require(&self, path: &Path, name: &str) -> Result<usize, ReadError> {
        self.find(name).ok_or_else(|| ReadError::Csv {
            path: path.to_path_buf(),
            line: 1,
            message: format!("missing column \"{name}\" (the header has: {})", self.names.join(", ")),
        })
    }
}

fn csv_error(path: &Path, e: &csv::Error) -> ReadError {
    ReadError::Csv {
        path: path.to_path_buf(),
        line: e.position().map(|p| p.line()).unwrap_or(0),
        message: match e.kind() {
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                format!("row has {len} fields, the header has {expected_len}")
            }
            _ => e.to_string(),
        },
    }
}

/// A cell as a number; empty means "no figure" (NaN), anything else unparsable is an error.
fn number(path: &Path, rec: &csv::StringRecord, col: Option<usize>, name: &str) -> Result<f64, ReadError> {
    let Some(col) = col else { return Ok(f64::NAN) };
    let cell = rec.get(col).unwrap_or("").trim();
    if cell.is_empty() {
        return Ok(f64::NAN);
    }
    match cell.parse::<f64>() {
        Ok(v) if !v.is_infinite() => Ok(v),
        _ => Err(ReadError::Csv {
            path: path.to_path_buf(),
            line: rec.position().map(|p| p.line()).unwrap_or(0),
            message: format!("column \"{name}\": \"{cell}\" is not a number"),
        }),
    }
}

/// Like [`number`], but the cell must hold a figure.
fn required_number(path: &Path, rec: &csv::StringRecord, col: usize, name: &str) -> Result<f64, ReadError> {
    let v = number(path, rec, Some(col), name)?;
    if v.is_nan() {
        return Err(ReadError::Csv {
            path: path.to_path_buf(),
            line: rec.position().map(|p| p.line()).unwrap_or(0),
            message: format!("column \"{name}\" is empty"),
        });
    }
    Ok(v)
}

fn parse_timeseries(path: &Path, reader: &mut csv::Reader<std::fs::File>) -> Result<Vec<TimeBucket>, ReadError> {
    let cols = Columns::of(path, reader)?;
    let time = cols.require(path, "time_s")?;
    let flow = cols.require(path, "flow")?;
    let band = |stem: &str, required: bool| -> Result<[(Option<usize>, String); 3], ReadError> {
        let mut out: [(Option<usize>, String); 3] = Default::default();
        for (slot, q) in out.iter_mut().zip(["p10", "p50", "p90"]) {
            let name = format!("{stem}_{q}");
            let col = if required {
                Some(cols.require(path, &name)?)
            } else {
                cols.find(&name)
            };
            *slot = (col, name);
        }
        Ok(out)
    };
    let rps = band("requests_per_s", false)?;
    let err = band("error_rate", true)?;
    let lat50 = band("latency_p50_ms", false)?;
    let lat99 = band("latency_p99_ms", true)?;
    let err60 = band("error_rate_60s", false)?;
    let weight = band("rollout_weight", false)?;
    let share = cols.require(path, "fault_active_share")?;
    let opens = cols.find("breaker_opens");
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| csv_error(path, &e))?;
        let three = |b: &[(Option<usize>, String); 3]| -> Result<[f64; 3], ReadError> {
            Ok([
                number(path, &rec, b[0].0, &b[0].1)?,
                number(path, &rec, b[1].0, &b[1].1)?,
                number(path, &rec, b[2].0, &b[2].1)?,
            ])
        };
        let fault_active_share = number(path, &rec, Some(share), "fault_active_share")?;
        rows.push(TimeBucket {
            time_s: required_number(path, &rec, time, "time_s")?,
            flow: rec.get(flow).unwrap_or("").to_string(),
            requests_per_s: three(&rps)?,
            error_rate: three(&err)?,
            latency_p50_ms: three(&lat50)?,
            latency_p99_ms: three(&lat99)?,
            fault_active_share: if fault_active_share.is_nan() {
                0.0
            } else {
                fault_active_share.clamp(0.0, 1.0)
            },
            breaker_opens: number(path, &rec, opens, "breaker_opens")?,
            error_rate_60s: three(&err60)?,
            rollout_weight: three(&weight)?,
        });
    }
    Ok(rows)
}

fn parse_cdf(path: &Path, reader: &mut csv::Reader<std::fs::File>) -> Result<Vec<CdfPoint>, ReadError> {
    let cols = Columns::of(path, reader)?;
    let flow = cols.require(path, "flow")?;
    let phase = cols.require(path, "phase")?;
    let latency = cols.require(path, "latency_ms")?;
    let cumulative = cols.require(path, "cumulative")?;
    let mut points = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| csv_error(path, &e))?;
        points.push(CdfPoint {
            flow: rec.get(flow).unwrap_or("").to_string(),
            phase: rec.get(phase).unwrap_or("").to_string(),
            latency_ms: required_number(path, &rec, latency, "latency_ms")?,
            cumulative: required_number(path, &rec, cumulative, "cumulative")?.clamp(0.0, 1.0),
        });
    }
    Ok(points)
}

type ReplicationFigures = (Vec<FaultTimes>, Option<Vec<f64>>);

/// Fault timelines (`X.start_s`, `X.end_s`) and `blast.services` from `replications.csv`.
fn parse_replications(
    path: &Path,
    reader: &mut csv::Reader<std::fs::File>,
    summary: &Summary,
) -> Result<ReplicationFigures, ReadError> {
    let cols = Columns::of(path, reader)?;
    let fault_cols: Vec<(String, String, Option<usize>, Option<usize>)> = summary
        .faults
        .iter()
        .map(|f| {
            let s = format!("{}.start_s", f.name);
            let e = format!("{}.end_s", f.name);
            let (sc, ec) = (cols.find(&s), cols.find(&e));
            (s, e, sc, ec)
        })
        .collect();
    let blast = cols.find("blast.services");
    let mut times: Vec<FaultTimes> = summary
        .faults
        .iter()
        .map(|f| FaultTimes {
            name: f.name.clone(),
            start_s_min: f64::INFINITY,
            start_s_max: f64::NEG_INFINITY,
            end_s_max: Some(f64::NEG_INFINITY),
        })
        .collect();
    let mut blast_services = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| csv_error(path, &e))?;
        for (t, (sname, ename, sc, ec)) in times.iter_mut().zip(&fault_cols) {
            let start = number(path, &rec, *sc, sname)?;
            if !start.is_nan() {
                t.start_s_min = t.start_s_min.min(start);
                t.start_s_max = t.start_s_max.max(start);
            }
            if ec.is_some() {
                let end = number(path, &rec, *ec, ename)?;
                t.end_s_max = match (t.end_s_max, end.is_nan()) {
                    (None, _) | (_, true) => None,
                    (Some(m), false) => Some(m.max(end)),
                };
            }
        }
        if blast.is_some() {
            let v = number(path, &rec, blast, "blast.services")?;
            if !v.is_nan() {
                blast_services.push(v);
            }
        }
    }
    // A fault with no start in any row was not drawn (or its columns are absent): leave it out.
    times.retain(|t| t.start_s_min.is_finite());
    for t in &mut times {
        if t.end_s_max.is_some_and(|e| !e.is_finite()) {
            t.end_s_max = None;
        }
    }
    Ok((times, blast.map(|_| blast_services)))
}
