//! The importer on an arbitrary manifest (YAML or JSON, one or several
//! documents): Chaos Mesh, Litmus, Istio, Toxiproxy, Argo Rollouts and
//! PrometheusRule readers, the mapping onto the import fixtures' topology,
//! and the written scenario loaded back. Whatever the text, the import
//! succeeds with warnings only or fails with errors located in the manifest.
#![no_main]

use std::path::Path;

use chaoscal::import::{Options, from_texts};
use chaoscal_fuzz::{Text, check};
use libfuzzer_sys::fuzz_target;

const TOPOLOGY_PATH: &str = "tests/fixtures/import/topology.toml";
const TOPOLOGY: &str = include_str!("../../tests/fixtures/import/topology.toml");
const MANIFEST_PATH: &str = "manifests/fuzz.yaml";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let result = from_texts(
        &[(MANIFEST_PATH, text)],
        (TOPOLOGY_PATH, TOPOLOGY),
        None,
        &Options::default(),
    )
    .map(|imported| (imported.scenario_toml, imported.diagnostics));
    check(
        &[
            Text {
                path: Path::new(TOPOLOGY_PATH),
                text: TOPOLOGY,
            },
            Text {
                path: Path::new(MANIFEST_PATH),
                text,
            },
        ],
        &result,
    );
});
