//! The bundled catalog and the catalog commands: every bundled file
//! validates, `list` shows every experiment, and `validate` enforces the
//! catalog's rules while `run` only warns about them.

use std::path::Path;

use super::common::*;

fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p).display().to_string()
}

#[test]
fn bundled_catalog_validates() {
    // Every scenario and topology in the repository passes `validate` without warnings.
    let o = run_cli(&["validate", &repo("scenarios"), &repo("topologies")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("0 error(s), 0 warning(s)"), "{err}");
    let count = std::fs::read_dir(repo("scenarios")).unwrap().count();
    assert!(count >= 12, "the catalog has {count} experiments");
}

#[test]
fn list_shows_every_experiment_with_its_owner_and_targets() {
    // `list` prints one row per experiment with owner, fault target and declared radius.
    let o = run_cli(&["list", &repo("scenarios")]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    // Rows are the lines naming a severity level (sev1..sev4), not the header.
    let rows = out
        .lines()
        .filter(|l| (1..=4).any(|k| l.contains(&format!(" sev{k} "))))
        .count();
    assert_eq!(rows, std::fs::read_dir(repo("scenarios")).unwrap().count(), "{out}");
    let game_day = out
        .lines()
        .find(|l| l.starts_with("psp-latency-1500ms"))
        .expect("game day row");
    for cell in [
        "payments-sre",
        "latency psp-primary@eu-west",
        "4 svc / 1 reg",
        "checkout-latency",
    ] {
        assert!(game_day.contains(cell), "{cell} missing in {game_day}");
    }
}

#[test]
fn catalog_rules_are_errors_for_validate_warnings_for_run() {
    // A scenario without owner, hypothesis, rollback or blast radius fails
    // `validate` (exit 2, one message each) but still runs.
    let dir = scratch("catalog-rules");
    std::fs::write(dir.join("t.toml"), station(4, 100, 1.0)).unwrap();
    let text = scenario(
        50.0,
        5.0,
        0.0,
        "[[faults]]\nkind = \"abort\"\ntarget = { service = \"station\" }\npercent = 10\n",
    );
    std::fs::write(dir.join("s.toml"), text).unwrap();
    let s = dir.join("s.toml").display().to_string();
    let o = run_cli(&["validate", &s]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for rule in ["no `owner`", "no `hypothesis`", "no `rollback`", "no [blast_radius]"] {
        assert!(err.contains(rule), "{rule} not reported:\n{err}");
    }
    let out = dir.join("out").display().to_string();
    let o = run_cli(&["run", &s, "--out", &out, "--quiet", "--no-report"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
