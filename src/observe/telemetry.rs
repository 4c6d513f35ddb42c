//! Telemetry of one replication, as a real mesh would emit it: a trace per
//! customer request (spans for every try, every server visit, queue waits
//! and publishes, with the faults each one met) and Istio-style series
//! scraped at a fixed interval.
//!
//! This module holds the data only; the replication builds it
//! (`sim::replication::telemetry`) and hands it to a [`TelemetrySink`] that
//! lives outside the deterministic core (`crate::telemetry` writes OTLP/JSON
//! and OpenMetrics). Nothing here does I/O or reads a clock: times are
//! simulated nanoseconds since the replication began.
//!
//! Memory: a trace exists while its request (or work it started) is in
//! flight and is handed out when it ends; the series are bounded by the
//! mesh (service × region pairs, response codes, call sites, queues).

use std::collections::BTreeMap;

/// No span (a root span has no parent).
pub const NO_SPAN: u32 = u32::MAX;

/// `Place::service` of the ingress gateway through which customers enter a region.
pub const INGRESS: u32 = u32::MAX;
/// `Place::service` of chaoscal's control plane (guardrails, rollouts).
pub const CONTROL: u32 = u32::MAX - 1;
/// A source chaoscal cannot name (a late try whose caller has gone).
pub const UNKNOWN: u32 = u32::MAX - 2;

/// OTLP span kinds (their numbers are the protocol's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
}

/// Where a span ran: a replica (`instance` is its rank in its service ×
/// region), the ingress gateway of a region, or the control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    pub service: u32,
    pub region: u16,
    pub instance: u32,
}

/// How a try, a server visit or a request ended. Each maps to an HTTP
/// status (when one was sent), an OpenTelemetry `error.type` and Istio's
/// `response_code` and `response_flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Cause {
    #[default]
    Ok,
    /// The service failed (its own error, a required dependency failed, a
    /// validation that fails the call): 500.
    ServerError,
    /// The waiting room was full: 503.
    Rejected,
    /// The replica's rate limit: 429.
    RateLimited,
    /// The replica was down (connection refused).
    Refused,
    /// Dropped after waiting longer than `queue_timeout_ms`: 503.
    Expired,
    /// The replica died while it held the request (connection reset).
    Reset,
    /// An abort fault answered with this status.
    Aborted(u16),
    /// No replica anywhere to send it to: 503.
    NoRoute,
    /// The caller stopped waiting (its timeout or the try's).
    Timeout,
    /// The caller's circuit breaker refused the try (never sent).
    CircuitOpen,
    /// The caller's bulkhead was full (never sent).
    BulkheadFull,
    /// A guardrail's kill switch sent the call to its fallback (never sent).
    KillSwitch,
    /// A guardrail shed the request at the door: 429.
    Shed,
    /// Still open when the run stopped (counted as failed).
    Unfinished,
    /// The queue was at `max_depth`: the publish failed.
    QueueFull,
}

impl Cause {
    /// The HTTP status the caller received, if any.
    pub fn status(self) -> Option<u16> {
        match self {
            Cause::Ok => Some(200),
            Cause::ServerError => Some(500),
            Cause::Rejected | Cause::Expired | Cause::NoRoute | Cause::QueueFull => Some(503),
            Cause::RateLimited | Cause::Shed => Some(429),
            Cause::Aborted(s) => Some(s),
            _ => None,
        }
    }

    /// OpenTelemetry's `error.type` (`None` for success).
    pub fn error_type(self) -> Option<&'static str> {
        Some(match self {
            Cause::Ok => return None,
            Cause::ServerError => "500",
            Cause::Rejected => "rejected",
            Cause::RateLimited => "rate_limited",
            Cause::Refused => "refused",
            Cause::Expired => "expired",
            Cause::Reset => "reset",
            Cause::Aborted(_) => "aborted",
            Cause::NoRoute => "no_route",
            Cause::Timeout => "timeout",
            Cause::CircuitOpen => "circuit_open",
            Cause::BulkheadFull => "bulkhead_full",
            Cause::KillSwitch => "kill_switch",
            Cause::Shed => "shed",
            Cause::Unfinished => "unfinished",
            Cause::QueueFull => "queue_full",
        })
    }

    /// Istio's `response_code` label: the status, 504 for an upstream
    /// timeout, 503 for a refused or reset connection, 0 for no response.
    pub fn response_code(self) -> u16 {
        match self {
            Cause::Timeout => 504,
            Cause::Refused | Cause::Reset => 503,
            Cause::Unfinished => 0,
            c => c.status().unwrap_or(0),
        }
    }

    /// Istio's (Envoy's) `response_flags` label.
    pub fn response_flags(self) -> &'static str {
        match self {
            Cause::Ok | Cause::ServerError => "-",
            Cause::Rejected | Cause::Expired | Cause::QueueFull => "UO",
            Cause::RateLimited | Cause::Shed => "RL",
            Cause::Refused => "UF",
            Cause::Reset => "UC",
            Cause::Aborted(_) => "FI",
            Cause::NoRoute => "UH",
            Cause::Timeout => "UT",
            Cause::Unfinished => "DC",
            Cause::CircuitOpen | Cause::BulkheadFull | Cause::KillSwitch => "-",
        }
    }

    /// Whether the caller saw a failure.
    pub fn failed(self) -> bool {
        self != Cause::Ok
    }
}

/// What a span stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanWhat {
    /// A customer request of a flow, from the ingress gateway (the root).
    Request { flow: u16 },
    /// One try of a call to `target`; `attempt` counts from 0; `fallback`:
    /// a try of the fallback service.
    Try { target: u32, attempt: u16, fallback: bool },
    /// A replica serving a request.
    Serve,
    /// The wait for a free server at a replica.
    Queue,
    /// A publish to a queue (`queue * regions + region`, or `u32::MAX` when no
    /// region has the queue).
    Publish { queue: u32 },
    /// A guardrail's alert firing and its action taking effect.
    Guardrail { index: u16 },
    /// A rollout step: the new version's share of the calls, in percent.
    RolloutStep { weight_pct: u16 },
}

/// One span of a trace.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    /// Non-zero, unique within the replication's traces.
    pub id: u64,
    /// Index of the parent in [`Trace::spans`], or [`NO_SPAN`].
    pub parent: u32,
    pub kind: SpanKind,
    pub what: SpanWhat,
    pub place: Place,
    pub start_ns: u64,
    /// Equal to `start_ns` while open.
    pub end_ns: u64,
    pub open: bool,
    pub cause: Cause,
    /// Answered successfully but degraded (a fallback or an optional call failed).
    pub degraded: bool,
    /// A latency fault delayed it.
    pub delayed: bool,
    /// Faults already recorded as events on this span (bit i: fault i).
    pub faults: u64,
}

/// What happened at a point in a span's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventWhat {
    /// Fault `i` (index in the scenario) was active on the span's path.
    Fault(u16),
    /// Guardrail `i`'s action touched the span (a redirect, a kill switch,
    /// shedding), or took effect while the request was in flight.
    Guardrail(u16),
    /// The call ran its fallback: another service, or `None` for `degrade`.
    Fallback { to: Option<u32> },
}

/// A span event.
#[derive(Clone, Copy, Debug)]
pub struct SpanEvent {
    /// Index in [`Trace::spans`].
    pub span: u32,
    pub time_ns: u64,
    pub what: EventWhat,
}

/// One trace: a customer request with everything it set off, or a
/// control-plane action. Spans are in the order they started.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Non-zero.
    pub id: u128,
    pub spans: Vec<Span>,
    pub events: Vec<SpanEvent>,
    /// Spans still open, plus tries on their way to a replica whose caller
    /// has stopped waiting (their server span is still to come).
    pub open: u32,
    pub root_done: bool,
    /// The sampling draw, uniform in [0, 1).
    pub draw: f64,
}

impl Trace {
    /// The root span (the first).
    pub fn root(&self) -> Option<&Span> {
        self.spans.first()
    }

    /// Whether the request failed or was degraded (for tail sampling).
    pub fn troubled(&self) -> bool {
        self.root().is_some_and(|r| r.cause.failed() || r.degraded)
    }
}

/// Who reported a request, as Istio's `reporter` label says: the caller's
/// proxy (`source`) or the callee's (`destination`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reporter {
    Source,
    Destination,
}

/// One series of `istio_requests_total` (and of the duration histogram).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EdgeKey {
    pub reporter: Reporter,
    /// The caller's service ([`INGRESS`] for customers, [`UNKNOWN`]) and region.
    pub src_service: u32,
    pub src_region: u16,
    pub dst_service: u32,
    pub dst_region: u16,
    pub code: u16,
    pub flags: &'static str,
}

/// Istio's (Envoy's) default duration buckets, milliseconds.
pub const ISTIO_BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0, 300000.0,
    600000.0, 1800000.0, 3600000.0,
];

/// Counts and duration histogram of one series.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EdgeStats {
    pub count: u64,
    /// Per bucket of [`ISTIO_BUCKETS_MS`] (not cumulative); above the last: `count` minus their sum.
    pub buckets: [u64; 19],
    pub sum_ns: u128,
}

impl EdgeStats {
    pub fn record(&mut self, duration_ns: u64) {
        self.count += 1;
        self.sum_ns += duration_ns as u128;
        // le semantics: a duration equal to a bound falls in that bucket.
        let ms = duration_ns as f64 / 1e6;
        if let Some(i) = ISTIO_BUCKETS_MS.iter().position(|&b| ms <= b) {
            self.buckets[i] += 1;
        }
    }
}

/// Gauges of one scrape, indexed like the recorder's figures.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    /// Per call site × caller region: caller replicas whose breaker is
    /// closed, open, half-open (sites without a breaker stay zero).
    pub breakers: Vec<[u32; 3]>,
    /// Per queue × region: messages waiting (redeliveries in backoff included).
    pub queue_depth: Vec<u64>,
    /// Per queue × region: age of the oldest waiting message, ns (0: none).
    pub queue_oldest_ns: Vec<u64>,
    /// Per service × region: replicas running, and those the mesh routes to.
    pub replicas_up: Vec<u32>,
    pub replicas_routable: Vec<u32>,
    /// Per guardrail: actions taken so far, and whether one is in force.
    pub guardrail_actions: Vec<u64>,
    pub guardrail_active: Vec<bool>,
    /// Per fault: windows active now.
    pub faults_active: Vec<u32>,
    /// The rollout's new-version weight in percent, when the scenario has a rollout.
    pub rollout_weight_pct: Option<f64>,
}

/// Everything scraped: the request series (created as they first occur)
/// and the gauges.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub edges: BTreeMap<EdgeKey, EdgeStats>,
    pub gauges: Gauges,
}

/// What a telemetry run asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TelemetryOptions {
    pub traces: bool,
    pub metrics: bool,
    /// Share of requests whose trace is kept (head sampling by request).
    pub sample: f64,
    /// Share of failed or degraded requests kept (tail sampling); a request
    /// is kept when its draw is below `sample`, or below this when troubled.
    pub sample_troubled: f64,
    /// Scrape interval, ns (> 0).
    pub scrape_interval_ns: u64,
}

/// Receives what a replication emits, outside the deterministic core.
/// Calls arrive in simulated-time order of their cause; the same inputs
/// give the same calls.
pub trait TelemetrySink {
    /// A finished trace that sampling kept.
    fn trace(&mut self, trace: &Trace);
    /// The series as they stood just before simulated time `time_ns`.
    fn scrape(&mut self, time_ns: u64, series: &Series);
}

/// SplitMix64's finaliser: ids and sampling draws from (seed, replication, request).
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in [0, 1) from a hash.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_istio_buckets_with_le_semantics() {
        // A bound belongs to its own bucket (le: less or equal); beyond the
        // last bound only the count grows.
        let mut e = EdgeStats::default();
        e.record(500_000); // 0.5 ms
        e.record(500_001);
        e.record(4_000_000_000_000); // over an hour
        assert_eq!(e.buckets[0], 1);
        assert_eq!(e.buckets[1], 1);
        assert_eq!(e.buckets.iter().sum::<u64>(), 2);
        assert_eq!(e.count, 3);
    }

    #[test]
    fn every_failure_has_an_error_type_and_istio_labels() {
        // Only success lacks error.type; statuses and flags follow Envoy's.
        assert_eq!(Cause::Ok.error_type(), None);
        assert_eq!(
            (Cause::Timeout.response_code(), Cause::Timeout.response_flags()),
            (504, "UT")
        );
        assert_eq!(Cause::Aborted(503).status(), Some(503));
        assert_eq!(Cause::Unfinished.response_code(), 0);
        assert!(Cause::CircuitOpen.error_type().is_some());
    }
}
