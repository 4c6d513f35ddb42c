//! `dist = "empirical"`: the CSV of observed values, read from disk by the
//! loader. The input's first line is the `column` to read (empty: none, the
//! first column), the rest is the CSV. It is written to one file per
//! process under the temporary folder, which a topology read from memory
//! names twice: as a duration (`service_time`) and as a plain value (a
//! flow's `value`).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use chaoscal::input::topology_from_str;
use chaoscal_fuzz::{Text, check};
use libfuzzer_sys::fuzz_target;

/// The folder of this process's CSV (the topology "lives" there too, so the
/// relative `file` resolves to it).
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("chaoscal-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("create the fuzz temporary folder");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let (first, csv) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    // A column name the TOML can hold without escaping.
    let column: String = String::from_utf8_lossy(first)
        .chars()
        .filter(|c| c.is_alphanumeric() || " _-.%/()".contains(*c))
        .take(64)
        .collect();
    let column = if column.is_empty() {
        String::new()
    } else {
        format!(", column = \"{column}\"")
    };
    let dir = dir();
    std::fs::write(dir.join("values.csv"), csv).expect("write the fuzz CSV");
    let text = format!(
        r#"name = "empirical"
[[regions]]
name = "r"
[[flows]]
name = "f"
entry = "s"
value = {{ dist = "empirical", file = "values.csv"{column} }}
[[services]]
name = "s"
regions = ["r"]
service_time = {{ dist = "empirical", file = "values.csv"{column} }}
"#
    );
    let path = dir.join("topology.toml");
    check(
        &[Text {
            path: &path,
            text: &text,
        }],
        &topology_from_str(&path, &text),
    );
});
