//! CI gates, adaptive replications, sweeps and shards (issue 6): `check`
//! verdicts and exit codes, baseline regressions, JUnit shape, `--precision`,
//! `sweep` against Erlang C, and `run --shard` + `merge` byte-identical to
//! one run.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::common::{run_cli, scenario, scratch, station};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("chaoscal exits with a code")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Writes `t.toml` and `s.toml` into `dir`; returns the scenario path.
fn write_model(dir: &Path, topology: &str, scenario: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("t.toml"), topology).unwrap();
    std::fs::write(dir.join("s.toml"), scenario).unwrap();
    dir.join("s.toml")
}

/// A light M/M/4 station whose only trouble is a 100% abort that starts at
/// U(0, 400) s and lasts beyond the 100 s run. The availability SLO (90%)
/// is violated when the abort covers more than 10% of the run, i.e. when it
/// starts before ~90 s: probability ≈ 90/400 = 0.225. Containment (0
/// services allowed) is breached whenever the abort starts inside the run:
/// ≈ 100/400 = 0.25.
fn zone_scenario(limit: f64) -> String {
    scenario(
        50.0,
        100.0,
        0.0,
        &format!(
            "[[faults]]\nname = \"abort\"\nkind = \"abort\"\ntarget = {{ service = \"station\" }}\n\
             start_s = {{ dist = \"uniform\", min = 0, max = 400 }}\nduration_s = 1000\npercent = 100\n\
             [[slos]]\nname = \"avail\"\nkind = \"availability\"\nobjective = 0.9\n\
             [blast_radius]\nmax_services = 0\n\
             [expect]\nmax_violation_probability = {{ avail = {limit} }}\nmax_containment_breach_probability = 0.9\n"
        ),
    )
}

#[test]
fn expectations_land_in_each_zone() {
    // With P(violation) ≈ 0.225 over 40 replications, a limit of 0.6 passes
    // (exit 0), 0.03 fails (exit 1), 0.23 is inconclusive (exit 0, with the
    // replications that would decide it; exit 1 under --strict), and judging
    // saved results (--results) gives the same verdicts as simulating.
    let dir = scratch("gates-zones");
    let cases = [(0.6, 0, "pass"), (0.03, 1, "FAIL"), (0.23, 0, "inconclusive")];
    for (limit, want, label) in cases {
        let d = dir.join(format!("limit-{limit}"));
        let scn = write_model(&d, &station(4, 100, 1.0), &zone_scenario(limit));
        let o = run_cli(&["check", s(&scn), "--replications", "40", "--threads", "2"]);
        let out = text(&o);
        assert_eq!(code(&o), want, "limit {limit}:\n{out}");
        let line = out
            .lines()
            .find(|l| l.contains("P(violate avail)"))
            .unwrap_or_else(|| panic!("no verdict line:\n{out}"));
        assert!(line.trim_start().starts_with(label), "limit {limit}: {line}");
        // The violation count is what the construction predicts (binomial(40, 0.225), 4 sd).
        let k: u64 = line
            .split(": ")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=20).contains(&k),
            "{k} violations of 40 is implausible for p = 0.225"
        );
        // The breach limit 0.9 is far above ≈ 0.25: it passes every time.
        assert!(out.contains("pass         P(containment breach) < 0.9"), "{out}");
        if label == "inconclusive" {
            let plan = out
                .lines()
                .find(|l| l.contains("replications would decide it"))
                .expect("a plan");
            let m: u64 = plan
                .split("about ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(m > 40, "the plan must ask for more than the 40 run: {plan}");
            let strict = run_cli(&["check", s(&scn), "--replications", "40", "--threads", "2", "--strict"]);
            assert_eq!(
                code(&strict),
                1,
                "--strict fails an inconclusive check:\n{}",
                text(&strict)
            );
            // The same verdicts from saved results.
            let res = d.join("results");
            let r = run_cli(&[
                "run",
                s(&scn),
                "--replications",
                "40",
                "--quiet",
                "--no-report",
                "--out",
                s(&res),
            ]);
            assert_eq!(code(&r), 0, "{}", text(&r));
            let from_results = run_cli(&["check", s(&scn), "--results", s(&res)]);
            assert_eq!(code(&from_results), 0);
            assert!(text(&from_results).contains(line.trim()), "{}", text(&from_results));
        }
    }
}

/// A front service calling a backend with `replicas` replicas of 4 servers
/// (10 ms exponential service, waiting room 50) at 600 requests/s. A 30 s
/// slowdown (×1.6) takes the backend from 1200/s to 750/s of capacity with 3
/// replicas (enough), and to 500/s with 2 (overload: rejections).
fn two_tier(replicas: u32) -> String {
    format!(
        "name = \"two-tier\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"pay\"\nentry = \"front\"\n\
         [[services]]\nname = \"front\"\nregions = [\"r\"]\nconcurrency = 2000\nqueue = 0\nservice_time = 0.1\n\
         [[services.calls]]\nto = \"back\"\ntimeout_ms = 1000\n\
         [[services]]\nname = \"back\"\nregions = [\"r\"]\nreplicas = {replicas}\nconcurrency = 4\nqueue = 50\n\
         balancer = \"round_robin\"\nservice_time = {{ dist = \"exp\", mean_ms = 10 }}\n"
    )
}

fn two_tier_scenario(seed: u64) -> String {
    format!(
        "[experiment]\nname = \"two-tier\"\ntopology = \"t.toml\"\n[run]\nduration_s = 100\nwarmup_s = 10\n\
         replications = 12\nseed = {seed}\n[workload]\nrate_per_s = 600\n\
         [[faults]]\nname = \"slow\"\nkind = \"slowdown\"\ntarget = {{ service = \"back\" }}\nstart_s = 40\nduration_s = 30\nfactor = 1.6\n\
         [[slos]]\nname = \"pay-availability\"\nflow = \"pay\"\nkind = \"availability\"\nobjective = 0.99\n\
         [blast_radius]\nmax_services = 2\nmax_regions = 1\n"
    )
}

#[test]
fn baseline_flags_a_replica_cut_and_stays_quiet_for_an_unchanged_mesh() {
    // A baseline saved from the 3-replica mesh: the same mesh checks clean
    // (every comparison "unchanged"), so does a rerun with another seed (no
    // significant change); the mesh with a replica cut fails with exit 1,
    // naming the violation probability's rise, in the console, JUnit and Markdown.
    let dir = scratch("gates-baseline");
    let good = write_model(&dir.join("good"), &two_tier(3), &two_tier_scenario(7));
    let cut = write_model(&dir.join("cut"), &two_tier(2), &two_tier_scenario(7));
    let base = dir.join("baseline");
    let o = run_cli(&["check", s(&good), "--save-baseline", s(&base)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(base.join("two-tier/summary.json").is_file());

    let same = run_cli(&["check", s(&good), "--baseline", s(&base)]);
    let out = text(&same);
    assert_eq!(code(&same), 0, "{out}");
    assert!(out.contains("P(violate pay-availability) vs baseline"), "{out}");
    assert_eq!(
        out.matches("unchanged").count(),
        3,
        "SLO, breach and degraded services:\n{out}"
    );

    let other_seed = write_model(&dir.join("reseeded"), &two_tier(3), &two_tier_scenario(8));
    let o = run_cli(&["check", s(&other_seed), "--baseline", s(&base)]);
    assert_eq!(
        code(&o),
        0,
        "another seed of the same mesh is no regression:\n{}",
        text(&o)
    );

    let junit = dir.join("junit.xml");
    let md = dir.join("check.md");
    let o = run_cli(&[
        "check",
        s(&cut),
        "--baseline",
        s(&base.join("two-tier/summary.json")),
        "--junit",
        s(&junit),
        "--markdown",
        s(&md),
    ]);
    let out = text(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(
        out.contains("FAIL         P(violate pay-availability) vs baseline"),
        "{out}"
    );
    assert!(out.contains("rose from 0.000 to"), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("type=\"regression\""), "{xml}");
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.starts_with("### ❌ chaoscal check:"), "{md}");
    assert!(
        md.contains("| ❌ | two-tier | P(violate pay-availability) vs baseline |"),
        "{md}"
    );
}

// ---------------------------------------------------------------- JUnit structure

/// An XML element, as the tiny checker below reads it.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    fn kids<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Decodes the five predefined entities and character references; any
/// other `&` or a raw `<` is a well-formedness error.
fn decode(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '<']) {
        out.push_str(&rest[..i]);
        if rest[i..].starts_with('<') {
            return Err(format!("raw '<' in text: {raw:?}"));
        }
        let end = rest[i..]
            .find(';')
            .ok_or_else(|| format!("unterminated entity in {raw:?}"))?;
        let ent = &rest[i + 1..i + end];
        out.push(match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or("bad character reference")?,
            e if e.starts_with('#') => e[1..]
                .parse()
                .ok()
                .and_then(char::from_u32)
                .ok_or("bad character reference")?,
            e => return Err(format!("unknown entity &{e};")),
        });
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && n.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
}

/// A small well-formedness checker (enough for JUnit files): one root
/// element after an optional XML declaration, balanced and properly nested
/// tags, quoted and unique attributes, valid entities, no raw '<' or '&' in
/// text, no forbidden control characters.
fn parse_xml(doc: &str) -> Result<Element, String> {
    if doc.chars().any(|c| (c as u32) < 0x20 && !"\t\n\r".contains(c)) {
        return Err("a control character XML 1.0 forbids".into());
    }
    let mut rest = doc.trim_start();
    if rest.starts_with("<?xml") {
        let end = rest.find("?>").ok_or("unterminated XML declaration")?;
        rest = &rest[end + 2..];
    }
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let Some(lt) = rest.find('<') else {
            if !rest.trim().is_empty() {
                return Err(format!("text outside the root element: {rest:?}"));
            }
            break;
        };
        let between = decode(&rest[..lt])?;
        match stack.last_mut() {
            Some(e) => e.text.push_str(&between),
            None if !between.trim().is_empty() => return Err("text outside the root element".into()),
            None => {}
        }
        rest = &rest[lt..];
        let gt = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let e = stack
                .pop()
                .ok_or_else(|| format!("closing </{name}> without an opening tag"))?;
            if e.name != name.trim() {
                return Err(format!("<{}> closed by </{name}>", e.name));
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(e),
                None if root.is_none() => root = Some(e),
                None => return Err("two root elements".into()),
            }
            continue;
        }
        if root.is_some() {
            return Err("content after the root element".into());
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs_text) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        if !is_name(name) {
            return Err(format!("bad element name {name:?}"));
        }
        let mut attrs: Vec<(String, String)> = Vec::new();
        loop {
            attrs_text = attrs_text.trim_start();
            if attrs_text.is_empty() {
                break;
            }
            let eq = attrs_text
                .find('=')
                .ok_or_else(|| format!("attribute without a value in <{name}>"))?;
            let key = attrs_text[..eq].trim();
            if !is_name(key) {
                return Err(format!("bad attribute name {key:?}"));
            }
            let after = &attrs_text[eq + 1..];
            let q = after.chars().next().ok_or("attribute value missing")?;
            if q != '"' && q != '\'' {
                return Err(format!("unquoted attribute {key} in <{name}>"));
            }
            let close = after[1..].find(q).ok_or("unterminated attribute value")?;
            let value = decode(&after[1..1 + close])?;
            if attrs.iter().any(|(k, _)| k == key) {
                return Err(format!("attribute {key} twice in <{name}>"));
            }
            attrs.push((key.to_string(), value));
            attrs_text = &after[close + 2..];
        }
        let e = Element {
            name: name.to_string(),
            attrs,
            children: Vec::new(),
            text: String::new(),
        };
        if self_closing {
            match stack.last_mut() {
                Some(parent) => parent.children.push(e),
                None => root = Some(e),
            }
        } else {
            stack.push(e);
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{}> is never closed", open.name));
    }
    root.ok_or_else(|| "no root element".into())
}

/// The JUnit shape GitLab, Jenkins and GitHub's reporters read (after the
/// Jenkins junit-10 schema): `testsuites` of `testsuite` (name, tests,
/// failures, errors, skipped, time) of `testcase` (name, classname, time),
/// each holding at most one `failure` (message, type) or `skipped`, and
/// counts that agree with the cases.
fn assert_junit_shape(root: &Element) {
    let count = |e: &Element, k: &str| -> usize {
        e.attr(k)
            .unwrap_or_else(|| panic!("<{}> lacks {k}", e.name))
            .parse()
            .unwrap_or_else(|_| panic!("<{}> {k} is not a count", e.name))
    };
    let time = |e: &Element| {
        let t: f64 = e
            .attr("time")
            .unwrap_or_else(|| panic!("<{}> lacks time", e.name))
            .parse()
            .expect("time is a number");
        assert!(t >= 0.0);
    };
    assert_eq!(root.name, "testsuites");
    assert!(
        root.children.iter().all(|c| c.name == "testsuite"),
        "only testsuite under testsuites"
    );
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    for suite in root.kids("testsuite") {
        assert!(!suite.attr("name").unwrap_or("").is_empty(), "testsuite name");
        time(suite);
        assert_eq!(count(suite, "errors"), 0);
        let cases: Vec<&Element> = suite.kids("testcase").collect();
        assert!(
            suite
                .children
                .iter()
                .all(|c| c.name == "testcase" || c.name == "properties"),
            "testsuite holds properties and testcases"
        );
        for p in suite.kids("properties").flat_map(|p| p.children.iter()) {
            assert_eq!(p.name, "property");
            assert!(p.attr("name").is_some() && p.attr("value").is_some());
        }
        let mut f = 0;
        let mut sk = 0;
        for c in &cases {
            assert!(!c.attr("name").unwrap_or("").is_empty(), "testcase name");
            assert!(!c.attr("classname").unwrap_or("").is_empty(), "testcase classname");
            time(c);
            let outcomes: Vec<&Element> = c
                .children
                .iter()
                .filter(|k| k.name == "failure" || k.name == "skipped" || k.name == "error")
                .collect();
            assert!(outcomes.len() <= 1, "one outcome per testcase");
            if let Some(o) = outcomes.first() {
                assert!(o.attr("message").is_some(), "{} needs a message", o.name);
                if o.name == "failure" {
                    assert!(o.attr("type").is_some(), "failure needs a type");
                    assert!(!o.text.is_empty(), "failure carries its details");
                    f += 1;
                } else {
                    sk += 1;
                }
            }
        }
        assert_eq!(count(suite, "tests"), cases.len());
        assert_eq!(count(suite, "failures"), f);
        assert_eq!(count(suite, "skipped"), sk);
        tests += cases.len();
        failures += f;
        skipped += sk;
    }
    assert_eq!(count(root, "tests"), tests);
    assert_eq!(count(root, "failures"), failures);
    assert_eq!(count(root, "skipped"), skipped);
}

#[test]
fn junit_is_well_formed_and_shaped_for_ci() {
    // A JUnit file with a passed, a failed, an inconclusive (skipped) and a
    // baseline test case, and an SLO name full of markup characters, is
    // well-formed XML of the testsuites/testsuite/testcase shape with
    // counts that add up; the names come back exactly after unescaping.
    // The checker itself rejects broken documents.
    let dir = scratch("gates-junit");
    let weird = "avail <&\"'> ]]>";
    let scn = scenario(
        50.0,
        100.0,
        0.0,
        &format!(
            "[[faults]]\nkind = \"abort\"\ntarget = {{ service = \"station\" }}\n\
             start_s = {{ dist = \"uniform\", min = 0, max = 400 }}\nduration_s = 1000\npercent = 100\n\
             [[slos]]\nname = {weird:?}\nkind = \"availability\"\nobjective = 0.9\n\
             [[slos]]\nname = \"never\"\nkind = \"availability\"\nobjective = 0.01\n\
             [blast_radius]\nmax_services = 0\n\
             [expect]\nmax_violation_probability = {{ {weird:?} = 0.03, never = 0.5 }}\n\
             max_containment_breach_probability = 0.25\n"
        ),
    );
    let path = write_model(&dir, &station(4, 100, 1.0), &scn);
    let base = dir.join("base");
    let o = run_cli(&["check", s(&path), "--replications", "30", "--save-baseline", s(&base)]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let junit = dir.join("out/junit.xml");
    let o = run_cli(&[
        "check",
        s(&path),
        "--replications",
        "30",
        "--baseline",
        s(&base),
        "--junit",
        s(&junit),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let root = parse_xml(&xml).unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"));
    assert_junit_shape(&root);
    let cases: Vec<&Element> = root.kids("testsuite").flat_map(|s| s.kids("testcase")).collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attr("name")).collect();
    assert!(
        names.contains(&format!("P(violate {weird}) < 0.03").as_str()),
        "{names:?}"
    );
    let outcome = |n: &str| {
        let c = cases
            .iter()
            .find(|c| c.attr("name") == Some(n))
            .unwrap_or_else(|| panic!("{n}"));
        c.children.first().map(|k| k.name.clone()).unwrap_or_default()
    };
    assert_eq!(outcome(&format!("P(violate {weird}) < 0.03")), "failure");
    assert_eq!(outcome("P(violate never) < 0.5"), "system-out");
    assert_eq!(outcome("P(containment breach) < 0.25"), "skipped");
    assert_eq!(outcome("P(violate never) vs baseline"), "system-out");

    // The checker is not a rubber stamp.
    for bad in [
        "<a><b></a></b>",
        "<a x=1/>",
        "<a>1 < 2</a>",
        "<a>&nbsp;</a>",
        "<a x=\"1\" x=\"2\"/>",
        "<a/><b/>",
        "<a>",
    ] {
        assert!(parse_xml(bad).is_err(), "accepted {bad}");
    }
}

// ---------------------------------------------------------------- adaptive replications

#[test]
fn adaptive_stopping_reaches_the_precision_deterministically() {
    // `--precision 0.05` on the zone scenario (p ≈ 0.225) stops with every
    // SLO's 95% half-width ≤ 0.05, at the same replication count and with
    // byte-identical outputs on 1 and 2 threads, equal to a plain run of
    // that many replications.
    let dir = scratch("gates-adaptive");
    let scn = write_model(&dir, &station(4, 100, 1.0), &zone_scenario(0.5));
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec!["run", s(&scn), "--quiet", "--no-report", "--out"];
        let out = dir.join(out);
        let out_s = out.to_str().unwrap().to_string();
        args.push(&out_s);
        args.extend_from_slice(extra);
        let o = run_cli(&args);
        assert_eq!(code(&o), 0, "{}", text(&o));
        out.join("t")
    };
    let flags = [
        "--precision",
        "0.05",
        "--replications",
        "20",
        "--max-replications",
        "2000",
    ];
    let one = run("one", &[&flags[..], &["--threads", "1"]].concat());
    let two = run("two", &[&flags[..], &["--threads", "2"]].concat());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(one.join("summary.json")).unwrap()).unwrap();
    let n = summary["replications"].as_u64().unwrap();
    assert!(n > 20 && n < 2000, "{n} replications");
    for slo in summary["slos"].as_array().unwrap() {
        let ci = slo["ci95"].as_array().unwrap();
        let half = (ci[1].as_f64().unwrap() - ci[0].as_f64().unwrap()) / 2.0;
        assert!(half <= 0.05, "{}: half-width {half}", slo["name"]);
    }
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(one.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["precision_reached"], true);
    let plain = run("plain", &["--replications", &n.to_string(), "--threads", "2"]);
    for f in OUTPUTS {
        let a = std::fs::read(one.join(f)).unwrap();
        assert_eq!(a, std::fs::read(two.join(f)).unwrap(), "{f}: 1 vs 2 threads");
        assert_eq!(
            a,
            std::fs::read(plain.join(f)).unwrap(),
            "{f}: adaptive vs a plain run of {n}"
        );
    }
    // A maximum below what the precision needs stops the run there, and says so.
    let capped = run(
        "capped",
        &[
            "--precision",
            "0.01",
            "--replications",
            "20",
            "--max-replications",
            "60",
        ],
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(capped.join("run.json")).unwrap()).unwrap();
    assert_eq!(r["replications"], 60);
    assert_eq!(r["precision_reached"], false);
}

// ---------------------------------------------------------------- sweep

/// P(sojourn > t) in M/M/c (FCFS): with probability 1 − C(c, a) no wait,
/// else an Exp(cμ − λ) wait before the Exp(μ) service. At c = 5 here
/// cμ − λ = μ, which the Erlang-2 branch covers.
fn mmc_sojourn_tail(c: u32, lam: f64, mu: f64, t: f64) -> f64 {
    let a = lam / mu;
    if c as f64 <= a {
        return 1.0;
    }
    // Erlang C by the Erlang B recursion.
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    let erlang_c = c as f64 * b / (c as f64 - a * (1.0 - b));
    let theta = c as f64 * mu - lam;
    // Wait + service: hypoexponential, or Erlang-2 when the two rates coincide.
    let hypo = if (theta - mu).abs() < 1e-9 * mu {
        (1.0 + mu * t) * (-mu * t).exp()
    } else {
        (theta * (-mu * t).exp() - mu * (-theta * t).exp()) / (theta - mu)
    };
    (1.0 - erlang_c) * (-mu * t).exp() + erlang_c * hypo
}

#[test]
fn sweep_finds_the_erlang_c_threshold() {
    // A station with λ = 400/s and 10 ms exponential service (a = 4 Erlang)
    // must answer 98.5% of requests within 50 ms. Erlang C gives the
    // smallest concurrency c with P(sojourn > 50 ms) ≤ 1.5%; sweeping c over
    // 5..8 finds exactly that c as the smallest setting meeting the SLO at
    // the 95% bound, and sweep.csv/sweep.svg hold the grid.
    let (lam, mu, t, miss) = (400.0, 100.0, 0.050, 0.015);
    let c_star = (5..20).find(|&c| mmc_sojourn_tail(c, lam, mu, t) <= miss).unwrap();
    // The test only means something if the neighbours are clearly on either side.
    assert!(mmc_sojourn_tail(c_star - 1, lam, mu, t) > 1.5 * miss);
    assert!(mmc_sojourn_tail(c_star, lam, mu, t) < miss / 1.5);
    assert!(
        c_star - 1 > 4,
        "the step below c* must be a stable queue, where Erlang C matters"
    );

    let dir = scratch("gates-sweep");
    let scn = scenario(
        lam,
        110.0,
        10.0,
        "[[slos]]\nname = \"fast\"\nkind = \"latency\"\nthreshold_ms = 50\nobjective = 0.985\n\
         [expect]\nmax_violation_probability = { fast = 0.2 }\n",
    );
    let path = write_model(&dir, &station(1, 1_000_000, 10.0), &scn);
    let out = dir.join("out");
    let o = run_cli(&[
        "sweep",
        s(&path),
        "--set",
        "services.station.concurrency=5..8",
        "--replications",
        "20",
        "--out",
        s(&out),
    ]);
    let txt = text(&o);
    assert_eq!(code(&o), 0, "{txt}");
    assert!(
        txt.contains(&format!(
            "smallest setting meeting every SLO at the 95% bound: services.station.concurrency = {c_star}"
        )),
        "expected c = {c_star}:\n{txt}"
    );
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "services.station.concurrency");
    let meets = header.iter().position(|h| *h == "meets_all").unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        let c: u32 = r[0].parse().unwrap();
        assert_eq!(r[meets] == "1", c >= c_star, "c = {c}: {r:?}");
    }
    let svg = std::fs::read_to_string(out.join("sweep.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("services.station.concurrency"));

    // An unknown key is bad input (exit 2) and lists the valid keys.
    let o = run_cli(&["sweep", s(&path), "--set", "services.station.replcas=1..2"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("services.station.replicas"), "{}", text(&o));
}

// ---------------------------------------------------------------- shards

const OUTPUTS: [&str; 7] = [
    "summary.json",
    "replications.csv",
    "services.csv",
    "timeseries.csv",
    "latency_cdf.csv",
    "faults.csv",
    "breakers.csv",
];

/// A one-minute game day on the bundled topology with faults of several
/// kinds (retries, breakers, queues and random faults all get exercised).
fn shard_scenario(dir: &Path) -> PathBuf {
    let topo = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/eu-us-payments.toml");
    let text = format!(
        r#"[experiment]
name = "sharded"
topology = "{}"

[run]
duration_s = 60
warmup_s = 10
replications = 6
seed = 1234

[workload]
rate_per_s = {{ eu-west = 40, us-east = 30 }}

[[faults]]
kind = "latency"
target = {{ service = "psp-primary", region = "eu-west" }}
start_s = {{ dist = "uniform", min = 15, max = 25 }}
duration_s = 20
delay = {{ dist = "exp", mean_ms = 900 }}
percent = 50

[[faults]]
kind = "kill"
target = {{ service = "fraud", region = "us-east" }}
random = {{ mtbf_s = 15, mttr_s = 3 }}

[[faults]]
kind = "queue_stall"
target = {{ queue = "ledger-events" }}
start_s = 20
duration_s = 15

[[slos]]
name = "avail"
flow = "checkout"
kind = "availability"
objective = 0.999

[[slos]]
name = "fast"
kind = "latency"
threshold_ms = 800
objective = 0.99
window_s = 20

[blast_radius]
max_services = 3
max_regions = 1
"#,
        topo.display()
    );
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("sharded.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn shards_merge_byte_identical_to_one_run() {
    // For N = 1, 2, 3 and 7 (7 > 6 replications: one shard is empty), N
    // separate `run --shard K/N` processes on 1 thread, merged, give every
    // output file byte for byte as one run on 2 threads does; the shard
    // files themselves are deterministic.
    let dir = scratch("gates-shards");
    let scn = shard_scenario(&dir);
    let single = dir.join("single");
    let o = run_cli(&[
        "run",
        s(&scn),
        "--quiet",
        "--no-report",
        "--threads",
        "2",
        "--out",
        s(&single),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    for n in [1u32, 2, 3, 7] {
        let parts = dir.join(format!("parts-{n}"));
        for k in 0..n {
            let shard = format!("{k}/{n}");
            let o = run_cli(&[
                "run",
                s(&scn),
                "--quiet",
                "--threads",
                "1",
                "--shard",
                &shard,
                "--out",
                s(&parts),
            ]);
            assert_eq!(code(&o), 0, "shard {shard}: {}", text(&o));
            assert!(parts.join(format!("sharded/shard-{k}-of-{n}.json")).is_file());
            assert!(
                !parts.join("sharded/summary.json").exists(),
                "a shard writes only its partial file"
            );
        }
        let merged = dir.join(format!("merged-{n}"));
        let o = run_cli(&["merge", s(&parts), "--out", s(&merged), "--no-report", "--quiet"]);
        assert_eq!(code(&o), 0, "merge of {n}: {}", text(&o));
        for f in OUTPUTS {
            let a = std::fs::read(single.join("sharded").join(f)).unwrap();
            let b = std::fs::read(merged.join("sharded").join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!a.is_empty(), "{f} is empty");
            assert!(a == b, "{f} differs between one run and {n} merged shards");
        }
    }
    // Rerunning a shard writes the same bytes.
    let again = dir.join("again");
    let o = run_cli(&[
        "run",
        s(&scn),
        "--quiet",
        "--threads",
        "2",
        "--shard",
        "1/3",
        "--out",
        s(&again),
    ]);
    assert_eq!(code(&o), 0);
    assert_eq!(
        std::fs::read(again.join("sharded/shard-1-of-3.json")).unwrap(),
        std::fs::read(dir.join("parts-3/sharded/shard-1-of-3.json")).unwrap()
    );
}

#[test]
fn merge_refuses_incomplete_or_mismatched_shards() {
    // A missing shard, a shard given twice, shards of another seed or of an
    // edited scenario, and a file that is not a partial are bad input
    // (exit 2) and nothing is written; `auto/N` reads JOB_COMPLETION_INDEX;
    // merge writes the report as run does.
    let dir = scratch("gates-merge-errors");
    let scn = shard_scenario(&dir);
    let shard = |k: u32, out: &str, extra: &[&str]| {
        let out = dir.join(out);
        let mut args = vec![
            "run",
            s(&scn),
            "--quiet",
            "--threads",
            "1",
            "--replications",
            "3",
            "--out",
        ];
        let o = s(&out).to_string();
        let spec = format!("{k}/2");
        args.push(&o);
        args.extend_from_slice(&["--shard", &spec]);
        args.extend_from_slice(extra);
        let r = run_cli(&args);
        assert_eq!(code(&r), 0, "{}", text(&r));
        out.join(format!("sharded/shard-{k}-of-2.json"))
    };
    let p0 = shard(0, "a", &[]);
    let p1 = shard(1, "a", &[]);
    let p1_seed = shard(1, "seed", &["--seed", "9"]);
    let out = dir.join("merged");
    let expect_2 = |parts: &[&Path], needle: &str| {
        let mut args = vec!["merge".to_string()];
        args.extend(parts.iter().map(|p| s(p).to_string()));
        args.extend(["--out".to_string(), s(&out).to_string(), "--no-report".to_string()]);
        let args: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
        let o = run_cli(&args);
        assert_eq!(code(&o), 2, "{}", text(&o));
        assert!(text(&o).contains(needle), "expected {needle:?} in:\n{}", text(&o));
        assert!(
            !out.join("sharded/summary.json").exists(),
            "a failed merge writes nothing"
        );
    };
    expect_2(&[&p0], "missing shard(s) 1 of 2");
    let copy = dir.join("copy-of-shard-1.json");
    std::fs::copy(&p1, &copy).unwrap();
    expect_2(&[&p0, &p1, &copy], "shard 1/2 appears twice");
    expect_2(&[&p0, &p1_seed], "has seed 9");
    std::fs::write(
        dir.join("sharded.toml"),
        std::fs::read_to_string(&scn)
            .unwrap()
            .replace("duration_s = 60", "duration_s = 61"),
    )
    .unwrap();
    let p1_edited = shard(1, "edited", &[]);
    expect_2(&[&p0, &p1_edited], "input_hash");
    let junk = dir.join("shard-0-of-1.json");
    std::fs::write(&junk, "{\"format\": \"something else\"}").unwrap();
    expect_2(&[&junk], "not a chaoscal partial result");

    // auto/N takes K from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs).
    let auto = dir.join("auto");
    let o = super::common::bin()
        .args([
            "run",
            s(&scn),
            "--quiet",
            "--replications",
            "3",
            "--shard",
            "auto/2",
            "--out",
            s(&auto),
        ])
        .env("JOB_COMPLETION_INDEX", "1")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(auto.join("sharded/shard-1-of-2.json").is_file());
    let o = super::common::bin()
        .args(["run", s(&scn), "--shard", "auto/2"])
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("JOB_COMPLETION_INDEX"));

    // A complete set merges, with the report as `run` writes it.
    let o = run_cli(&["merge", s(&p0), s(&p1), "--out", s(&out), "--quiet"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(out.join("sharded/summary.json").is_file());
    assert!(out.join("sharded/report.html").is_file());
}

#[test]
fn counterfactual_runs_are_deterministic_across_threads_and_shards() {
    // `--counterfactual` (each replication beside its faults-off twin) gives
    // byte-identical outputs on 1 and 2 threads and through 2 shards +
    // merge; summary.json reports the comparison for every replication and
    // replications.csv carries its columns.
    let dir = scratch("gates-twins");
    let scn = shard_scenario(&dir);
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "run",
            s(&scn),
            "--quiet",
            "--no-report",
            "--counterfactual",
            "--out",
            s(out),
        ];
        args.extend_from_slice(extra);
        let o = run_cli(&args);
        assert_eq!(code(&o), 0, "{}", text(&o));
    };
    run(&dir.join("t1"), &["--threads", "1"]);
    run(&dir.join("t2"), &["--threads", "2"]);
    let parts = dir.join("parts");
    for k in 0..2 {
        run(&parts, &["--threads", "1", "--shard", &format!("{k}/2")]);
    }
    let merged = dir.join("merged");
    let o = run_cli(&["merge", s(&parts), "--out", s(&merged), "--no-report", "--quiet"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    for f in OUTPUTS {
        let a = std::fs::read(dir.join("t1/sharded").join(f)).unwrap();
        assert!(
            a == std::fs::read(dir.join("t2/sharded").join(f)).unwrap(),
            "{f}: 1 vs 2 threads"
        );
        assert!(
            a == std::fs::read(merged.join("sharded").join(f)).unwrap(),
            "{f}: shards"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("t1/sharded/summary.json")).unwrap()).unwrap();
    let c = &summary["blast_radius"]["counterfactual"];
    assert_eq!(c["replications"], 6, "{c}");
    assert!(c["excess_failures"]["mean"].is_number());
    let csv = std::fs::read_to_string(dir.join("t1/sharded/replications.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("twin.checkout.excess_failed"));
}
