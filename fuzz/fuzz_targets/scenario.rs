//! The scenario loader on arbitrary text, against a bundled topology: the
//! one whose file name the text mentions (as `topology = "..."` does), else
//! eu-us-payments.
#![no_main]

use std::path::Path;

use chaoscal::input::scenario_from_str;
use chaoscal_fuzz::{Text, check, topology_for};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (name, topology) = topology_for(text);
    let tpath = Path::new("topologies").join(name);
    let spath = Path::new("scenarios/fuzz.toml");
    let result = scenario_from_str(&tpath, topology, spath, text);
    check(
        &[
            Text {
                path: &tpath,
                text: topology,
            },
            Text { path: spath, text },
        ],
        &result,
    );
});
