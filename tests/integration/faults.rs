//! Each simulated fault kind on a case whose answer can be derived by hand.
//!
//! Horizon H = 500 s (no warm-up), fault window w = [100 s, 300 s): a fault
//! that fails every request in its window fails w/H = 40% of requests; one
//! that fails a share p of them fails p·w/H. Per-replication fractions are
//! compared with the derivation within 4 standard errors.

use super::common::*;

const REPS: u64 = 20;

/// A caller (no own work, ample servers) in front of a station with
/// `replicas` replicas of constant 1 ms service.
fn chain(timeout: &str, replicas: u32, balancer: &str) -> String {
    format!(
        "name = \"chain\"\n[[regions]]\nname = \"r\"\n[[flows]]\nname = \"job\"\nentry = \"caller\"\n\
         [[services]]\nname = \"caller\"\nregions = [\"r\"]\nconcurrency = 100000\nservice_time = 0\n\
         [[services.calls]]\nto = \"station\"\n{timeout}\n\
         [[services]]\nname = \"station\"\nregions = [\"r\"]\nreplicas = {replicas}\nconcurrency = 100000\n\
         balancer = \"{balancer}\"\nservice_time = 1\n"
    )
}

fn failed_fraction(topo: &str, faults: &str) -> Vec<f64> {
    let l = load(topo, &scenario(100.0, 500.0, 0.0, faults));
    replicate(&l, REPS)
        .iter()
        .map(|o| o.recorder.flows[0].failed as f64 / o.recorder.flows[0].requests as f64)
        .collect()
}

const WINDOW: &str = "start_s = 100\nduration_s = 200\n";

#[test]
fn abort_fails_its_share_of_the_window() {
    // Abort 30% of calls for w/H = 0.4 of the horizon: 12% of requests fail.
    let f = format!("[[faults]]\nkind = \"abort\"\ntarget = {{ service = \"station\" }}\n{WINDOW}percent = 30\n");
    assert_close(
        "abort 30%",
        &failed_fraction(&chain("", 1, "round_robin"), &f),
        0.3 * 0.4,
        4.0,
        0.0,
    );
}

#[test]
fn latency_past_the_timeout_fails_the_window() {
    // 200 ms injected in front of a 100 ms caller timeout: every call in the
    // window times out (40%); at percent = 50, half of them (20%).
    let topo = chain("timeout_ms = 100", 1, "round_robin");
    let all = format!("[[faults]]\nkind = \"latency\"\ntarget = {{ service = \"station\" }}\n{WINDOW}delay = 200\n");
    assert_close("latency 100%", &failed_fraction(&topo, &all), 0.4, 4.0, 0.0);
    let half = format!("{}percent = 50\n", all);
    assert_close("latency 50%", &failed_fraction(&topo, &half), 0.2, 4.0, 0.0);
}

#[test]
fn latency_below_the_timeout_adds_exactly_the_delay() {
    // A constant 50 ms delay for the whole run makes every request take 1 + 50 ms, exactly.
    let topo = chain("timeout_ms = 100", 1, "round_robin");
    let f = "[[faults]]\nkind = \"latency\"\ntarget = { service = \"station\" }\ndelay = 50\n";
    let l = load(&topo, &scenario(100.0, 60.0, 0.0, f));
    for o in replicate(&l, 3) {
        let h = &o.recorder.flows[0].latency;
        assert_eq!(o.recorder.flows[0].failed, 0);
        assert_eq!((h.min(), h.max()), (51_000_000, 51_000_000));
    }
}

#[test]
fn kill_with_restart_fails_only_the_window() {
    // Killing every replica for the window fails its 40%; without a restart,
    // everything from the kill on fails (80%).
    let topo = chain("", 2, "round_robin");
    let with_restart = format!("[[faults]]\nkind = \"kill\"\ntarget = {{ service = \"station\" }}\n{WINDOW}");
    assert_close("kill+restart", &failed_fraction(&topo, &with_restart), 0.4, 4.0, 0.0);
    let forever = "[[faults]]\nkind = \"kill\"\ntarget = { service = \"station\" }\nstart_s = 100\n";
    assert_close("kill forever", &failed_fraction(&topo, forever), 0.8, 4.0, 0.0);
}

#[test]
fn killing_one_of_two_replicas_fails_half_the_window() {
    // Round-robin over two replicas, one dead: half the window's calls are
    // refused (20%), since without health checks the balancer keeps trying it.
    let topo = chain("", 2, "round_robin");
    let f = format!("[[faults]]\nkind = \"kill\"\ntarget = {{ service = \"station\" }}\nreplicas = 1\n{WINDOW}");
    assert_close("kill 1 of 2", &failed_fraction(&topo, &f), 0.2, 4.0, 0.0);
}

#[test]
fn slowdown_stretches_service_time() {
    // Slowdown ×2 on an M/M/1 (μ = 1/ms, λ = 0.3/ms) makes it M/M/1 with
    // μ' = 0.5/ms: mean sojourn 1/(μ'−λ) = 5 ms instead of 1.43 ms.
    let f = "[[faults]]\nkind = \"slowdown\"\ntarget = { service = \"station\" }\nfactor = 2\n";
    let l = load(&station(1, 1_000_000, 1.0), &scenario(300.0, 200.0, 20.0, f));
    let sojourn: Vec<f64> = replicate(&l, 30)
        .iter()
        .map(|o| o.recorder.flows[0].latency.mean() / 1e6)
        .collect();
    assert_close("slowdown x2 sojourn", &sojourn, 5.0, 4.0, 0.0);
}

#[test]
fn fault_only_hits_its_region() {
    // An abort on the station in region a leaves region b's requests untouched.
    let topo = "name = \"two\"\n[[regions]]\nname = \"a\"\n[[regions]]\nname = \"b\"\n\
        [[flows]]\nname = \"job\"\nentry = \"station\"\n\
        [[services]]\nname = \"station\"\nregions = [\"a\", \"b\"]\nconcurrency = 1000\nservice_time = 1\n";
    let scn = "[experiment]\nname = \"t\"\ntopology = \"t.toml\"\n[run]\nduration_s = 100\nreplications = 1\n\
        [workload]\nrate_per_s = { a = 100, b = 100 }\n\
        [[faults]]\nkind = \"abort\"\ntarget = { service = \"station\", region = \"a\" }\n";
    let l = load(topo, scn);
    for o in replicate(&l, 3) {
        let (a, b) = (&o.recorder.groups[0], &o.recorder.groups[1]);
        assert_eq!(a.errors, a.requests, "region a: every call aborted");
        assert!(a.requests > 8000);
        assert_eq!(b.errors, 0, "region b untouched");
        assert!(b.requests > 8000);
    }
}
