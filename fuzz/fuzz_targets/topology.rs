//! The topology loader on arbitrary text: `topology_from_str`, the same
//! parse and resolve stages `load_topology` runs on a file, and `file_kind`,
//! which `validate` uses to tell a topology from a scenario.
#![no_main]

use std::path::Path;

use chaoscal::input::{Source, file_kind, topology_from_str};
use chaoscal_fuzz::{Text, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A file that is not UTF-8 is refused by `read_source` before parsing.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("topologies/fuzz.toml");
    if let Err(diags) = file_kind(&Source::new(path, text)) {
        check::<()>(&[Text { path, text }], &Err(diags));
    }
    check(&[Text { path, text }], &topology_from_str(path, text));
});
