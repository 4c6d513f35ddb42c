//! Chaos: which faults are active when ([`timeline`]), what an active fault
//! does to calls ([`effects`]), and what a fault window's start asks of the
//! replication ([`onset`](mod@onset): which replicas die, which queues stall). Chaos
//! decides; the replication carries out.
//!
//! A replica killed by two faults restarts when the first one that has an
//! end ends.

pub mod effects;
pub mod onset;
pub mod timeline;

pub use effects::ActiveFaults;
pub use onset::{Onset, onset, victims};
pub use timeline::{FaultWindow, MAX_WINDOWS_PER_FAULT, draw_windows};
