//! The partial result of a shard (`run --shard K/N`): its file format,
//! reading and writing, and the checks `merge` makes before it adds the
//! shards of one run up ([`crate::montecarlo::Aggregate::merge`]).
//!
//! A shard writes `shard-K-of-N.json` into its experiment's results folder:
//! what its replications measured (the [`Aggregate`] of replications K,
//! K+N, …), the scenario and topology texts it ran, and a hash of those
//! texts. `chaoscal merge` reads the N files of a run, checks that they
//! belong together (same experiment, inputs, seed, replication count and
//! N; every shard present once) and adds them up. The format is documented
//! for users in `docs/ci-and-scale.md`.
//!
//! Everything in a partial is exact: counts and histogram buckets are
//! integers, and the few per-replication floats (attainment, the time
//! series) are written as the shortest decimal text that reads back to the
//! same bits (Rust's `Display` and `parse`; JSON number parsing is not
//! exact in every library). The file itself is deterministic: the same
//! shard of the same run writes the same bytes on any machine.

use std::path::{Path, PathBuf};

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::files;
use crate::input::{self, LoadedScenario};
use crate::model::{Scenario, Topology};
use crate::montecarlo::{Aggregate, ReplicationRow, Shard};
use crate::observe::{
    BlastOutcome, BreakerPhase, BreakerTransition, FlowStats, GroupStats, Histogram, QueueStats, SiteStats, SloOutcome,
};
use crate::sim::{FaultWindow, RolloutOutcome, Withdrawal};

/// The `format` field of a partial-result file.
pub const FORMAT: &str = "chaoscal-partial/1";

/// The file a shard writes into its experiment's results folder.
pub fn file_name(shard: Shard) -> String {
    format!("shard-{}-of-{}.json", shard.index, shard.count)
}

/// Whether a file name looks like a partial result (`shard-K-of-N.json`).
pub fn is_partial_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("shard-").and_then(|r| r.strip_suffix(".json")) else {
        return false;
    };
    let Some((k, n)) = rest.split_once("-of-") else {
        return false;
    };
    !k.is_empty() && !n.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) && n.bytes().all(|b| b.is_ascii_digit())
}

/// FNV-1a (64 bit) of the topology and scenario texts, as `fnv1a64:<hex>`.
/// Not a security measure: it catches shards run against different files.
pub fn input_hash(topology_text: &str, scenario_text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(b"topology\0");
    eat(topology_text.as_bytes());
    eat(b"\0scenario\0");
    eat(scenario_text.as_bytes());
    format!("fnv1a64:{h:016x}")
}

/// One shard's partial result, as written to `shard-K-of-N.json`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// The chaoscal version that wrote it; shards of one run must agree.
    pub chaoscal: String,
    pub experiment: String,
    pub seed: u64,
    /// Replications of the whole run (all shards together).
    pub replications: u64,
    pub shard: Shard,
    /// [`input_hash`] of the two texts below.
    pub input_hash: String,
    pub scenario_path: PathBuf,
    pub topology_path: PathBuf,
    pub scenario_text: String,
    pub topology_text: String,
    pub aggregate: AggregateWire,
}

/// Reads the texts a loaded scenario came from.
pub fn input_texts(ls: &LoadedScenario) -> std::io::Result<(String, String)> {
    let scn = std::fs::read_to_string(&ls.scenario.path)?;
    let topo = std::fs::read_to_string(&ls.topology.path)?;
    Ok((scn, topo))
}

/// Writes a shard's partial result to `dir/shard-K-of-N.json`; returns the path.
pub fn write(
    dir: &Path,
    ls: &LoadedScenario,
    replications: u64,
    shard: Shard,
    agg: &Aggregate,
) -> std::io::Result<PathBuf> {
    let (scenario_text, topology_text) = input_texts(ls)?;
    let file = PartialFile {
        format: FORMAT.to_string(),
        chaoscal: env!("CARGO_PKG_VERSION").to_string(),
        experiment: ls.scenario.name.clone(),
        seed: agg.seed,
        replications,
        shard,
        input_hash: input_hash(&topology_text, &scenario_text),
        scenario_path: ls.scenario.path.clone(),
        topology_path: ls.topology.path.clone(),
        scenario_text,
        topology_text,
        aggregate: AggregateWire::from(agg),
    };
    std::fs::create_dir_all(dir)?;
    let path = dir.join(file_name(shard));
    let mut json = serde_json::to_string(&file).map_err(std::io::Error::other)?;
    json.push('\n');
    files::write(&path, json)?;
    Ok(path)
}

/// Reads one partial-result file; the error names the file and what is wrong.
pub fn read(path: &Path) -> Result<PartialFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let file: PartialFile = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a chaoscal partial result: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    if file.format != FORMAT {
        return Err(format!(
            "{}: format {:?}, expected {FORMAT:?} (written by another chaoscal version?)",
            path.display(),
            file.format
        ));
    }
    if file.shard.count == 0 || file.shard.index >= file.shard.count {
        return Err(format!(
            "{}: shard {} is not K/N with 0 ≤ K < N",
            path.display(),
            file.shard
        ));
    }
    let hash = input_hash(&file.topology_text, &file.scenario_text);
    if hash != file.input_hash {
        return Err(format!(
            "{}: the scenario and topology texts do not match the file's input_hash (edited or damaged)",
            path.display()
        ));
    }
    Ok(file)
}

/// Combines the partial results of one experiment into the run's aggregate,
/// after checking that they are exactly the N shards of one run. Returns
/// the scenario (reloaded from the texts in the files) and the aggregate,
/// or every problem found.
pub fn merge(parts: Vec<(PathBuf, PartialFile)>) -> Result<(LoadedScenario, Aggregate), Vec<String>> {
    let mut errors = Vec::new();
    let Some((first_path, first)) = parts.first() else {
        return Err(vec!["no partial results to merge".to_string()]);
    };
    let name = first.experiment.clone();
    for (path, p) in &parts[1..] {
        let mut differs = |what: &str, a: String, b: String| {
            if a != b {
                errors.push(format!(
                    "{name}: {} has {what} {b}, but {} has {a}; shards of one run must agree",
                    path.display(),
                    first_path.display()
                ));
            }
        };
        differs("chaoscal version", first.chaoscal.clone(), p.chaoscal.clone());
        differs("seed", first.seed.to_string(), p.seed.to_string());
        differs(
            "replications",
            first.replications.to_string(),
            p.replications.to_string(),
        );
        differs(
            "shard count N",
            first.shard.count.to_string(),
            p.shard.count.to_string(),
        );
        differs(
            "input_hash (scenario + topology texts)",
            first.input_hash.clone(),
            p.input_hash.clone(),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let count = first.shard.count;
    let n = first.replications;
    let mut by_index: std::collections::BTreeMap<u64, &PathBuf> = std::collections::BTreeMap::new();
    for (path, p) in &parts {
        if let Some(prev) = by_index.insert(p.shard.index, path) {
            errors.push(format!(
                "{name}: shard {} appears twice: {} and {}",
                p.shard,
                prev.display(),
                path.display()
            ));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(20).map(|s| s.as_str()).collect();
        errors.push(format!(
            "{name}: missing shard(s) {}{} of {count}: a merge needs every shard 0..{}",
            shown.join(", "),
            if missing.len() > 20 { ", …" } else { "" },
            count - 1
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let loaded = match input::scenario_from_str(
        &first.topology_path,
        &first.topology_text,
        &first.scenario_path,
        &first.scenario_text,
    ) {
        Ok((l, _)) => l,
        Err(diags) => {
            errors.push(format!(
                "{name}: the scenario stored in {} does not load here:",
                first_path.display()
            ));
            errors.extend(diags.iter().map(|d| d.to_string()));
            return Err(errors);
        }
    };
    if loaded.scenario.name != name {
        return Err(vec![format!(
            "{}: experiment {name:?} but its scenario text names {:?}",
            first_path.display(),
            loaded.scenario.name
        )]);
    }
    let mut agg = Aggregate::new(&loaded.topology, &loaded.scenario, first.seed);
    for (path, p) in parts {
        let shard = p.shard;
        let part = match p.aggregate.into_aggregate(p.seed) {
            Ok(a) => a,
            Err(e) => {
                errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        if let Err(e) = check_shape(&part, &loaded.topology, &loaded.scenario) {
            errors.push(format!(
                "{}: {e} (the aggregate does not fit its own scenario)",
                path.display()
            ));
            continue;
        }
        let want: Vec<u64> = shard.indices(n).collect();
        let got: Vec<u64> = part.rows.iter().map(|r| r.index).collect();
        if want != got {
            errors.push(format!(
                "{}: shard {shard} of {n} replications should hold replications {} but holds {}",
                path.display(),
                preview(&want),
                preview(&got)
            ));
            continue;
        }
        agg.merge(part);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((loaded, agg))
}

fn preview(v: &[u64]) -> String {
    let head: Vec<String> = v.iter().take(6).map(|x| x.to_string()).collect();
    format!(
        "[{}{}] ({} in all)",
        head.join(", "),
        if v.len() > 6 { ", …" } else { "" },
        v.len()
    )
}

/// Checks that an aggregate read from a file fits the scenario, so that no
/// index in it can point outside the model (the report writers index by them).
pub fn check_shape(agg: &Aggregate, topo: &Topology, scn: &Scenario) -> Result<(), String> {
    let nr = topo.regions.len();
    let groups = topo.services.len() * nr;
    let sites: usize = topo.services.iter().map(|s| s.calls.len()).sum();
    let buckets = (scn.duration_ns - scn.warmup_ns).div_ceil(crate::observe::BUCKET_NS) as usize;
    let lens = [
        ("flows", agg.flows.len(), topo.flows.len()),
        ("groups", agg.groups.len(), groups),
        ("sites", agg.sites.len(), sites),
        ("queues", agg.queues.len(), topo.queues.len() * nr),
        ("slo_violations", agg.slo_violations.len(), scn.slos.len()),
        ("degraded", agg.degraded.len(), groups),
        ("attributed", agg.attributed.len(), scn.faults.len()),
    ];
    for (what, got, want) in lens {
        if got != want {
            return Err(format!("{what} has {got} entries, the model {want}"));
        }
    }
    for r in &agg.rows {
        let bad = |what: &str| Err(format!("replication {}: {what}", r.index));
        if r.flows.len() != topo.flows.len() {
            return bad("flows do not match the topology");
        }
        if r.slos.len() != scn.slos.len() {
            return bad("SLOs do not match the scenario");
        }
        if r.fault_windows.iter().any(|w| w.fault as usize >= scn.faults.len()) {
            return bad("a fault window names a fault the scenario does not have");
        }
        if r.transitions.iter().any(|t| t.site as usize >= sites) {
            return bad("a breaker transition names a call site the topology does not have");
        }
        if r.blast.pairs.iter().any(|&g| g >= groups) {
            return bad("a degraded pair outside the topology");
        }
        if r.series.len() != buckets * topo.flows.len()
            || r.fault_active.len() != buckets
            || r.breaker_opens_at.len() != buckets
        {
            return bad("its time series does not match the scenario's horizon");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- wire types

/// How a [`Histogram`] is written: its non-empty buckets as `[index, count]`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistogramWire {
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
    buckets: Vec<(u32, u64)>,
}

impl Serialize for Histogram {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (buckets, count, sum, min, max) = self.parts();
        HistogramWire {
            count,
            sum,
            min,
            max,
            buckets,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Histogram {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = HistogramWire::deserialize(d)?;
        Histogram::from_parts(&w.buckets, w.count, w.sum, w.min, w.max).map_err(D::Error::custom)
    }
}

/// A float written as the shortest decimal text that parses back to the same bits.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Exact64(f64);

impl Serialize for Exact64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Exact64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<f64>()
            .map(Exact64)
            .map_err(|_| D::Error::custom(format!("{text:?} is not a number")))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Exact32(f32);

impl Serialize for Exact32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Exact32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<f32>()
            .map(Exact32)
            .map_err(|_| D::Error::custom(format!("{text:?} is not a number")))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SloWire {
    valid: u64,
    good: u64,
    attainment: Exact64,
    worst_window: Option<Exact64>,
    violated: bool,
    budget_consumed: Exact64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlastWire {
    pairs: Vec<usize>,
    services: u32,
    regions: u32,
    share_affected: Exact64,
    breach: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowWire {
    index: u64,
    events: u64,
    flows: Vec<(u64, u64, u64)>,
    slos: Vec<SloWire>,
    fault_windows: Vec<FaultWindow>,
    failed_cents: u64,
    breaker_opens: u64,
    duplicate_charges: u64,
    /// `[time_ns, site, caller replica, state]`, state 0 closed, 1 open, 2 half-open.
    transitions: Vec<(u64, u32, u32, u8)>,
    peak_in_flight: u64,
    blast: BlastWire,
    wrong_outputs: u64,
    series: Vec<[Exact32; 4]>,
    /// One character per time bucket: `1` a fault was active, `0` not.
    fault_active: String,
    breaker_opens_at: Vec<u32>,
    /// Per guardrail: `[fired_ns, mitigated_ns, budget_before, shed]`.
    guardrails: Vec<(Option<u64>, Option<u64>, Exact64, u64)>,
    /// Against the counterfactual twin (runs with `--counterfactual`).
    #[serde(default)]
    twin: Option<TwinWire>,
    /// Per (bucket, flow): the rolling error rate.
    #[serde(default)]
    error_rate_rolling: Vec<Exact32>,
    /// Per guardrail: `[firings, mitigated_total_ns]`.
    #[serde(default)]
    guardrail_firings: Vec<(u32, u64)>,
    /// What the rollout did (with a `[rollout]`).
    #[serde(default)]
    rollout: Option<RolloutWire>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RolloutWire {
    reached_full_ns: Option<u64>,
    rolled_back_ns: Option<u64>,
    /// `analysis` or `guardrail`.
    rolled_back_by: Option<String>,
    paused_ns: Option<u64>,
    exposed_requests: u64,
    exposed_failed: u64,
    /// `[time_ns, weight percent]` at each change.
    weights: Vec<(u64, Exact64)>,
}

impl From<&RolloutOutcome> for RolloutWire {
    fn from(o: &RolloutOutcome) -> Self {
        RolloutWire {
            reached_full_ns: o.reached_full_ns,
            rolled_back_ns: o.rolled_back_ns,
            rolled_back_by: o.rolled_back_by.map(|w| withdrawal_name(w).to_string()),
            paused_ns: o.paused_ns,
            exposed_requests: o.exposed_requests,
            exposed_failed: o.exposed_failed,
            weights: o.weights.iter().map(|&(t, w)| (t, Exact64(w))).collect(),
        }
    }
}

impl RolloutWire {
    fn into_outcome(self) -> Result<RolloutOutcome, String> {
        let rolled_back_by = match self.rolled_back_by.as_deref() {
            None => None,
            Some("analysis") => Some(Withdrawal::Analysis),
            Some("guardrail") => Some(Withdrawal::Guardrail),
            Some(other) => {
                return Err(format!(
                    "rollout withdrawn by \"{other}\" (expected analysis or guardrail)"
                ));
            }
        };
        Ok(RolloutOutcome {
            reached_full_ns: self.reached_full_ns,
            rolled_back_ns: self.rolled_back_ns,
            rolled_back_by,
            paused_ns: self.paused_ns,
            exposed_requests: self.exposed_requests,
            exposed_failed: self.exposed_failed,
            weights: self.weights.into_iter().map(|(t, w)| (t, w.0)).collect(),
        })
    }
}

/// Who withdrew a rollout, as written in files.
pub fn withdrawal_name(w: Withdrawal) -> &'static str {
    match w {
        Withdrawal::Analysis => "analysis",
        Withdrawal::Guardrail => "guardrail",
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TwinWire {
    excess_failed: Vec<i64>,
    excess_p99_ns: Vec<i64>,
    pairs: Vec<usize>,
    services: u32,
    regions: u32,
    breach: bool,
}

fn phase_code(p: BreakerPhase) -> u8 {
    match p {
        BreakerPhase::Closed => 0,
        BreakerPhase::Open => 1,
        BreakerPhase::HalfOpen => 2,
    }
}

/// An [`Aggregate`] as written in a partial file (rows last: they are the bulk).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateWire {
    flows: Vec<FlowStats>,
    groups: Vec<GroupStats>,
    sites: Vec<SiteStats>,
    queues: Vec<QueueStats>,
    slo_violations: Vec<u64>,
    degraded: Vec<u64>,
    breaches: u64,
    attributed: Vec<u64>,
    wrong_caught: u64,
    events: u64,
    peer_events: u64,
    rows: Vec<RowWire>,
}

impl From<&ReplicationRow> for RowWire {
    fn from(r: &ReplicationRow) -> Self {
        // Destructured without `..`: a new field in ReplicationRow fails to
        // compile here until the partial format carries it too.
        let ReplicationRow {
            index,
            events,
            flows,
            slos,
            fault_windows,
            failed_cents,
            breaker_opens,
            duplicate_charges,
            transitions,
            peak_in_flight,
            blast,
            wrong_outputs,
            series,
            fault_active,
            breaker_opens_at,
            guardrails,
            twin,
            error_rate_rolling,
            rollout,
        } = r;
        RowWire {
            index: *index,
            events: *events,
            flows: flows.clone(),
            slos: slos
                .iter()
                .map(|o| SloWire {
                    valid: o.valid,
                    good: o.good,
                    attainment: Exact64(o.attainment),
                    worst_window: o.worst_window.map(Exact64),
                    violated: o.violated,
                    budget_consumed: Exact64(o.budget_consumed),
                })
                .collect(),
            fault_windows: fault_windows.clone(),
            failed_cents: *failed_cents,
            breaker_opens: *breaker_opens,
            duplicate_charges: *duplicate_charges,
            transitions: transitions
                .iter()
                .map(|t| (t.time_ns, t.site, t.replica, phase_code(t.to)))
                .collect(),
            peak_in_flight: *peak_in_flight as u64,
            blast: BlastWire {
                pairs: blast.pairs.clone(),
                services: blast.services,
                regions: blast.regions,
                share_affected: Exact64(blast.share_affected),
                breach: blast.breach,
            },
            wrong_outputs: *wrong_outputs,
            series: series.iter().map(|x| x.map(Exact32)).collect(),
            fault_active: fault_active.iter().map(|&a| if a { '1' } else { '0' }).collect(),
            breaker_opens_at: breaker_opens_at.clone(),
            guardrails: guardrails
                .iter()
                .map(|g| (g.fired_ns, g.mitigated_ns, Exact64(g.budget_before), g.shed))
                .collect(),
            twin: twin.as_ref().map(|t| TwinWire {
                excess_failed: t.excess_failed.clone(),
                excess_p99_ns: t.excess_p99_ns.clone(),
                pairs: t.pairs.clone(),
                services: t.services,
                regions: t.regions,
                breach: t.breach,
            }),
            error_rate_rolling: error_rate_rolling.iter().map(|&x| Exact32(x)).collect(),
            guardrail_firings: guardrails.iter().map(|g| (g.firings, g.mitigated_total_ns)).collect(),
            rollout: rollout.as_ref().map(RolloutWire::from),
        }
    }
}

impl TryFrom<RowWire> for ReplicationRow {
    type Error = String;

    fn try_from(w: RowWire) -> Result<Self, String> {
        let bad = |what: &str| format!("replication {}: {what}", w.index);
        let transitions = w
            .transitions
            .iter()
            .map(|&(time_ns, site, replica, state)| {
                let to = match state {
                    0 => BreakerPhase::Closed,
                    1 => BreakerPhase::Open,
                    2 => BreakerPhase::HalfOpen,
                    _ => return Err(bad("a breaker state other than 0, 1 or 2")),
                };
                Ok(BreakerTransition {
                    time_ns,
                    site,
                    replica,
                    to,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let fault_active = w
            .fault_active
            .chars()
            .map(|c| match c {
                '0' => Ok(false),
                '1' => Ok(true),
                _ => Err(bad("fault_active holds something other than 0 and 1")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(ReplicationRow {
            index: w.index,
            events: w.events,
            flows: w.flows,
            slos: w
                .slos
                .into_iter()
                .map(|o| SloOutcome {
                    valid: o.valid,
                    good: o.good,
                    attainment: o.attainment.0,
                    worst_window: o.worst_window.map(|x| x.0),
                    violated: o.violated,
                    budget_consumed: o.budget_consumed.0,
                })
                .collect(),
            fault_windows: w.fault_windows,
            failed_cents: w.failed_cents,
            breaker_opens: w.breaker_opens,
            duplicate_charges: w.duplicate_charges,
            transitions,
            peak_in_flight: usize::try_from(w.peak_in_flight).unwrap_or(usize::MAX),
            blast: BlastOutcome {
                pairs: w.blast.pairs,
                services: w.blast.services,
                regions: w.blast.regions,
                share_affected: w.blast.share_affected.0,
                breach: w.blast.breach,
            },
            wrong_outputs: w.wrong_outputs,
            series: w.series.into_iter().map(|x| x.map(|v| v.0)).collect(),
            fault_active,
            breaker_opens_at: w.breaker_opens_at,
            guardrails: w
                .guardrails
                .into_iter()
                .enumerate()
                .map(|(i, (fired_ns, mitigated_ns, budget, shed))| {
                    let (firings, mitigated_total_ns) = w.guardrail_firings.get(i).copied().unwrap_or_default();
                    crate::sim::GuardOutcome {
                        fired_ns,
                        mitigated_ns,
                        budget_before: budget.0,
                        shed,
                        firings,
                        mitigated_total_ns,
                    }
                })
                .collect(),
            error_rate_rolling: w.error_rate_rolling.into_iter().map(|x| x.0).collect(),
            rollout: w
                .rollout
                .map(RolloutWire::into_outcome)
                .transpose()
                .map_err(|e| bad(&e))?,
            twin: w.twin.map(|t| crate::observe::TwinOutcome {
                excess_failed: t.excess_failed,
                excess_p99_ns: t.excess_p99_ns,
                pairs: t.pairs,
                services: t.services,
                regions: t.regions,
                breach: t.breach,
            }),
        })
    }
}

impl From<&Aggregate> for AggregateWire {
    fn from(a: &Aggregate) -> Self {
        let Aggregate {
            seed: _,
            rows,
            flows,
            groups,
            sites,
            queues,
            slo_violations,
            degraded,
            breaches,
            attributed,
            wrong_caught,
            events,
            peer_events,
        } = a;
        AggregateWire {
            flows: flows.clone(),
            groups: groups.clone(),
            sites: sites.clone(),
            queues: queues.clone(),
            slo_violations: slo_violations.clone(),
            degraded: degraded.clone(),
            breaches: *breaches,
            attributed: attributed.clone(),
            wrong_caught: *wrong_caught,
            events: *events,
            peer_events: *peer_events,
            rows: rows.iter().map(RowWire::from).collect(),
        }
    }
}

impl AggregateWire {
    /// The aggregate, its rows sorted by index; an error when rows repeat an index.
    fn into_aggregate(self, seed: u64) -> Result<Aggregate, String> {
        let mut rows = self
            .rows
            .into_iter()
            .map(ReplicationRow::try_from)
            .collect::<Result<Vec<_>, String>>()?;
        rows.sort_by_key(|r| r.index);
        if rows.windows(2).any(|w| w[0].index == w[1].index) {
            return Err("a replication appears twice".to_string());
        }
        Ok(Aggregate {
            seed,
            rows,
            flows: self.flows,
            groups: self.groups,
            sites: self.sites,
            queues: self.queues,
            slo_violations: self.slo_violations,
            degraded: self.degraded,
            breaches: self.breaches,
            attributed: self.attributed,
            wrong_caught: self.wrong_caught,
            events: self.events,
            peer_events: self.peer_events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_exactly() {
        // The text form of a float reads back to the same bits (also for awkward values).
        for x in [
            0.1,
            1.0 / 3.0,
            2.0f64.powi(-1074),
            f64::MAX,
            0.999_999_999_999_9,
            -0.0,
            123_456.789,
        ] {
            let json = serde_json::to_string(&Exact64(x)).unwrap();
            let back: Exact64 = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0.to_bits(), x.to_bits(), "{x}");
        }
        for x in [0.1f32, 164.4, 1.0e-38, f32::MAX] {
            let json = serde_json::to_string(&Exact32(x)).unwrap();
            let back: Exact32 = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0.to_bits(), x.to_bits(), "{x}");
        }
    }

    #[test]
    fn histograms_round_trip_exactly() {
        // A histogram written and read back is identical, u128 sum included.
        let mut h = Histogram::new();
        for v in [0, 1, 255, 256, 1_000_000, u64::MAX / 2, u64::MAX] {
            h.record(v);
        }
        let json = serde_json::to_string(&h).unwrap();
        let back: Histogram = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        let empty: Histogram = serde_json::from_str(&serde_json::to_string(&Histogram::new()).unwrap()).unwrap();
        assert_eq!(empty, Histogram::new());
    }

    #[test]
    fn damaged_histograms_are_refused() {
        // Counts that do not add up, or a bucket out of range, are errors, not panics.
        let bad = [
            r#"{"count":2,"sum":3,"min":1,"max":2,"buckets":[[1,1]]}"#,
            r#"{"count":1,"sum":3,"min":1,"max":2,"buckets":[[999999,1]]}"#,
            r#"{"count":2,"sum":3,"min":1,"max":2,"buckets":[[2,1],[1,1]]}"#,
            r#"{"count":1,"sum":3,"min":5,"max":2,"buckets":[[1,1]]}"#,
        ];
        for b in bad {
            assert!(serde_json::from_str::<Histogram>(b).is_err(), "{b}");
        }
    }

    #[test]
    fn partial_names() {
        // Only shard-K-of-N.json names are taken for partial results.
        assert!(is_partial_name("shard-0-of-3.json"));
        assert!(is_partial_name(&file_name(Shard { index: 12, count: 40 })));
        for n in [
            "shard-a-of-3.json",
            "shard-0-of-.json",
            "summary.json",
            "shard-0-3.json",
        ] {
            assert!(!is_partial_name(n), "{n}");
        }
    }
}
