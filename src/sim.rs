//! The simulator: the deterministic core that turns a resolved topology and
//! scenario into what one replication measured. It does no file I/O, reads
//! no clock and spawns no threads.
//!
//! * [`engine`] — simulated time (integer ns) and the future-event list,
//!   with its ordering contract;
//! * [`streams`] — the random streams of a replication, one per subsystem;
//! * [`chaos`] — when each fault is active (timelines) and what an active
//!   fault does to a call; it decides, the replication carries out;
//! * [`mechanisms`] — each resilience mechanism as a small state machine
//!   (circuit breaker, retry backoff and budget, bulkhead, outlier
//!   detection, token bucket);
//! * `replication` — the mesh of one replication: replicas, calls, requests,
//!   queues, guardrails and a canary rollout, and the event handlers that
//!   move them;
//! * [`floor`] and [`skeleton`] — yardsticks for `chaoscal bench`, not
//!   used by a run: the least an event loop does per event, and a
//!   scenario's hops and latencies without its mechanisms.
//!
//! # The life of a request
//! 1. An arrival in region R picks a flow and becomes a *root call* to the
//!    flow's entry service, routed like any call.
//! 2. A call is routed to a replica (caller's region first, then the
//!    nearest, skipping replicas believed unhealthy), crosses the network
//!    (and any injected delay or abort), and is delivered.
//! 3. The replica's rate limit may turn it away; otherwise it is served at
//!    once if one of its `concurrency` servers is free, queued FIFO if its
//!    waiting room has space, or rejected. A request that waited longer than
//!    `queue_timeout_ms` is dropped when its turn comes.
//! 4. A served request does its own work (`service_time`, stretched by
//!    slowdown faults; its own `error_rate` fails it), then runs its calls
//!    stage by stage (calls of a stage in parallel), holding its server all
//!    along (thread-per-request). A call to a queue is a publish: the broker
//!    acknowledges it and consumers process it later.
//! 5. Each try of a call asks the caller replica's circuit breaker first, the
//!    call as a whole its bulkhead. A failed try is retried per the policy
//!    (backoff, jitter, budget, per-try timeout); then the fallback runs; a
//!    required call that still fails fails the request, an optional one
//!    marks it degraded.
//! 6. The caller gives up at `timeout_ms`; the callee keeps working and its
//!    late answer is dropped.
//! 7. The root call's answer back in region R ends the customer request.

pub mod chaos;
pub mod engine;
pub mod floor;
pub mod mechanisms;
mod replication;
pub mod skeleton;
mod slab;
pub mod streams;

pub use chaos::FaultWindow;
pub use engine::Time;
pub use replication::{
    BUDGET_WINDOW_NS, DRAIN_NS, GuardOutcome, ReplicationOutput, RolloutOutcome, Withdrawal, run_replication, run_twin,
    run_with_telemetry,
};
pub use streams::Streams;
