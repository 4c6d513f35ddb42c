//! chaoscal: a deterministic discrete-event simulator of multi-region
//! payments meshes.
//!
//! # The pipeline
//! Data flows one way, and each stage lives in one module:
//!
//! ```text
//!  topology.toml ┐
//!  scenario.toml ┴─► input ─► model ─► montecarlo ─► results ─┬─► present
//!                     parse,   ids,     │ replications  summary.json, ├─► gate  (check)
//!                     resolve, units,   │ in parallel,  CSVs, shard   └─► sweep (sweep)
//!                     locate   defaults │ folded in     files
//!                                       ▼ order
//!                    sim: engine · chaos · mechanisms · streams ─► observe
//!                         (one replication; no I/O, no clock, no threads)
//! ```
//!
//! * [`input`] reads the user's files in two stages — first only what was
//!   written (with spans), then resolution and cross-checks — and reports
//!   every problem at once, located; it produces the [`model`].
//! * [`import`] turns a team's chaos manifests (Chaos Mesh, LitmusChaos,
//!   Istio, Toxiproxy, Argo Rollouts, PrometheusRule) into scenario and
//!   topology files that [`input`] then loads (`docs/import.md`).
//! * [`calibrate`] reads OpenTelemetry traces (OTLP/JSON) of the real mesh
//!   and writes a topology, a starter scenario and a fit report, simulating
//!   what it wrote through [`input`] and [`montecarlo`] (`docs/calibrate.md`).
//! * [`sim`] runs one replication: [`sim::engine`] (clock and event list),
//!   [`sim::chaos`] (fault timelines and effects), [`sim::mechanisms`] (each
//!   resilience mechanism as a state machine) and the replication that moves
//!   requests through the mesh; [`observe`] is what it records.
//! * [`montecarlo`] runs replications in parallel and folds what they
//!   measured ([`uncertain`]: with `[[uncertain]]` inputs, the model each
//!   replication runs, drawn from (seed, replication index), and which
//!   inputs the outcomes hang on); [`results`] turns that into the documented files
//!   (`docs/outputs.md`); [`present`] draws them for people; [`gate`] judges
//!   them for CI; [`sweep`] repeats runs over a grid; [`cli`] is the command
//!   line, one file per command.
//! * [`telemetry`] writes one replication as OpenTelemetry traces and
//!   Prometheus series (`run --replication I --trace/--metrics`,
//!   `docs/telemetry.md`): the replication builds them when asked
//!   ([`observe::telemetry`]) and hands them to a sink outside the core.
//!
//! The deterministic core (`sim`, `observe`) does no file I/O, reads no clock
//! and spawns no threads.
//!
//! # The life of a replication
//! 1. Its random streams are keyed by (seed, subsystem) on stream number
//!    `i` ([`sim::streams`]).
//! 2. Every fault's windows are drawn up front from the fault stream
//!    ([`sim::chaos::timeline`]).
//! 3. Arrivals, deliveries, service completions, responses, timeouts,
//!    retries, health checks, fault windows, guardrail checks and a
//!    rollout's steps and analysis measurements are events; the engine pops
//!    them in order and the replication handles each.
//! 4. Every figure is recorded in bounded form (counts, histograms, time
//!    buckets) for requests arriving after warm-up; requests still open 120 s
//!    after the end count as failed.
//! 5. The replication's recorder is folded into the run's aggregate, in
//!    replication order.
//!
//! # Determinism contract
//! Same inputs and seed give byte-identical outputs, for any thread count
//! and any split into shards:
//! * simulated time is integer nanoseconds; events pop in `(time, seq)`
//!   order, `seq` counting schedulings, so events due at the same time run in
//!   the order they were scheduled; a consequence due *now* may be handled at
//!   once, inside the event that caused it (the zero-delay rule,
//!   [`sim::engine`]), which orders it before everything else due now;
//! * replication `i` draws only from its own streams, and each subsystem from
//!   a stream of its own: adding replications never changes earlier ones, and
//!   adding a draw to one subsystem never shifts another's;
//! * simulation state is kept in vectors indexed by ids, never iterated from
//!   hash maps;
//! * replications run in parallel, but results are folded serially in
//!   replication order, and every aggregate figure is an integer (counts,
//!   busy time, histogram buckets, money in cents), so the sum is the same in
//!   any order and across machines.

pub mod calibrate;
pub mod cli;
pub mod decide;
pub mod gate;
pub mod import;
pub mod input;
pub mod model;
pub mod montecarlo;
pub mod observe;
pub mod present;
pub mod results;
pub mod sim;
pub mod sweep;
pub mod telemetry;
pub mod uncertain;
