//! Durations, percentages and schedules, parsed exactly as the source
//! projects parse them (docs/import.md, "Units"):
//!
//! * Go's `time.ParseDuration` (Chaos Mesh `duration`, HTTPChaos `delay`,
//!   Workflow `deadline`; Istio durations, which must also be ≥ 1 ms; Argo
//!   Rollouts, where a bare integer is seconds);
//! * Chaos Mesh's `delay.latency` / `jitter`: one number and one unit only;
//! * LitmusChaos' env strings: whole seconds or whole milliseconds;
//! * Prometheus durations (`5m`, `1h30m`, `3d`);
//! * robfig/cron v3 schedules (Chaos Mesh `Schedule`), with an optional
//!   seconds field and the `@every` / `@hourly` … descriptors.
//!
//! Every parser returns a message saying what was expected on failure.

/// Nanoseconds per unit.
const NS: u128 = 1;
const US: u128 = 1_000;
const MS: u128 = 1_000_000;
const S: u128 = 1_000_000_000;
const MIN: u128 = 60 * S;
const H: u128 = 60 * MIN;

/// The largest Go duration (`math.MaxInt64` ns, about 292 years).
const GO_MAX_NS: u128 = i64::MAX as u128;

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units
/// `ns us µs μs ms s m h`, or a bare `0`. Returns nanoseconds; a negative
/// duration is refused (no chaos duration is negative).
pub fn go_duration(s: &str) -> Result<u64, String> {
    let expected = "a Go duration such as \"30s\", \"1500ms\" or \"2h45m\"";
    let bad = || format!("\"{s}\" is not {expected}");
    let mut rest = s;
    let negative = rest.starts_with('-');
    if rest.starts_with(['-', '+']) {
        rest = &rest[1..];
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => NS,
            "us" | "µs" | "μs" => US,
            "ms" => MS,
            "s" => S,
            "m" => MIN,
            "h" => H,
            "" => return Err(format!("\"{s}\" has a number without a unit; expected {expected}")),
            _ => {
                return Err(format!(
                    "unknown unit \"{unit}\" in \"{s}\"; expected ns, us, ms, s, m or h"
                ));
            }
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse::<u128>().map_err(|_| bad())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(bad)?;
        // The fraction, to whole nanoseconds (truncated, as Go does).
        let mut place = scale;
        for d in frac.bytes() {
            place /= 10;
            if place == 0 {
                break;
            }
            value += u128::from(d - b'0') * place;
        }
        total = total.checked_add(value).ok_or_else(bad)?;
        if total > GO_MAX_NS {
            return Err(format!(
                "\"{s}\" is longer than Go's largest duration (about 292 years)"
            ));
        }
        rest = after;
    }
    if negative && total > 0 {
        return Err(format!("\"{s}\" is negative; expected a duration of 0 or more"));
    }
    Ok(total as u64)
}

/// Chaos Mesh's `delay.latency` and `delay.jitter`: the CRD's pattern
/// `^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h)$` (one number, one unit), then Go's
/// parser. Returns milliseconds.
pub fn chaos_mesh_latency_ms(s: &str) -> Result<f64, String> {
    let unit_at = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(unit_at);
    let num_ok = {
        let mut parts = num.splitn(2, '.');
        let int = parts.next().unwrap_or("");
        let frac = parts.next();
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    };
    if !num_ok || !matches!(unit, "ns" | "us" | "ms" | "s" | "m" | "h") {
        return Err(format!(
            "\"{s}\" does not match Chaos Mesh's latency pattern: one number and one unit (ns, us, ms, s, m, h), e.g. \"10ms\" or \"1.5s\""
        ));
    }
    go_duration(s).map(ns_to_ms)
}

/// Istio's durations (`timeout`, `perTryTimeout`, `fixedDelay`,
/// `interval`, `baseEjectionTime`): Go's format, at least 1 ms. Milliseconds.
pub fn istio_duration_ms(s: &str) -> Result<f64, String> {
    let ns = go_duration(s)?;
    if ns < 1_000_000 {
        return Err(format!(
            "\"{s}\" is shorter than 1ms; Istio requires durations of at least 1ms"
        ));
    }
    Ok(ns_to_ms(ns))
}

/// Argo Rollouts' duration strings (`pause.duration`, `interval`,
/// `initialDelay`): a whole number is seconds, anything else Go's format.
/// Seconds.
pub fn argo_duration_s(s: &str) -> Result<f64, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(|v| v as f64)
            .map_err(|_| format!("\"{s}\" is too large a number of seconds"));
    }
    go_duration(s).map(ns_to_s)
}

/// A LitmusChaos env value that is a whole number (seconds or
/// milliseconds, as the variable says), written as a string.
pub fn litmus_int(s: &str, unit: &str) -> Result<f64, String> {
    let t = s.trim();
    t.parse::<u64>()
        .map(|v| v as f64)
        .map_err(|_| format!("\"{s}\" is not a whole number of {unit} (Litmus reads this variable as an integer)"))
}

/// Chaos Mesh's percent strings (`loss`, `correlation`): a number 0–100.
pub fn percent_string(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(format!("\"{s}\" is not a percentage between 0 and 100")),
    }
}

/// A Prometheus duration: `[0-9]+` followed by `ms s m h d w y`, several
/// joined (`1h30m`). Seconds.
pub fn prometheus_duration_s(s: &str) -> Result<f64, String> {
    let bad = || format!("\"{s}\" is not a Prometheus duration such as \"5m\", \"1h\" or \"3d\"");
    let mut rest = s;
    let mut total = 0.0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if n == 0 {
            return Err(bad());
        }
        let v: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            "y" => 31_536_000.0,
            _ => return Err(bad()),
        };
        total += v * scale;
        rest = &rest[u..];
    }
    Ok(total)
}

pub fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

pub fn ns_to_s(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// A cron schedule (robfig/cron v3 as Chaos Mesh configures it: an
/// optional seconds field, and descriptors).
#[derive(Clone, Debug, PartialEq)]
pub enum Cron {
    /// `@every <duration>`: every period, the first one period after creation.
    Every { period_s: u64 },
    /// Field sets (bit i set: value i matches).
    Fields {
        seconds: u64,
        minutes: u64,
        hours: u64,
        dom: u64,
        months: u64,
        dow: u64,
        /// Day-of-month or day-of-week was written `*` / `?`: both must match.
        dom_or_dow_star: bool,
    },
}

/// The wall-clock time the import puts at a schedule's creation:
/// midnight at the start of Monday 1 January 2024 (docs/import.md).
pub const CRON_ORIGIN_DAYS: i64 = 19_723; // days from 1970-01-01 to 2024-01-01

impl Cron {
    /// Parses a schedule; `TZ=` / `CRON_TZ=` prefixes are accepted and
    /// returned (the timezone is the controller's, so it only shifts the
    /// clock, which the import fixes anyway).
    pub fn parse(spec: &str) -> Result<(Cron, Option<String>), String> {
        let mut s = spec.trim();
        let mut tz = None;
        if let Some(rest) = s.strip_prefix("TZ=").or_else(|| s.strip_prefix("CRON_TZ=")) {
            let (zone, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            tz = Some(zone.to_string());
            s = rest.trim();
        }
        if let Some(d) = s.strip_prefix("@every") {
            let ns = go_duration(d.trim())?;
            // robfig rounds down to whole seconds, at least one.
            let period_s = (ns / 1_000_000_000).max(1);
            return Ok((Cron::Every { period_s }, tz));
        }
        let fields: Vec<&str> = match s {
            "@yearly" | "@annually" => vec!["0", "0", "0", "1", "1", "*"],
            "@monthly" => vec!["0", "0", "0", "1", "*", "*"],
            "@weekly" => vec!["0", "0", "0", "*", "*", "0"],
            "@daily" | "@midnight" => vec!["0", "0", "0", "*", "*", "*"],
            "@hourly" => vec!["0", "0", "*", "*", "*", "*"],
            _ if s.starts_with('@') => return Err(format!("unknown cron descriptor \"{s}\"")),
            _ => {
                let f: Vec<&str> = s.split_whitespace().collect();
                match f.len() {
                    5 => std::iter::once("0").chain(f).collect(),
                    6 => f,
                    n => {
                        return Err(format!(
                            "\"{spec}\" has {n} fields; expected 5 (minute hour day-of-month month day-of-week), 6 with seconds first, or a descriptor such as \"@every 5m\""
                        ));
                    }
                }
            }
        };
        let (seconds, _) = field(fields[0], 0, 59, &[], "seconds")?;
        let (minutes, _) = field(fields[1], 0, 59, &[], "minutes")?;
        let (hours, _) = field(fields[2], 0, 23, &[], "hours")?;
        let (dom, dom_star) = field(fields[3], 1, 31, &[], "day of month")?;
        let months_names = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        let (months, _) = field(fields[4], 1, 12, &months_names, "month")?;
        let dow_names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        let (dow, dow_star) = field(fields[5], 0, 6, &dow_names, "day of week")?;
        Ok((
            Cron::Fields {
                seconds,
                minutes,
                hours,
                dom,
                months,
                dow,
                dom_or_dow_star: dom_star || dow_star,
            },
            tz,
        ))
    }

    /// The firing times, in seconds after creation, strictly after 0 and
    /// before `horizon_s` (at most `max` of them).
    pub fn firings(&self, horizon_s: u64, max: usize) -> Vec<u64> {
        let mut out = Vec::new();
        match *self {
            Cron::Every { period_s } => {
                let mut t = period_s;
                while t < horizon_s && out.len() < max {
                    out.push(t);
                    t += period_s;
                }
            }
            Cron::Fields {
                seconds,
                minutes,
                hours,
                dom,
                months,
                dow,
                dom_or_dow_star,
            } => {
                for t in 1..horizon_s {
                    if out.len() >= max {
                        break;
                    }
                    if seconds & (1 << (t % 60)) == 0 {
                        continue;
                    }
                    let m = (t / 60) % 60;
                    let h = (t / 3600) % 24;
                    if minutes & (1 << m) == 0 || hours & (1 << h) == 0 {
                        continue;
                    }
                    let days = CRON_ORIGIN_DAYS + (t / 86_400) as i64;
                    let (_, month, day) = civil(days);
                    let weekday = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
                    if months & (1 << month) == 0 {
                        continue;
                    }
                    let dom_ok = dom & (1 << day) != 0;
                    let dow_ok = dow & (1 << weekday) != 0;
                    let day_ok = if dom_or_dow_star {
                        dom_ok && dow_ok
                    } else {
                        dom_ok || dow_ok
                    };
                    if day_ok {
                        out.push(t);
                    }
                }
            }
        }
        out
    }
}

/// One cron field: `*`, `?`, `a`, `a-b`, each with an optional `/step`,
/// comma-separated; names (`jan`, `mon`) where the field has them.
/// Returns the bit set and whether the field is a bare `*` / `?`.
fn field(f: &str, lo: u32, hi: u32, names: &[&str], what: &str) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    let value = |v: &str| -> Result<u32, String> {
        let lower = v.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(lo + i as u32);
        }
        v.parse::<u32>()
            .map_err(|_| format!("\"{v}\" is not a valid {what} in cron field \"{f}\""))
    };
    for part in f.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                Some(
                    s.parse::<u32>()
                        .map_err(|_| format!("bad step \"{s}\" in cron field \"{f}\""))?,
                ),
            ),
            None => (part, None),
        };
        let (start, end, is_star) = if range == "*" || range == "?" {
            (lo, hi, true)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?, false)
        } else {
            let v = value(range)?;
            (v, if step.is_some() { hi } else { v }, false)
        };
        if start < lo || end > hi || start > end {
            return Err(format!(
                "{what} out of range in cron field \"{f}\" (expected {lo}-{hi})"
            ));
        }
        let step = step.unwrap_or(1);
        if step == 0 {
            return Err(format!("a step of 0 in cron field \"{f}\""));
        }
        if is_star && step == 1 {
            star = true;
        }
        let mut v = start;
        while v <= end {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, star))
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_go_does() {
        // Go's ParseDuration: several units, fractions, µs spellings, a bare 0; no unit and unknown units refused.
        assert_eq!(go_duration("30s"), Ok(30_000_000_000));
        assert_eq!(go_duration("1500ms"), Ok(1_500_000_000));
        assert_eq!(go_duration("2h45m"), Ok((2 * 3600 + 45 * 60) * 1_000_000_000));
        assert_eq!(go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(go_duration(".5s"), Ok(500_000_000));
        assert_eq!(go_duration("10µs"), Ok(10_000));
        assert_eq!(go_duration("0"), Ok(0));
        assert_eq!(go_duration("1m30.5s"), Ok(90_500_000_000));
        assert!(go_duration("30").is_err());
        assert!(go_duration("").is_err());
        assert!(go_duration("5d").is_err());
        assert!(go_duration("-1s").is_err());
        assert!(go_duration(".s").is_err());
        assert!(go_duration("9999999999h").is_err());
    }

    #[test]
    fn chaos_mesh_latency_takes_one_unit_only() {
        // Chaos Mesh's latency pattern: "1.5s" is fine, "1m30s" and ".5s" are refused.
        assert_eq!(chaos_mesh_latency_ms("10ms"), Ok(10.0));
        assert_eq!(chaos_mesh_latency_ms("1.5s"), Ok(1500.0));
        assert!(chaos_mesh_latency_ms("1m30s").is_err());
        assert!(chaos_mesh_latency_ms(".5s").is_err());
        assert!(chaos_mesh_latency_ms("10").is_err());
    }

    #[test]
    fn istio_durations_are_at_least_a_millisecond() {
        // Istio reads Go durations and refuses anything under 1 ms.
        assert_eq!(istio_duration_ms("1.5s"), Ok(1500.0));
        assert_eq!(istio_duration_ms("5m"), Ok(300_000.0));
        assert!(istio_duration_ms("500us").is_err());
    }

    #[test]
    fn argo_and_litmus_numbers() {
        // Argo: a bare integer is seconds; Litmus env values are integer strings only.
        assert_eq!(argo_duration_s("10"), Ok(10.0));
        assert_eq!(argo_duration_s("1h"), Ok(3600.0));
        assert_eq!(litmus_int("2000", "ms"), Ok(2000.0));
        assert!(litmus_int("2s", "seconds").is_err());
        assert!(litmus_int("1.5", "seconds").is_err());
    }

    #[test]
    fn prometheus_durations() {
        // Prometheus durations join units, days and weeks included.
        assert_eq!(prometheus_duration_s("5m"), Ok(300.0));
        assert_eq!(prometheus_duration_s("1h30m"), Ok(5400.0));
        assert_eq!(prometheus_duration_s("3d"), Ok(259_200.0));
        assert!(prometheus_duration_s("1.5h").is_err());
    }

    #[test]
    fn cron_schedules_fire_when_robfig_would() {
        // Standard fields, steps, descriptors and @every, from a creation at midnight on Monday 2024-01-01.
        let (c, _) = Cron::parse("5 * * * *").unwrap();
        assert_eq!(c.firings(7200, 10), vec![300, 3900]);
        let (c, _) = Cron::parse("*/30 * * * * *").unwrap();
        assert_eq!(c.firings(100, 10), vec![30, 60, 90]);
        let (c, _) = Cron::parse("@every 2m").unwrap();
        assert_eq!(c.firings(400, 10), vec![120, 240, 360]);
        let (c, _) = Cron::parse("@hourly").unwrap();
        assert_eq!(c.firings(3 * 3600 + 1, 10), vec![3600, 7200, 10800]);
        // Tuesdays only: the first is the next day.
        let (c, _) = Cron::parse("0 0 * * TUE").unwrap();
        assert_eq!(c.firings(8 * 86_400, 10), vec![86_400]);
        // Both day fields restricted: either matches (1st of the month or a Wednesday).
        let (c, _) = Cron::parse("0 0 1 * 3").unwrap();
        assert_eq!(c.firings(3 * 86_400, 10), vec![2 * 86_400]);
        assert!(Cron::parse("* * *").is_err());
        assert!(Cron::parse("61 * * * *").is_err());
    }

    #[test]
    fn civil_dates() {
        // The calendar used for cron: 2024-01-01 is day 19723, and 2024 is a leap year.
        assert_eq!(civil(CRON_ORIGIN_DAYS), (2024, 1, 1));
        assert_eq!(civil(CRON_ORIGIN_DAYS + 59), (2024, 2, 29));
    }
}
