//! Settable keys: the numeric fields of a scenario and its topology,
//! addressed by their path in the files, and the edits that set them. Two
//! things set them: `chaoscal sweep --set KEY=…` (a grid of runs) and a
//! scenario's `[[uncertain]]` inputs (a draw per replication).
//!
//! A key names a field by its path in the files, array elements by their
//! `name` (calls by their `to`, any element by its position):
//! `services.<name>.replicas`, `services.<name>.calls.<to>.timeout_ms`,
//! `services.<name>.calls.<to>.retry.attempts`, `workload.rate_per_s.<region>`,
//! `faults.<name or index>.duration_s`, `run.duration_s`, … plus
//! `workload.multiplier`, which scales every arrival rate. An edit changes
//! the parsed TOML tables, which then load like files
//! ([`crate::input::scenario_from_str`]), so every range and reference check
//! of the loader applies to set values too.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

/// A scenario and its topology as parsed TOML tables, ready to be edited.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub scenario_path: PathBuf,
    pub topology_path: PathBuf,
    pub scenario: Table,
    pub topology: Table,
}

/// Top-level keys of a topology file (everything else belongs to the scenario).
const TOPOLOGY_KEYS: [&str; 6] = ["name", "description", "regions", "network", "flows", "services"];

fn is_topology_key(first: &str) -> bool {
    TOPOLOGY_KEYS.contains(&first) || first == "queues"
}

/// Keys a sweep must not touch: they are the sweep's own flags.
const RESERVED: [&str; 2] = ["run.seed", "run.replications"];

/// Optional integer fields a sweep may set even when the file leaves them
/// to their defaults (a service's, then a call's).
const SERVICE_DEFAULTS: [&str; 4] = ["replicas", "concurrency", "queue", "error_rate"];
const CALL_DEFAULTS: [&str; 4] = ["timeout_ms", "retry.attempts", "retry.budget", "p"];

/// What a key is set to.
#[derive(Clone, Debug, PartialEq)]
pub enum Setting {
    /// A number written as the file writes the field: a field written as an
    /// integer takes whole numbers only (what `sweep --set` does).
    Like(f64),
    /// Exactly this TOML value (uncertain inputs: a float, or an integer
    /// for a field that takes whole numbers).
    Exact(Value),
}

impl Inputs {
    /// Parses the two texts (already known to load: the caller loaded them).
    pub fn new(scenario_path: &Path, scenario: &str, topology_path: &Path, topology: &str) -> Result<Self, String> {
        let scenario_tbl: Table = scenario
            .parse()
            .map_err(|e| format!("{}: {e}", scenario_path.display()))?;
        let topology_tbl: Table = topology
            .parse()
            .map_err(|e| format!("{}: {e}", topology_path.display()))?;
        Ok(Inputs {
            scenario_path: scenario_path.to_path_buf(),
            topology_path: topology_path.to_path_buf(),
            scenario: scenario_tbl,
            topology: topology_tbl,
        })
    }

    /// Every settable key, sorted: the numeric fields present in the
    /// files, the defaulted service and call fields, and `workload.multiplier`.
    /// The `[[uncertain]]` entries' own numbers are not keys.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        numeric_leaves(&self.topology, "", &mut keys);
        numeric_leaves(&self.scenario, "", &mut keys);
        for (svc, name) in named_elements(self.topology.get("services")) {
            for f in SERVICE_DEFAULTS {
                keys.push(format!("services.{name}.{f}"));
            }
            if let Some(t) = svc.as_table() {
                for (_, to) in named_elements(t.get("calls")) {
                    for f in CALL_DEFAULTS {
                        keys.push(format!("services.{name}.calls.{to}.{f}"));
                    }
                }
            }
        }
        if self
            .scenario
            .get("workload")
            .and_then(|w| w.get("rate_per_s"))
            .is_some()
        {
            keys.push("workload.multiplier".to_string());
        }
        keys.retain(|k| !RESERVED.contains(&k.as_str()) && !k.starts_with("uncertain."));
        keys.sort();
        keys.dedup();
        keys
    }

    /// The two texts (topology, scenario) with `key = value` applied for
    /// every pair, each value written as the file writes its field
    /// ([`Setting::Like`]). A key that is also one of the scenario's
    /// `[[uncertain]]` inputs is fixed at the value: that input is dropped.
    pub fn apply(&self, settings: &[(String, f64)]) -> Result<(String, String), String> {
        let valid = self.keys();
        let mut scn = self.scenario.clone();
        let mut topo = self.topology.clone();
        for (key, value) in settings {
            if !valid.iter().any(|k| k == key) {
                return Err(unknown_key(key, &valid));
            }
            set_key(&mut scn, &mut topo, key, &Setting::Like(*value))?;
            drop_uncertain(&mut scn, key);
        }
        texts(&topo, &scn)
    }
}

/// The texts of edited tables: (topology, scenario).
pub fn texts(topo: &Table, scn: &Table) -> Result<(String, String), String> {
    let topo_text = toml::to_string(topo).map_err(|e| format!("cannot write the edited topology: {e}"))?;
    let scn_text = toml::to_string(scn).map_err(|e| format!("cannot write the edited scenario: {e}"))?;
    Ok((topo_text, scn_text))
}

/// Sets one key (known to be valid) in the scenario's or the topology's table.
pub fn set_key(scn: &mut Table, topo: &mut Table, key: &str, setting: &Setting) -> Result<(), String> {
    if key == "workload.multiplier" {
        let factor = match setting {
            Setting::Like(v) => *v,
            Setting::Exact(v) => v
                .as_float()
                .or_else(|| v.as_integer().map(|i| i as f64))
                .unwrap_or(f64::NAN),
        };
        return scale_rates(scn, factor);
    }
    let segs: Vec<&str> = key.split('.').collect();
    let root = if is_topology_key(segs[0]) { topo } else { scn };
    set_path(root, &segs, setting).map_err(|e| format!("{key}: {e}"))
}

/// Removes the `[[uncertain]]` entries that set `key`.
fn drop_uncertain(scn: &mut Table, key: &str) {
    if let Some(Value::Array(items)) = scn.get_mut("uncertain") {
        items.retain(|u| u.get("set").and_then(|s| s.as_str()) != Some(key));
    }
}

/// Keys close to an unknown one, closest first: the same last segment, or
/// a few edits away (a typo in a name).
pub fn near_keys<'a>(key: &str, valid: &'a [String]) -> Vec<&'a String> {
    let last = key.rsplit('.').next().unwrap_or(key);
    let mut scored: Vec<(usize, &String)> = valid
        .iter()
        .filter_map(|k| {
            let d = edit_distance(key, k);
            let same_field = k.ends_with(&format!(".{last}"));
            (d <= 3 || same_field).then_some((if d <= 3 { d } else { 4 + d }, k))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(12).map(|(_, k)| k).collect()
}

/// Levenshtein distance over characters (keys are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The error for a key that is not settable, with the list of valid keys.
pub fn unknown_key(key: &str, valid: &[String]) -> String {
    let close = near_keys(key, valid);
    let mut msg = format!("unknown sweep key {key:?}");
    if !close.is_empty() {
        msg.push_str(&format!(
            "; near matches: {}",
            close.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    msg.push_str(&format!("\nvalid keys ({}):\n  {}", valid.len(), valid.join("\n  ")));
    msg
}

/// Array-of-tables elements with the name a key uses for them: the
/// element's `name`, else its `to` (calls), else its position (0, 1, …);
/// a repeated name gets `#2`, `#3`…
fn named_elements(v: Option<&Value>) -> Vec<(&Value, String)> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(t) = item.as_table() else { continue };
        let base = t
            .get("name")
            .or_else(|| t.get("to"))
            .and_then(|v| v.as_str())
            .map(|s| s.to_string())
            .unwrap_or_else(|| i.to_string());
        let repeats = seen.iter().filter(|s| **s == base).count();
        seen.push(base.clone());
        let name = if repeats == 0 {
            base
        } else {
            format!("{base}#{}", repeats + 1)
        };
        out.push((item, name));
    }
    out
}

fn numeric_leaves(t: &Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in t {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Integer(_) | Value::Float(_) => out.push(path),
            Value::Table(sub) => numeric_leaves(sub, &path, out),
            Value::Array(items) if items.iter().all(|i| i.is_table()) => {
                for (item, name) in named_elements(Some(v)) {
                    if let Some(sub) = item.as_table() {
                        numeric_leaves(sub, &format!("{path}.{name}"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The value a leaf takes.
fn leaf_value(existing: Option<&Value>, first: &str, setting: &Setting) -> Result<Value, String> {
    let value = match setting {
        Setting::Exact(v) => return Ok(v.clone()),
        Setting::Like(v) => *v,
    };
    let integral = value.fract() == 0.0 && value.abs() < 9.0e15;
    Ok(match existing {
        Some(Value::Float(_)) => Value::Float(value),
        Some(Value::Integer(_)) if !integral => {
            return Err(format!("{first} takes whole numbers; {value} is not one"));
        }
        Some(Value::Integer(_)) | None if integral => Value::Integer(value as i64),
        None => Value::Float(value),
        Some(other) => return Err(format!("{first} is a {}, not a number", other.type_str())),
    })
}

/// Sets the numeric field at `segs` (array elements by name or position),
/// creating missing tables on the way.
fn set_path(t: &mut Table, segs: &[&str], setting: &Setting) -> Result<(), String> {
    let (first, rest) = segs.split_first().ok_or("empty key")?;
    if rest.is_empty() {
        let new = leaf_value(t.get(*first), first, setting)?;
        t.insert(first.to_string(), new);
        return Ok(());
    }
    match t.get_mut(*first) {
        Some(Value::Table(sub)) => set_path(sub, rest, setting),
        Some(v @ Value::Array(_)) => {
            // The element's name may itself contain dots: try the longest match first.
            let names: Vec<String> = named_elements(Some(v)).into_iter().map(|(_, n)| n).collect();
            let Value::Array(items) = v else {
                unreachable!("matched an array above")
            };
            for take in (1..=rest.len().saturating_sub(1)).rev() {
                let name = rest[..take].join(".");
                let pos = names
                    .iter()
                    .position(|n| *n == name)
                    .or_else(|| name.parse::<usize>().ok().filter(|&i| i < items.len()));
                if let Some(i) = pos
                    && let Some(sub) = items[i].as_table_mut()
                {
                    return set_path(sub, &rest[take..], setting);
                }
            }
            Err(format!("no element of {first} named {:?}", rest[0]))
        }
        Some(other) => Err(format!("{first} is a {}, not a table", other.type_str())),
        None => {
            let mut sub = Table::new();
            set_path(&mut sub, rest, setting)?;
            t.insert(first.to_string(), Value::Table(sub));
            Ok(())
        }
    }
}

/// `workload.multiplier`: every arrival rate times `factor`.
fn scale_rates(scn: &mut Table, factor: f64) -> Result<(), String> {
    if !(factor.is_finite() && factor >= 0.0) {
        return Err(format!(
            "workload.multiplier must be a non-negative number, not {factor}"
        ));
    }
    let rates = scn
        .get_mut("workload")
        .and_then(|w| w.as_table_mut())
        .and_then(|w| w.get_mut("rate_per_s"))
        .ok_or("the scenario has no workload.rate_per_s")?;
    let scale = |v: &mut Value| match v {
        Value::Integer(i) => *v = Value::Float(*i as f64 * factor),
        Value::Float(f) => *f *= factor,
        _ => {}
    };
    match rates {
        Value::Table(t) => t.iter_mut().for_each(|(_, v)| scale(v)),
        v => scale(v),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_resolve_names_and_defaults() {
        // Services, calls and regions are addressed by name; defaulted fields can be set; unknown keys list the valid ones.
        let topo = "name = \"t\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"f\"\nentry = \"a\"\n\
                    [[services]]\nname = \"a\"\nregions = [\"r\"]\nservice_time = 1\n\
                    [[services.calls]]\nto = \"b\"\ntimeout_ms = 100\n\
                    [[services]]\nname = \"b\"\nregions = [\"r\"]\nreplicas = 2\nservice_time = { dist = \"exp\", mean_ms = 2 }\n";
        let scn = "[experiment]\nname = \"s\"\ntopology = \"t.toml\"\n[run]\nduration_s = 10\nseed = 3\n\
                   [workload]\nrate_per_s = { r = 10 }\n";
        let inputs = Inputs::new(Path::new("s.toml"), scn, Path::new("t.toml"), topo).unwrap();
        let keys = inputs.keys();
        for k in [
            "services.a.replicas",
            "services.b.replicas",
            "services.a.calls.b.timeout_ms",
            "services.a.calls.b.retry.attempts",
            "services.b.service_time.mean_ms",
            "workload.rate_per_s.r",
            "workload.multiplier",
            "run.duration_s",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
        }
        assert!(!keys.iter().any(|x| x == "run.seed"));
        let (t, s) = inputs
            .apply(&[
                ("services.b.replicas".into(), 5.0),
                ("services.a.calls.b.retry.attempts".into(), 3.0),
                ("workload.multiplier".into(), 2.5),
            ])
            .unwrap();
        let t: Table = t.parse().unwrap();
        let s: Table = s.parse().unwrap();
        assert_eq!(t["services"][1]["replicas"].as_integer(), Some(5));
        assert_eq!(t["services"][0]["calls"][0]["retry"]["attempts"].as_integer(), Some(3));
        assert_eq!(s["workload"]["rate_per_s"]["r"].as_float(), Some(25.0));
        let err = inputs.apply(&[("services.c.replicas".into(), 1.0)]).unwrap_err();
        assert!(
            err.contains("unknown sweep key") && err.contains("services.a.replicas"),
            "{err}"
        );
        let err = inputs.apply(&[("services.b.replicas".into(), 1.5)]).unwrap_err();
        assert!(err.contains("whole numbers"), "{err}");
    }

    #[test]
    fn near_keys_catch_typos_and_same_fields() {
        // A one-letter typo in a service name and a misspelt field both find the intended key first.
        let valid: Vec<String> = [
            "services.psp-primary.error_rate",
            "services.psp-primary.replicas",
            "services.fraud.error_rate",
            "workload.rate_per_s.eu-west",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            near_keys("services.psp-primery.error_rate", &valid)[0],
            "services.psp-primary.error_rate"
        );
        assert_eq!(
            near_keys("services.psp-primary.error_rat", &valid)[0],
            "services.psp-primary.error_rate"
        );
        assert!(near_keys("nothing.like.it", &valid).is_empty());
    }

    #[test]
    fn a_swept_key_fixes_an_uncertain_input() {
        // Sweeping a key that an [[uncertain]] entry also sets drops that entry (the sweep fixes it); others stay.
        let topo = "name = \"t\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"f\"\nentry = \"a\"\n\
                    [[services]]\nname = \"a\"\nregions = [\"r\"]\nservice_time = 1\nerror_rate = 0.01\n";
        let scn = "[experiment]\nname = \"s\"\ntopology = \"t.toml\"\n[run]\nduration_s = 10\nseed = 3\n\
                   [workload]\nrate_per_s = { r = 10 }\n\
                   [[uncertain]]\nset = \"services.a.error_rate\"\ndist = { dist = \"uniform\", min = 0, max = 0.1 }\n\
                   [[uncertain]]\nset = \"workload.rate_per_s.r\"\ndist = { dist = \"uniform\", min = 5, max = 15 }\n";
        let inputs = Inputs::new(Path::new("s.toml"), scn, Path::new("t.toml"), topo).unwrap();
        assert!(!inputs.keys().iter().any(|k| k.starts_with("uncertain.")));
        let (_, s) = inputs.apply(&[("services.a.error_rate".into(), 0.02)]).unwrap();
        let s: Table = s.parse().unwrap();
        let left = s["uncertain"].as_array().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["set"].as_str(), Some("workload.rate_per_s.r"));
    }
}
