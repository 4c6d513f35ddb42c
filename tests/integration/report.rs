//! Plotted reports (issue 5): charts and HTML drawn from saved result files,
//! `chaoscal report`, and the report in a real browser.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chaoscal::present::charts::experiment_charts;
use chaoscal::results::saved::Saved;

use crate::common::{run_cli, scratch};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")
}

/// Copies a folder tree (files only, no symlinks needed here).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("destination folder can be created");
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .expect("source folder readable")
        .map(|e| e.expect("entry readable").path())
        .collect();
    entries.sort();
    for p in entries {
        let dest = to.join(p.file_name().expect("entry has a name"));
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("file copies");
        }
    }
}

/// Every file under `dir`, as paths relative to it, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("folder readable") {
            let p = e.expect("entry readable").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn is_generated(p: &Path) -> bool {
    // The service graph needs the topology, so `run` draws it, not `report`.
    p.file_name().is_some_and(|n| n != "graph.svg")
        && matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("svg") | Some("png") | Some("html")
        )
}

/// Checks that tags open and close in order (void HTML elements and
/// `<x/>` excepted); returns the tag names seen, for further checks.
fn assert_balanced(what: &str, text: &str) -> Vec<String> {
    const VOID: [&str; 8] = ["meta", "link", "br", "hr", "img", "input", "col", "wbr"];
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if rest.starts_with('!') {
            let end = rest
                .find('>')
                .unwrap_or_else(|| panic!("{what}: unterminated <! declaration"));
            rest = &rest[end + 1..];
            continue;
        }
        let end = rest.find('>').unwrap_or_else(|| panic!("{what}: unterminated tag"));
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_string();
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("{what}: </{name}> closes nothing"));
            assert_eq!(open, name, "{what}: <{open}> closed by </{name}>");
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        assert!(!name.is_empty(), "{what}: a '<' that starts no tag: <{tag}>");
        seen.push(name.clone());
        if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "{what}: unclosed tags {stack:?}");
    seen
}

/// A plotters SVG: one `<svg>` root, balanced, with the given texts (already XML-escaped) in it.
fn assert_svg(path: &Path, texts: &[&str]) {
    let svg = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(svg.starts_with("<svg"), "{}: does not start with <svg", path.display());
    assert!(
        svg.trim_end().ends_with("</svg>"),
        "{}: does not end with </svg>",
        path.display()
    );
    let tags = assert_balanced(&path.display().to_string(), &svg);
    assert_eq!(
        tags.iter().filter(|t| *t == "svg").count(),
        1,
        "{}: one svg root",
        path.display()
    );
    assert!(tags.iter().any(|t| t == "text"), "{}: has no text", path.display());
    for t in texts {
        assert!(svg.contains(t), "{}: missing text {t:?}", path.display());
    }
}

/// PNG signature, header dimensions in range, a sane size, and not blank.
fn assert_png(path: &Path, min_width: u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}: PNG signature", path.display());
    assert_eq!(&bytes[12..16], b"IHDR", "{}: IHDR first", path.display());
    let width = u32::from_be_bytes(bytes[16..20].try_into().expect("4 bytes"));
    let height = u32::from_be_bytes(bytes[20..24].try_into().expect("4 bytes"));
    assert!((min_width..=2000).contains(&width), "{}: width {width}", path.display());
    assert!((250..=2000).contains(&height), "{}: height {height}", path.display());
    assert!(
        (5_000..2_000_000).contains(&bytes.len()),
        "{}: {} bytes",
        path.display(),
        bytes.len()
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("PNG decodes");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame decodes");
    let pixels = &buf[..info.buffer_size()];
    let inked = pixels.chunks(3).filter(|p| p.iter().any(|c| *c < 200)).count();
    assert!(
        inked * 100 > pixels.len() / 3,
        "{}: nearly blank ({inked} dark pixels)",
        path.display()
    );
}

#[test]
fn charts_from_fixed_summaries_are_valid_svg_and_png_with_titles_and_legends() {
    // Proves every chart kind is drawn from fixed saved results, as SVG with its
    // title and legend labels and as a PNG of sane size, and that a chart needing
    // data the folder lacks is left out rather than drawn empty.
    let dir = scratch("report-charts");
    copy_tree(&fixtures().join("catalog"), &dir);
    let out = run_cli(&["report", dir.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let exp = dir.join("psp-slow-short");
    let check = |stem: &str, texts: &[&str]| {
        assert_svg(&exp.join(format!("{stem}.svg")), texts);
        assert_png(&exp.join(format!("{stem}.png")), 1000);
    };
    check(
        "slo_violation",
        &[
            "psp-slow-short: probability that each SLO is violated",
            "checkout-availability",
            "checkout-latency",
            "refund-availability",
            "95% Wilson interval",
            "probability that the SLO is violated in a replication",
        ],
    );
    for flow in ["checkout", "refund"] {
        check(
            &format!("error_rate_{flow}"),
            &[
                &format!("{flow}: error rate over time"),
                "p10–p90 across replications",
                "median (p50)",
                "fault active",
                "error rate (% of requests failed)",
                "time since the run started (min)",
            ],
        );
        check(
            &format!("latency_p99_{flow}"),
            &[
                &format!("{flow}: p99 latency over time"),
                "p99 latency (ms)",
                "median (p50)",
            ],
        );
        check(
            &format!("latency_cdf_{flow}"),
            &[
                "baseline: before the first fault",
                "during the fault",
                "latency (ms, logarithmic scale)",
            ],
        );
    }
    check(
        "blast_radius",
        &[
            "blast radius, services degraded per replication",
            "declared limit: at most 1 service",
            "static blast radius: 2",
            "services degraded in the replication",
            "replications",
        ],
    );
    check(
        "degradation_heatmap",
        &[
            "where the fault degraded the mesh",
            "psp-primary",
            "api-gateway",
            "eu-west",
            "us-east",
        ],
    );
    assert_svg(
        &dir.join("slo_catalog.svg"),
        &[
            "Catalog: probability that each SLO is violated (2 experiments)",
            "ai-pricing-kill-short: checkout-latency",
        ],
    );
    assert_png(&dir.join("slo_catalog.png"), 1000);

    // Results written before blast radius, time series and CDFs: those charts are left out.
    let legacy = scratch("report-charts-legacy");
    copy_tree(&fixtures().join("legacy"), &legacy);
    let out = run_cli(&["report", legacy.join("psp-slow-short").to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let generated: Vec<PathBuf> = files_under(&legacy.join("psp-slow-short"))
        .into_iter()
        .filter(|p| is_generated(p))
        .collect();
    let expected: Vec<PathBuf> = [
        "degradation_heatmap.png",
        "degradation_heatmap.svg",
        "report.html",
        "slo_violation.png",
        "slo_violation.svg",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(generated, expected);
    assert_svg(
        &legacy.join("psp-slow-short/degradation_heatmap.svg"),
        &["error rate by service and region", "Errors / requests"],
    );
    // A single experiment folder gets no index.
    assert!(!legacy.join("index.html").exists());
}

#[test]
fn drawing_the_same_files_twice_gives_the_same_bytes() {
    // Proves chart output is a pure function of the saved files (no clock, no
    // hash-map order, the font compiled in), through the library API.
    let dir = fixtures().join("catalog/psp-slow-short");
    let a = experiment_charts(&Saved::load(&dir).expect("fixture loads")).expect("charts draw");
    let b = experiment_charts(&Saved::load(&dir).expect("fixture loads")).expect("charts draw");
    assert_eq!(a.len(), 9, "{:?}", a.iter().map(|c| &c.stem).collect::<Vec<_>>());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.stem, y.stem);
        assert!(x.svg == y.svg, "{}: SVG differs between two drawings", x.stem);
        assert!(x.png == y.png, "{}: PNG differs between two drawings", x.stem);
    }
}

#[test]
fn html_report_is_well_formed_self_contained_and_shows_every_chart() {
    // Proves report.html and index.html are balanced HTML with no network
    // reference, inline every chart as SVG (and link its files), and carry the
    // hypothesis, a verdict per SLO, the tables, the seed and the reproduce command.
    let dir = scratch("report-html");
    copy_tree(&fixtures().join("catalog"), &dir);
    let out = run_cli(&["report", dir.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let exp = dir.join("psp-slow-short");
    let html = std::fs::read_to_string(exp.join("report.html")).expect("report.html written");
    assert!(html.starts_with("<!DOCTYPE html>"));
    let tags = assert_balanced("report.html", &html);
    for t in ["html", "head", "body", "main", "table", "section", "figure", "svg"] {
        assert!(tags.iter().any(|x| x == t), "report.html has no <{t}>");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "network reference in report.html"
    );
    assert!(!html.contains("<script"), "report.html needs no script");
    for chart in files_under(&exp)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
    {
        let stem = chart.file_stem().and_then(|s| s.to_str()).expect("stem");
        assert!(
            html.contains(&format!("<figure id=\"{stem}\">\n<svg ")),
            "{stem} not inlined"
        );
        assert!(html.contains(&format!("href=\"{stem}.svg\"")), "{stem}.svg not linked");
        assert!(html.contains(&format!("href=\"{stem}.png\"")), "{stem}.png not linked");
    }
    assert_eq!(html.matches("<svg ").count(), 9, "one inline SVG per chart");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(exp.join("summary.json")).expect("summary")).expect("json");
    for needle in [
        "Checkout p99 stays under 2 s and availability over 99.9% while the PSP adds 1.5 s",
        "Verdict per SLO",
        "checkout-availability",
        "refund-availability",
        "<span class=\"verdict held\">held</span>",
        "<span class=\"verdict violated\">violated</span>",
        "P(containment breach)",
        "(95% interval ",
        "failed requests whose path met it",
        "Flows",
        "Services",
        "Calls and resilience",
        "Money at risk",
        "psp-eu-slow",
        "Seed <strong>5</strong>",
    ] {
        assert!(html.contains(needle), "report.html lacks {needle:?}");
    }
    let command = summary["command"].as_str().expect("fixture records its command");
    assert!(
        html.contains(&format!("<pre><code>{command}</code></pre>")),
        "reproduce command"
    );

    let index = std::fs::read_to_string(dir.join("index.html")).expect("index.html written");
    assert_balanced("index.html", &index);
    assert!(!index.contains("http://") && !index.contains("https://"));
    for exp in ["psp-slow-short", "ai-pricing-kill-short"] {
        assert!(
            index.contains(&format!("<a href=\"{exp}/report.html\">{exp}</a>")),
            "index links {exp}"
        );
    }
    assert!(
        index.contains("<figure id=\"slo_catalog\">\n<svg "),
        "catalog chart inlined"
    );
    assert!(index.contains("2 experiments · 5 SLOs"));

    // Without a recorded command, the report builds one and says what it assumed.
    let legacy = scratch("report-html-legacy");
    copy_tree(&fixtures().join("legacy/psp-slow-short"), &legacy);
    let out = run_cli(&["report", legacy.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(legacy.join("report.html")).expect("report.html written");
    assert_balanced("legacy report.html", &html);
    assert!(html.contains("chaoscal run scenarios/psp-slow-short.toml --seed 5 --replications 12"));
    assert!(html.contains("does not record the scenario"));
    assert!(html.contains("Not in these results, so not drawn"));
    assert_eq!(html.matches("<svg ").count(), 2);
}

#[test]
fn report_on_saved_results_rewrites_the_bytes_run_wrote() {
    // Proves `chaoscal report` regenerates byte-identical charts, report.html
    // and index.html from the files `run` saved, for a catalog folder and for
    // one experiment folder; and that `run --no-report` draws nothing.
    let base = scratch("report-identical");
    let ran = base.join("ran");
    let scenarios = fixtures().join("scenarios");
    let out = run_cli(&[
        "run",
        scenarios.to_str().expect("utf-8 path"),
        "--replications",
        "3",
        "--out",
        ran.to_str().expect("utf-8 path"),
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let all = files_under(&ran);
    let generated: Vec<&PathBuf> = all.iter().filter(|p| is_generated(p)).collect();
    assert!(generated.len() >= 2 * 19 + 3, "run drew the reports: {generated:?}");
    assert!(all.contains(&PathBuf::from("index.html")));

    // Keep only what the simulator wrote, then ask `report` for the rest.
    let again = base.join("again");
    copy_tree(&ran, &again);
    for p in &generated {
        std::fs::remove_file(again.join(p)).expect("generated file removable");
    }
    let out = run_cli(&["report", again.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(files_under(&again), all, "report writes the same set of files");
    for p in &all {
        let a = std::fs::read(ran.join(p)).expect("readable");
        let b = std::fs::read(again.join(p)).expect("readable");
        assert!(a == b, "{} differs between run and report", p.display());
    }

    // One experiment folder on its own, somewhere else.
    let single = base.join("single");
    copy_tree(&ran.join("psp-slow-short"), &single);
    for p in files_under(&single).iter().filter(|p| is_generated(p)) {
        std::fs::remove_file(single.join(p)).expect("generated file removable");
    }
    let out = run_cli(&["report", single.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for p in files_under(&single) {
        let a = std::fs::read(ran.join("psp-slow-short").join(&p)).expect("readable");
        let b = std::fs::read(single.join(&p)).expect("readable");
        assert!(a == b, "{} differs for a lone experiment folder", p.display());
    }

    let bare = base.join("bare");
    let out = run_cli(&[
        "run",
        scenarios.join("psp-slow-short.toml").to_str().expect("utf-8 path"),
        "--replications",
        "2",
        "--out",
        bare.to_str().expect("utf-8 path"),
        "--quiet",
        "--no-report",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let drawn: Vec<PathBuf> = files_under(&bare).into_iter().filter(|p| is_generated(p)).collect();
    assert!(drawn.is_empty(), "--no-report drew {drawn:?}");
    assert!(bare.join("psp-slow-short/summary.json").exists());
}

#[test]
fn report_on_bad_or_missing_results_exits_2_with_the_file_and_the_problem() {
    // Proves `chaoscal report` never panics on a bad results folder: each case
    // exits 2 with a message naming the file (and line) and what is wrong.
    let base = scratch("report-bad");
    let expect_2 = |dir: &Path, needles: &[&str]| {
        let out = run_cli(&["report", dir.to_str().expect("utf-8 path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", dir.display());
        assert!(!stderr.contains("panicked"), "{stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{}: stderr lacks {n:?}:\n{stderr}", dir.display());
        }
    };

    expect_2(&base.join("nowhere"), &["nowhere", "no such folder"]);

    let empty = base.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    expect_2(&empty, &["no summary.json here or in any subfolder"]);

    let fixture = fixtures().join("catalog/psp-slow-short");
    let case = |name: &str, file: &str, content: &str| -> PathBuf {
        let d = base.join(name);
        copy_tree(&fixture, &d);
        std::fs::write(d.join(file), content).expect("write case file");
        d
    };

    let d = case(
        "bad-json",
        "summary.json",
        "{\n  \"experiment\": \"x\",\n  \"seed\": ,\n}\n",
    );
    expect_2(&d, &["summary.json:3:11", "expected value"]);

    let d = case(
        "no-slos",
        "summary.json",
        "{\"experiment\": \"x\", \"seed\": 1, \"replications\": 2}",
    );
    expect_2(&d, &["summary.json:1:", "missing field `slos`"]);

    let ts = std::fs::read_to_string(fixture.join("timeseries.csv")).expect("fixture");
    let mut lines: Vec<String> = ts.lines().map(str::to_string).collect();
    lines[2] = lines[2].replacen(",0,", ",abc,", 1);
    let d = case("bad-number", "timeseries.csv", &(lines.join("\n") + "\n"));
    expect_2(&d, &["timeseries.csv:3:", "is not a number"]);

    let d = case("no-column", "timeseries.csv", "time_s,flow\n300,checkout\n");
    expect_2(&d, &["timeseries.csv:1:", "missing column \"error_rate_p10\""]);

    let d = case(
        "short-row",
        "latency_cdf.csv",
        "flow,phase,latency_ms,cumulative\ncheckout,all,12\n",
    );
    expect_2(&d, &["latency_cdf.csv:2:", "row has 3 fields, the header has 4"]);

    // In a catalog folder every broken experiment is reported, and the good ones still get their report.
    let catalog = base.join("catalog");
    copy_tree(&fixtures().join("catalog"), &catalog);
    std::fs::write(catalog.join("ai-pricing-kill-short/latency_cdf.csv"), "flow\n").expect("write");
    expect_2(&catalog, &["ai-pricing-kill-short", "latency_cdf.csv:1:"]);
    assert!(catalog.join("psp-slow-short/report.html").exists());
}

/// Where Chromium is: `CHAOSCAL_CHROMIUM`, else `chromium` or `chromium-browser` on PATH.
fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHAOSCAL_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs Chromium headless on `page` with the flags that render on a machine
/// without a display, GPU or fonts (no sandbox, no GPU, no background
/// networking, a fresh profile) plus `extra`, killed after two minutes.
fn chromium(browser: &Path, page: &Path, extra: &[String]) -> (bool, String, String) {
    // A fresh profile per call: a second browser on a profile still held by the
    // first one's helper processes hands over to it and never exits.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let profile = scratch(&format!("report-browser-profile-{n}"));
    // Output to files, not pipes: a DOM dump is larger than a pipe's buffer, and
    // a browser blocked on a full pipe would never exit.
    let stdout_path = profile.join("stdout.txt");
    let stderr_path = profile.join("stderr.txt");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1200,900",
        ])
        .arg(format!("--user-data-dir={}", profile.join("user-data").display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("chromium status") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    (status.success(), read(&stdout_path), read(&stderr_path))
}

#[test]
#[ignore = "needs Chromium: tests/browser.sh installs it; CI runs it with --ignored"]
fn report_renders_in_headless_chromium() {
    // Proves a real browser opens report.html and index.html offline: the DOM
    // holds every chart, no resource fails to load, and a screenshot is taken.
    // Ignored by a plain `cargo test` (it needs Chromium); CI runs tests/browser.sh
    // and then this test with --ignored, where a missing browser fails it.
    let browser = find_chromium().expect("chromium is installed (run tests/browser.sh, or set CHAOSCAL_CHROMIUM)");
    let dir = scratch("report-browser");
    copy_tree(&fixtures().join("catalog"), &dir);
    let out = run_cli(&["report", dir.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report = dir.join("psp-slow-short/report.html");

    let shot = dir.join("screenshot.png");
    let (ok, _, stderr) = chromium(&browser, &report, &[format!("--screenshot={}", shot.display())]);
    assert!(ok, "chromium failed on report.html:\n{stderr}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "screenshot is a PNG");
    assert_eq!(
        (
            u32::from_be_bytes(png[16..20].try_into().expect("4 bytes")),
            u32::from_be_bytes(png[20..24].try_into().expect("4 bytes"))
        ),
        (1200, 900),
        "screenshot has the window's size"
    );
    assert!(png.len() > 20_000, "screenshot is {} bytes: a blank page?", png.len());

    for (page, figures) in [(report, 9), (dir.join("index.html"), 1)] {
        let (ok, dom, stderr) = chromium(
            &browser,
            &page,
            &[
                "--dump-dom".to_string(),
                "--enable-logging=stderr".to_string(),
                "--v=0".to_string(),
            ],
        );
        assert!(ok, "chromium failed on {}:\n{stderr}", page.display());
        assert_eq!(
            dom.matches("<figure").count(),
            figures,
            "{}: figures in the DOM",
            page.display()
        );
        assert_eq!(
            dom.matches("<svg").count(),
            figures,
            "{}: inline SVGs in the DOM",
            page.display()
        );
        for bad in ["Failed to load resource", "Uncaught", "net::ERR_"] {
            assert!(
                !stderr.contains(bad),
                "{}: {bad} in the browser log:\n{stderr}",
                page.display()
            );
        }
    }
}

#[test]
fn html_report_says_which_method_decided_each_verdict() {
    // A run that stops when its verdicts are decided names, in report.html, the
    // verdict, the method (normal model or binomial count) and its bounds against
    // the limit, as summary.json records them; and it explains the column.
    let dir = scratch("report-decided-by");
    std::fs::write(dir.join("t.toml"), crate::common::station(4, 100, 10.0)).unwrap();
    let scn = "[experiment]\nname = \"decided\"\ntopology = \"t.toml\"\n[run]\nduration_s = 20\nwarmup_s = 2\n\
               seed = 7\n[workload]\nrate_per_s = 200\n\
               [[slos]]\nname = \"fast\"\nflow = \"job\"\nkind = \"latency\"\nthreshold_ms = 40\nobjective = 0.9\n\
               [[slos]]\nname = \"up\"\nflow = \"job\"\nkind = \"availability\"\nobjective = 0.999\n\
               [expect]\nmax_violation_probability = { fast = 0.05, up = 0.2 }\n";
    std::fs::write(dir.join("s.toml"), scn).unwrap();
    let out = dir.join("out");
    let o = run_cli(&[
        "run",
        dir.join("s.toml").to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let exp = out.join("decided");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(exp.join("summary.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(exp.join("report.html")).unwrap();
    assert_balanced("report.html", &html);
    assert!(html.contains("<th>decided by</th>"), "no decided-by column");
    assert!(
        html.contains("<strong>Decided by</strong>"),
        "no explanation of the column"
    );
    let mut methods = Vec::new();
    for slo in summary["slos"].as_array().unwrap() {
        let d = &slo["decision"];
        let (verdict, method) = (d["verdict"].as_str().unwrap(), d["method"].as_str().unwrap());
        let limit = d["limit"].as_f64().unwrap();
        let cell = format!("{verdict} ({method}): ");
        let at = html.find(&cell).unwrap_or_else(|| panic!("report.html lacks {cell:?}"));
        let tail = &html[at..at + 80.min(html.len() - at)];
        let shown = if limit < 0.1 { "5.00%" } else { "20.0%" };
        assert!(tail.contains(&format!("vs limit {shown}")), "{tail}");
        methods.push(method.to_string());
    }
    // The latency margins spread around a wide margin: the normal model decides
    // it; the availability SLO, never violated with no spread, goes to the count.
    assert_eq!(methods, ["normal", "binomial"], "{summary}");
}
