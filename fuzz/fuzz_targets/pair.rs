//! A topology and a scenario, both arbitrary: the input is the topology,
//! then the line `# ---- scenario ----`, then the scenario (no such line:
//! all topology, empty scenario). Reaches the cross-checks between the two
//! files that a fixed topology cannot.
#![no_main]

use std::path::Path;

use chaoscal::input::scenario_from_str;
use chaoscal_fuzz::{PAIR_SEPARATOR, Text, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let (topology, scenario) = input.split_once(PAIR_SEPARATOR).unwrap_or((input, ""));
    let tpath = Path::new("topologies/fuzz.toml");
    let spath = Path::new("scenarios/fuzz.toml");
    let result = scenario_from_str(tpath, topology, spath, scenario);
    check(
        &[
            Text {
                path: tpath,
                text: topology,
            },
            Text {
                path: spath,
                text: scenario,
            },
        ],
        &result,
    );
});
