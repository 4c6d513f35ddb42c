//! The random streams of one replication.
//!
//! Replication `i` of a run seeded `s` draws only from ChaCha8 generators
//! keyed by (s, subsystem) on stream number `i`: adding replications never
//! changes earlier ones, and each subsystem (arrivals, service times,
//! network, routing, faults, resilience, the rollout's traffic split) has a
//! stream of its own, so a change
//! in how one subsystem draws never shifts another's draws.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random streams of one replication, one per subsystem, so a change in
/// how one subsystem draws never shifts another (and configurations that
/// differ only in, say, faults see the same arrivals: common random numbers).
pub struct Streams {
    pub arrivals: ChaCha8Rng,
    pub service: ChaCha8Rng,
    pub network: ChaCha8Rng,
    pub routing: ChaCha8Rng,
    pub faults: ChaCha8Rng,
    pub resilience: ChaCha8Rng,
    /// Which calls a canary's weight sends to the new version (drawn only
    /// while the weight is strictly between 0 and 100).
    pub rollout: ChaCha8Rng,
}

/// SplitMix64 finaliser: spreads a seed and a subsystem tag over 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Streams {
    /// Replication `replication` of a run seeded `seed`: ChaCha8 keyed by
    /// (seed, subsystem), on stream number `replication`.
    pub fn new(seed: u64, replication: u64) -> Self {
        let make = |tag: u64| {
            let mut r = ChaCha8Rng::seed_from_u64(mix(seed ^ mix(tag)));
            r.set_stream(replication);
            r
        };
        Streams {
            arrivals: make(1),
            service: make(2),
            network: make(3),
            routing: make(4),
            faults: make(5),
            resilience: make(6),
            rollout: make(7),
        }
    }
}
