//! `chaoscal list PATH`: the catalog as a table.

use std::io::Write;
use std::path::PathBuf;

use super::{dedup, load_scenarios, print_diagnostics};

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn cmd_list(args: &ListArgs) -> i32 {
    let (loaded, mut diags) = load_scenarios(&args.paths);
    dedup(&mut diags);
    if diags.iter().any(|d| d.is_error()) {
        print_diagnostics(&diags);
        return 2;
    }
    let mut rows = vec![[
        "experiment".to_string(),
        "owner".to_string(),
        "severity".to_string(),
        "targets".to_string(),
        "declared radius".to_string(),
        "SLOs".to_string(),
        "tags".to_string(),
    ]];
    for ls in &loaded {
        let (s, t) = (&ls.scenario, &ls.topology);
        let targets: Vec<String> = s
            .faults
            .iter()
            .map(|f| {
                let kind = format!("{:?}", f.kind).to_lowercase();
                let regions: Vec<&str> = (0..t.regions.len())
                    .filter(|&r| f.regions[r])
                    .map(|r| t.regions[r].as_str())
                    .collect();
                let what = match (f.service, f.link, f.queue) {
                    (Some(sv), _, _) => format!("{}@{}", t.services[sv.index()].name, regions.join("+")),
                    (_, Some((a, b)), _) => format!("{}<->{}", t.regions[a.index()], t.regions[b.index()]),
                    (_, _, Some(q)) => format!("{}@{}", t.queues[q.index()].name, regions.join("+")),
                    _ => regions.join("+"),
                };
                format!("{kind} {what}")
            })
            .collect();
        let radius = match &s.blast_radius {
            Some(b) => format!(
                "{} svc / {} reg",
                b.max_services.map(|x| x.to_string()).unwrap_or("-".into()),
                b.max_regions.map(|x| x.to_string()).unwrap_or("-".into())
            ),
            None => "-".to_string(),
        };
        rows.push([
            s.name.clone(),
            s.owner.clone(),
            s.severity.clone(),
            if targets.is_empty() {
                "-".to_string()
            } else {
                targets.join(", ")
            },
            radius,
            s.slos.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", "),
            s.tags.join(", "),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = std::io::stdout().lock();
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "{}", rule.join("  "));
        }
    }
    let _ = writeln!(out, "{} experiment(s)", loaded.len());
    0
}
