//! Reading one experiment's saved results back from `results/<experiment>/`.
//!
//! Charts and the HTML report are drawn from these files only, never from
//! the simulator's memory, so `chaoscal report RESULTS_DIR` regenerates
//! exactly what `run` wrote. `summary.json` is required; the CSVs are
//! optional (a chart whose data file is absent is left out), but a file
//! that is present and malformed is an error naming the file, line and
//! column. Unknown JSON fields and CSV columns are ignored, so results
//! written by a newer chaoscal still read.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why the report of a results folder cannot be made. None of these lets
/// the report continue for that folder; the command exits 2.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
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
    /// A file exists but cannot be read.
    #[error("{}: cannot read: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// `summary.json` is not valid JSON or lacks a field the report needs.
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
    /// A chart could not be drawn or encoded (a bug, not a user error).
    #[error("chart {chart}: {message}")]
    Render { chart: String, message: String },
    /// An output file cannot be written.
    #[error("{}: cannot write: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Spread of one figure over replications, as `summary.json` writes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Spread {
    #[serde(default)]
    pub mean: f64,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub p50: f64,
    #[serde(default)]
    pub p90: f64,
    #[serde(default)]
    pub p99: f64,
    #[serde(default)]
    pub max: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Fault {
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub target: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Slo {
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub flow: Option<String>,
    #[serde(default)]
    pub objective: f64,
    pub violations: u64,
    pub probability: f64,
    pub ci95: [f64; 2],
    #[serde(default)]
    pub attainment: Option<Spread>,
    #[serde(default)]
    pub budget_consumed: Option<Spread>,
    /// A latency or backlog SLO's threshold (absent in older results).
    #[serde(default)]
    pub threshold_ms: Option<f64>,
    /// The `[expect]` limit on its violation probability, if any.
    #[serde(default)]
    pub max_violation_probability: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FlowLatency {
    #[serde(default)]
    pub mean: f64,
    #[serde(default)]
    pub p50: f64,
    #[serde(default)]
    pub p90: f64,
    #[serde(default)]
    pub p99: f64,
    #[serde(default)]
    pub max: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Flow {
    pub name: String,
    pub requests: u64,
    #[serde(default)]
    pub succeeded: u64,
    #[serde(default)]
    pub degraded: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub availability: f64,
    #[serde(default)]
    pub latency_ms: FlowLatency,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MeanP99 {
    #[serde(default)]
    pub mean: f64,
    #[serde(default)]
    pub p50: Option<f64>,
    #[serde(default)]
    pub p99: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Service {
    pub service: String,
    pub region: String,
    pub requests: u64,
    #[serde(default)]
    pub rejected: u64,
    pub errors: u64,
    #[serde(default)]
    pub timeouts: u64,
    #[serde(default)]
    pub rate_limited: u64,
    #[serde(default)]
    pub expired: u64,
    #[serde(default)]
    pub ejections: u64,
    #[serde(default)]
    pub utilization: f64,
    #[serde(default)]
    pub latency_ms: MeanP99,
    #[serde(default)]
    pub queue_wait_ms: MeanP99,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Call {
    pub caller: String,
    pub to: String,
    #[serde(default)]
    pub calls: u64,
    #[serde(default)]
    pub tries: u64,
    #[serde(default)]
    pub retries: u64,
    #[serde(default)]
    pub budget_denied: u64,
    #[serde(default)]
    pub short_circuited: u64,
    #[serde(default)]
    pub bulkhead_rejected: u64,
    #[serde(default)]
    pub fallbacks: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub breaker_opens: u64,
    #[serde(default)]
    pub breaker_open_s: f64,
    #[serde(default)]
    pub duplicate_charges: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Backlog {
    #[serde(default)]
    pub mean: f64,
    #[serde(default)]
    pub max: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Queue {
    pub queue: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub published: u64,
    #[serde(default)]
    pub rejected: u64,
    #[serde(default)]
    pub delivered: u64,
    #[serde(default)]
    pub redelivered: u64,
    #[serde(default)]
    pub dead_lettered: u64,
    #[serde(default)]
    pub backlog: Backlog,
    #[serde(default)]
    pub age_ms: MeanP99,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Money {
    #[serde(default)]
    pub failed_value: Option<f64>,
    #[serde(default)]
    pub wrong_outputs: Option<u64>,
    #[serde(default)]
    pub wrong_output_loss: Option<f64>,
    #[serde(default)]
    pub duplicate_charges: Option<u64>,
    #[serde(default)]
    pub duplicate_charge_value: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Declared {
    #[serde(default)]
    pub max_services: Option<u64>,
    #[serde(default)]
    pub max_regions: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DegradedPair {
    pub service: String,
    pub region: String,
    pub degraded_share: f64,
}

/// `blast_radius` of `summary.json` (absent from results written before it was measured).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BlastRadius {
    #[serde(default)]
    pub services: Option<Spread>,
    #[serde(default)]
    pub regions: Option<Spread>,
    #[serde(default)]
    pub share_affected: Option<Spread>,
    #[serde(default)]
    pub containment_breach_probability: Option<f64>,
    /// 95% Wilson interval of the breach probability, when recorded.
    #[serde(default)]
    pub breach_ci95: Option<[f64; 2]>,
    #[serde(default)]
    pub declared: Declared,
    #[serde(default)]
    pub static_services: Vec<String>,
    /// `[services degraded, replications]` pairs.
    #[serde(default)]
    pub histogram: Vec<[f64; 2]>,
    #[serde(default)]
    pub pairs: Vec<DegradedPair>,
    /// Failed requests attributed to each fault, when recorded.
    #[serde(default)]
    pub attributed_failures: Vec<AttributedFailures>,
    /// Against each replication's faults-off twin (runs with `--counterfactual`).
    #[serde(default)]
    pub counterfactual: Option<Counterfactual>,
}

/// `blast_radius.counterfactual` of `summary.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Counterfactual {
    pub replications: u64,
    pub excess_failures: Spread,
    #[serde(default)]
    pub flows: Vec<FlowExcess>,
    pub services: Spread,
    pub regions: Spread,
    pub containment_breach_probability: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FlowExcess {
    pub flow: String,
    pub excess_failures: Spread,
    pub excess_latency_p99_ms: Spread,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AttributedFailures {
    pub fault: String,
    pub failed_requests: u64,
}

/// `summary.json`, as much of it as the report shows.
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    pub experiment: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub hypothesis: String,
    #[serde(default)]
    pub topology: String,
    pub seed: u64,
    pub replications: u64,
    #[serde(default)]
    pub duration_s: f64,
    #[serde(default)]
    pub warmup_s: f64,
    #[serde(default)]
    pub faults: Vec<Fault>,
    pub slos: Vec<Slo>,
    pub flows: Vec<Flow>,
    pub services: Vec<Service>,
    #[serde(default)]
    pub calls: Vec<Call>,
    #[serde(default)]
    pub queues: Vec<Queue>,
    #[serde(default)]
    pub money: Money,
    #[serde(default)]
    pub events: u64,
    #[serde(default)]
    pub blast_radius: Option<BlastRadius>,
    /// The reproduce command, when the run recorded it.
    #[serde(default)]
    pub command: Option<String>,
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
    pub fn load(dir: &Path) -> Result<Saved, ReportError> {
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
pub fn read_summary(dir: &Path) -> Result<Summary, ReportError> {
    let path = dir.join("summary.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReportError::Missing { path }),
        Err(source) => return Err(ReportError::Read { path, source }),
    };
    serde_json::from_slice(&bytes).map_err(|e| ReportError::Json {
        path,
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
    })
}

fn read_optional_csv<T>(
    path: &Path,
    parse: impl FnOnce(&Path, &mut csv::Reader<std::fs::File>) -> Result<T, ReportError>,
) -> Result<Option<T>, ReportError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ReportError::Read {
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
    fn of(path: &Path, reader: &mut csv::Reader<std::fs::File>) -> Result<Columns, ReportError> {
        let header = reader.headers().map_err(|e| csv_error(path, &e))?;
        Ok(Columns {
            names: header.iter().map(|s| s.trim().to_string()).collect(),
        })
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    fn require(&self, path: &Path, name: &str) -> Result<usize, ReportError> {
        self.find(name).ok_or_else(|| ReportError::Csv {
            path: path.to_path_buf(),
            line: 1,
            message: format!("missing column \"{name}\" (the header has: {})", self.names.join(", ")),
        })
    }
}

fn csv_error(path: &Path, e: &csv::Error) -> ReportError {
    ReportError::Csv {
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
fn number(path: &Path, rec: &csv::StringRecord, col: Option<usize>, name: &str) -> Result<f64, ReportError> {
    let Some(col) = col else { return Ok(f64::NAN) };
    let cell = rec.get(col).unwrap_or("").trim();
    if cell.is_empty() {
        return Ok(f64::NAN);
    }
    match cell.parse::<f64>() {
        Ok(v) if !v.is_infinite() => Ok(v),
        _ => Err(ReportError::Csv {
            path: path.to_path_buf(),
            line: rec.position().map(|p| p.line()).unwrap_or(0),
            message: format!("column \"{name}\": \"{cell}\" is not a number"),
        }),
    }
}

/// Like [`number`], but the cell must hold a figure.
fn required_number(path: &Path, rec: &csv::StringRecord, col: usize, name: &str) -> Result<f64, ReportError> {
    let v = number(path, rec, Some(col), name)?;
    if v.is_nan() {
        return Err(ReportError::Csv {
            path: path.to_path_buf(),
            line: rec.position().map(|p| p.line()).unwrap_or(0),
            message: format!("column \"{name}\" is empty"),
        });
    }
    Ok(v)
}

fn parse_timeseries(path: &Path, reader: &mut csv::Reader<std::fs::File>) -> Result<Vec<TimeBucket>, ReportError> {
    let cols = Columns::of(path, reader)?;
    let time = cols.require(path, "time_s")?;
    let flow = cols.require(path, "flow")?;
    let band = |stem: &str, required: bool| -> Result<[(Option<usize>, String); 3], ReportError> {
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
    let share = cols.require(path, "fault_active_share")?;
    let opens = cols.find("breaker_opens");
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| csv_error(path, &e))?;
        let three = |b: &[(Option<usize>, String); 3]| -> Result<[f64; 3], ReportError> {
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
        });
    }
    Ok(rows)
}

fn parse_cdf(path: &Path, reader: &mut csv::Reader<std::fs::File>) -> Result<Vec<CdfPoint>, ReportError> {
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
) -> Result<ReplicationFigures, ReportError> {
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
