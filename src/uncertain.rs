//! Uncertain inputs at run time: what each replication draws, the model it
//! runs, and ([`sensitivity`]) which inputs the outcomes hang on.
//!
//! # Draws
//! Input `set` of replication `i` in a run seeded `s` is the quantile of its
//! distribution at a uniform number from a ChaCha8 stream keyed by
//! (s, the key `set`) on stream number `i`. So a draw is a pure function of
//! (seed, replication, key): a replication replayed alone, a shard, a round
//! of a sequential run all draw the same values; adding, removing or
//! reordering inputs shifts no other input's draw; and no simulation stream
//! is touched (they are keyed by subsystem, [`crate::sim::streams`]).
//!
//! The loader has checked that the scenario accepts every value in the
//! inputs' ranges (`crate::input`'s `[[uncertain]]` checks). Should some
//! combination be refused anyway (a rule that is neither an interval nor a
//! linear inequality), the replication draws again from the next numbers
//! of the same streams — the inputs are then drawn conditioned on the
//! scenario accepting them — up to [`MAX_ATTEMPTS`] times.

pub mod sensitivity;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::input::{LoadedScenario, replication_model};
use crate::model::{Scenario, Uncertainty};

/// Draws per replication before giving up on a scenario that refuses them.
pub const MAX_ATTEMPTS: usize = 100;

/// The model one replication runs, and the value of each uncertain input.
#[derive(Clone, Debug)]
pub struct Drawn {
    pub model: LoadedScenario,
    pub values: Vec<f64>,
}

/// SplitMix64 finaliser (as the simulation streams use).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a key, with a domain prefix so no key's tag can equal a
/// simulation subsystem's.
fn key_tag(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"uncertain\0".iter().chain(key.as_bytes()) {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The stream input `key` draws from in replication `index`.
fn stream(seed: u64, key: &str, index: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(mix(seed ^ mix(key_tag(key))));
    r.set_stream(index);
    r
}

/// The uniform numbers of one replication, one stream per input.
struct InputStreams<'a> {
    u: &'a Uncertainty,
    rngs: Vec<ChaCha8Rng>,
}

impl<'a> InputStreams<'a> {
    fn new(u: &'a Uncertainty, seed: u64, index: u64) -> Self {
        let rngs = u.inputs.iter().map(|x| stream(seed, &x.set, index)).collect();
        InputStreams { u, rngs }
    }

    /// The next draw: a value per input.
    fn next_values(&mut self) -> Vec<f64> {
        self.u
            .inputs
            .iter()
            .zip(self.rngs.iter_mut())
            .map(|(x, r)| x.value_at(r.random::<f64>()))
            .collect()
    }
}

/// The values of replication `index`'s first `attempts` draws, input by input
/// (`out[a][j]`: attempt a, input j).
pub fn draws(u: &Uncertainty, seed: u64, index: u64, attempts: usize) -> Vec<Vec<f64>> {
    let mut s = InputStreams::new(u, seed, index);
    (0..attempts).map(|_| s.next_values()).collect()
}

/// The model replication `index` of a run seeded `seed` runs, when the
/// scenario has uncertain inputs.
///
/// # Panics
/// When [`MAX_ATTEMPTS`] draws in a row are refused by the scenario: the
/// loader's checks of the inputs' ranges make that impossible for every
/// rule the loader has (intervals and linear inequalities).
pub fn replication(scn: &Scenario, seed: u64, index: u64) -> Option<Drawn> {
    let u = scn.uncertain.as_deref()?;
    let mut streams = InputStreams::new(u, seed, index);
    let mut last = String::new();
    for _ in 0..MAX_ATTEMPTS {
        let values = streams.next_values();
        match replication_model(u, &values) {
            Ok(model) => return Some(Drawn { model, values }),
            Err(e) => last = e,
        }
    }
    panic!(
        "invariant broken: the load-time checks of [[uncertain]] admit every draw, yet replication {index} \
         of {} was refused {MAX_ATTEMPTS} times; last: {last}",
        scn.path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{InputDist, UncertainInput};

    fn input(set: &str, min: f64, max: f64) -> UncertainInput {
        UncertainInput {
            set: set.into(),
            dist: InputDist::Uniform { min, max },
            written: String::new(),
            lo: min,
            hi: max,
            integral: false,
        }
    }

    fn uncertainty(inputs: Vec<UncertainInput>) -> Uncertainty {
        Uncertainty {
            inputs,
            scenario: Default::default(),
            topology: Default::default(),
            scenario_path: "s.toml".into(),
            topology_path: "t.toml".into(),
        }
    }

    #[test]
    fn adding_an_input_shifts_no_other_draw() {
        // Draws are keyed by the input's key: a new input before the others leaves their values as they were.
        let one = uncertainty(vec![input("a.x", 0.0, 1.0), input("b.y", 10.0, 20.0)]);
        let two = uncertainty(vec![
            input("c.new", 5.0, 6.0),
            input("a.x", 0.0, 1.0),
            input("b.y", 10.0, 20.0),
        ]);
        for i in [0, 7, 1000] {
            let d1 = draws(&one, 42, i, 3);
            let d2 = draws(&two, 42, i, 3);
            for a in 0..3 {
                assert_eq!(d1[a][0], d2[a][1]);
                assert_eq!(d1[a][1], d2[a][2]);
            }
        }
        assert_ne!(draws(&one, 42, 0, 1), draws(&one, 42, 1, 1), "replications draw apart");
        assert_ne!(draws(&one, 42, 0, 1), draws(&one, 43, 0, 1), "seeds draw apart");
    }

    #[test]
    fn uniform_draws_fill_their_range_evenly() {
        // 4000 replications of U(10, 20): mean 15 within 4 standard errors (sd 10/√12), every value in range.
        let u = uncertainty(vec![input("a.x", 10.0, 20.0)]);
        let values: Vec<f64> = (0..4000).map(|i| draws(&u, 7, i, 1)[0][0]).collect();
        assert!(values.iter().all(|v| (10.0..=20.0).contains(v)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let se = 10.0 / 12f64.sqrt() / (values.len() as f64).sqrt();
        assert!((mean - 15.0).abs() < 4.0 * se, "{mean}");
    }
}
