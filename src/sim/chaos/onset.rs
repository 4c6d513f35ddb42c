//! What the start of a fault window asks of the replication. Faults that act
//! on calls are switched on in [`super::ActiveFaults`]; faults that stop
//! replicas or queues are carried out by the replication, which asks here
//! which ones.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::model::{Fault, FaultEffect, KillCount};

/// What a fault window's start does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Onset {
    /// An effect on calls, switched on in [`super::ActiveFaults`].
    Effect,
    /// A random kill's window: replica `unit` of the target's groups
    /// (counted over its groups in order) dies.
    KillUnit { unit: u32 },
    /// `count` of the target's replicas die in each of its groups, chosen by [`victims`].
    KillCount(KillCount),
    /// Every replica of every service in the fault's regions dies and their queues stall.
    Outage,
    /// The queue's consumers in the fault's regions stop.
    Stall,
}

/// What window `unit` of fault `f` does when it starts.
pub fn onset(f: &Fault, unit: u32) -> Onset {
    match f.effect {
        FaultEffect::Kill { .. } if f.random.is_some() => Onset::KillUnit { unit },
        FaultEffect::Kill { count } => Onset::KillCount(count),
        FaultEffect::RegionOutage => Onset::Outage,
        FaultEffect::QueueStall => Onset::Stall,
        _ => Onset::Effect,
    }
}

/// Which of a group's replicas a scheduled kill takes: of `total` in
/// service, the `alive` ones are candidates; the first returned-many of
/// `alive` die after a partial Fisher–Yates shuffle drawn from the fault
/// stream (none is drawn when nobody is alive).
pub fn victims(count: KillCount, alive: &mut [u32], total: u32, rng: &mut ChaCha8Rng) -> usize {
    let n = match count {
        KillCount::Replicas(n) => n,
        KillCount::Percent(p) => ((p / 100.0) * total as f64).ceil() as u32,
    }
    .min(alive.len() as u32) as usize;
    for k in 0..n {
        let j = rng.random_range(k..alive.len());
        alive.swap(k, j);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_percent_rounds_up_and_never_exceeds_the_living() {
        // 30% of 4 replicas is 1.2: two die; asking for 5 of 3 alive kills 3;
        // the victims are distinct replicas of the candidates.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut alive = vec![10, 11, 12, 13];
        let n = victims(KillCount::Percent(30.0), &mut alive, 4, &mut rng);
        assert_eq!(n, 2);
        let mut dead = alive[..n].to_vec();
        dead.sort_unstable();
        dead.dedup();
        assert_eq!(dead.len(), 2);
        let mut three = vec![1, 2, 3];
        assert_eq!(victims(KillCount::Replicas(5), &mut three, 4, &mut rng), 3);
    }
}
