//! `[kubernetes]` and each service's `kubernetes`: how the mesh maps onto
//! Kubernetes (`docs/format.md`, "Kubernetes mapping"), for importers and calibration.
//!
//! ```toml
//! [kubernetes]
//! namespaces = { payments-eu = "eu-west", payments-us = "us-east" }   # namespace -> region
//!
//! [[services]]
//! name = "psp-primary"
//! kubernetes = { labels = { app = "psp-gateway" } }
//! ```
//!
//! Namespace names must be DNS labels (as Kubernetes requires) and name a
//! region of the topology; label keys and values must be Kubernetes-shaped
//! and non-empty. Defaults: no namespaces (a namespace not listed maps to
//! every region); a service without `kubernetes` is labelled
//! `app = <name>` and `app.kubernetes.io/name = <name>`
//! (`defaults::kubernetes_labels`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Names;
use super::services::RawService;
use crate::input::defaults;
use crate::input::diag::{Ctx, KeyPath};
use crate::model::{KubernetesMapping, REGION_LABEL, RegionId, Service};

/// `[kubernetes]` of a topology.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubernetes {
    #[serde(default)]
    pub namespaces: BTreeMap<String, String>,
}

/// `kubernetes = { labels = { ... } }` of a service.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceKubernetes {
    pub labels: BTreeMap<String, String>,
}

/// What a label name and value may hold (Kubernetes' own rule).
const LABEL_SHAPE: &str = "1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

/// Resolves the namespaces, and sets every service's labels.
pub fn resolve(
    cx: &mut Ctx,
    raw: Option<&RawKubernetes>,
    raw_services: &[RawService],
    services: &mut [Service],
    names: &Names,
) -> KubernetesMapping {
    let mut mapping = KubernetesMapping::default();
    if let Some(k) = raw {
        let np = KeyPath::root().k("kubernetes").k("namespaces");
        for (ns, region) in &k.namespaces {
            cx.check(
                &np.quoted(ns),
                dns_label(ns),
                format!(
                    "\"{ns}\" is not a Kubernetes namespace name: 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit"
                ),
            );
            match names.regions.iter().position(|r| r == region) {
                Some(r) => mapping.namespaces.push((ns.clone(), RegionId::from_index(r))),
                None => cx.err(
                    &np.quoted(ns),
                    format!("unknown region \"{region}\" (known: {})", names.regions.join(", ")),
                ),
            }
        }
    }
    for (si, (s, service)) in raw_services.iter().zip(services.iter_mut()).enumerate() {
        service.kubernetes_labels = match &s.kubernetes {
            None => defaults::kubernetes_labels(&s.name),
            Some(k) => labels(cx, &KeyPath::root().k("services").i(si).k("kubernetes"), k),
        };
    }
    mapping
}

/// A service's labels as written, each key and value checked.
fn labels(cx: &mut Ctx, kp: &KeyPath, k: &RawServiceKubernetes) -> Vec<(String, String)> {
    let lp = kp.k("labels");
    if k.labels.is_empty() {
        cx.err(
            &lp,
            "no labels; give at least one, or leave `kubernetes` out for the default app = <service name>",
        );
    }
    for (key, value) in &k.labels {
        let at = lp.quoted(key);
        if key == REGION_LABEL {
            cx.err(
                &at,
                format!("\"{REGION_LABEL}\" comes from the region of the namespace (kubernetes.namespaces), not from a service's labels"),
            );
        } else if !label_key(key) {
            cx.err(
                &at,
                format!("\"{key}\" is not a Kubernetes label key: [prefix/]name, the name {LABEL_SHAPE}, the prefix a DNS name"),
            );
        }
        if value.is_empty() {
            cx.err(
                &at,
                format!("the label \"{key}\" has an empty value; expected {LABEL_SHAPE}"),
            );
        } else if !label_name(value) {
            cx.err(
                &at,
                format!("\"{value}\" is not a Kubernetes label value: {LABEL_SHAPE}"),
            );
        }
    }
    k.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// An RFC 1123 label, as namespace names are: lowercase letters, digits and
/// `-`, at most 63, starting and ending with a letter or digit.
fn dns_label(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&s.len()) && s.chars().all(|c| ok(c) || c == '-') && s.starts_with(ok) && s.ends_with(ok)
}

/// A label name or value: letters, digits, `-`, `_`, `.`, at most 63,
/// starting and ending with a letter or digit.
fn label_name(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A label key: `name` or `prefix/name`, the prefix a DNS subdomain (dot-separated DNS labels, at most 253).
fn label_key(s: &str) -> bool {
    match s.split_once('/') {
        None => label_name(s),
        Some((prefix, name)) => prefix.len() <= 253 && prefix.split('.').all(dns_label) && label_name(name),
    }
}

#[cfg(test)]
mod tests {
    use crate::input::diag::{Diagnostic, Source};
    use crate::input::parse::parse_topology;
    use crate::input::topology::resolve_topology;
    use crate::model::{KubernetesMatch, RegionId, ServiceId, Topology};

    /// Two regions, a service in both (explicit labels), one in eu only (default labels).
    fn topology(kubernetes: &str, psp_labels: &str) -> String {
        format!(
            "name = \"k\"\n\
             [[regions]]\nname = \"eu-west\"\n[[regions]]\nname = \"us-east\"\n\
             [[flows]]\nname = \"checkout\"\nentry = \"gateway\"\n\
             [[services]]\nname = \"gateway\"\nregions = [\"eu-west\"]\nservice_time = 1\n\
             [[services]]\nname = \"psp-primary\"\nregions = [\"eu-west\", \"us-east\"]\nservice_time = 1\n\
             {psp_labels}\n\
             {kubernetes}\n"
        )
    }

    fn load(text: &str) -> Result<Topology, Vec<Diagnostic>> {
        let src = Source::new("k.toml", text);
        let raw = parse_topology(&src)?;
        resolve_topology(&src, &raw).map(|(t, _)| t)
    }

    /// The one error a text gives, as `line:column: message`.
    fn error(text: &str) -> String {
        let diags = load(text).expect_err("the text has an error");
        assert_eq!(diags.len(), 1, "{diags:?}");
        let d = &diags[0];
        format!("{}:{}: {}", d.line, d.column, d.message)
    }

    /// `line:column` (1-based, characters) of the first `needle` in `text`.
    fn at(text: &str, needle: &str) -> String {
        let offset = text.find(needle).expect("the needle is in the text");
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = text[..offset].matches('\n').count() + 1;
        format!("{line}:{}", text[line_start..offset].chars().count() + 1)
    }

    #[test]
    fn a_valid_mapping_resolves_and_selectors_pick_services_and_regions() {
        // Namespaces map to regions; explicit labels replace the default
        // app/app.kubernetes.io/name labels; selectors pick by label, namespace and region label.
        let t = load(&topology(
            "[kubernetes]\nnamespaces = { payments-us = \"us-east\", payments-eu = \"eu-west\" }",
            "kubernetes = { labels = { app = \"psp-gateway\", \"app.kubernetes.io/part-of\" = \"payments\" } }",
        ))
        .expect("the mapping is valid");
        let (eu, us) = (RegionId(0), RegionId(1));
        assert_eq!(
            t.kubernetes.namespaces,
            vec![("payments-eu".to_string(), eu), ("payments-us".to_string(), us)]
        );
        assert_eq!(
            t.services[0].kubernetes_labels,
            vec![
                ("app".to_string(), "gateway".to_string()),
                ("app.kubernetes.io/name".to_string(), "gateway".to_string())
            ]
        );
        assert_eq!(
            t.services[1].kubernetes_labels[0],
            ("app".to_string(), "psp-gateway".to_string())
        );
        let psp = |regions: [bool; 2]| KubernetesMatch {
            service: ServiceId(1),
            regions: regions.to_vec(),
        };
        assert_eq!(
            t.services_matching(&[("app", "psp-gateway")], None),
            vec![psp([true, true])]
        );
        assert_eq!(
            t.services_matching(&[("app", "psp-gateway")], Some("payments-us")),
            vec![psp([false, true])]
        );
        // Not listed: every region. The region label narrows.
        assert_eq!(
            t.services_matching(&[("app.kubernetes.io/part-of", "payments")], Some("default")),
            vec![psp([true, true])]
        );
        assert_eq!(
            t.services_matching(
                &[("app", "psp-gateway"), ("topology.kubernetes.io/region", "eu-west")],
                None
            ),
            vec![psp([true, false])]
        );
        // The default labels match by either key; the gateway has no replica in us-east.
        assert_eq!(
            t.services_matching(&[("app.kubernetes.io/name", "gateway")], None)
                .len(),
            1
        );
        assert!(
            t.services_matching(&[("app", "gateway")], Some("payments-us"))
                .is_empty()
        );
        assert!(t.services_matching(&[("app", "psp-primary")], None).is_empty());
    }

    #[test]
    fn a_namespace_in_an_unknown_region_is_located() {
        // The error points at the region's value and lists the known regions.
        let text = topology("[kubernetes]\nnamespaces = { payments-eu = \"eu-wst\" }", "");
        assert_eq!(
            error(&text),
            format!(
                "{}: kubernetes.namespaces.payments-eu: unknown region \"eu-wst\" (known: eu-west, us-east)",
                at(&text, "\"eu-wst\"")
            )
        );
    }

    #[test]
    fn a_namespace_that_is_not_a_dns_label_is_located() {
        // A namespace name is a DNS label: lowercase, no underscores; the error points at its region.
        let text = topology("[kubernetes]\nnamespaces = { Payments_EU = \"eu-west\" }", "");
        let head = format!(
            "{}: kubernetes.namespaces.Payments_EU: \"Payments_EU\" is not a Kubernetes namespace name",
            at(&text, "\"eu-west\" }")
        );
        let e = error(&text);
        assert!(e.starts_with(&head), "{e}");
    }

    #[test]
    fn an_empty_label_value_and_a_bad_label_key_are_located() {
        // Each label problem points at the label's value, naming the label.
        let text = topology("", "kubernetes = { labels = { app = \"\" } }");
        assert_eq!(
            error(&text),
            format!(
                "{}: services[1].kubernetes.labels.app: the label \"app\" has an empty value; expected 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
                at(&text, "\"\" }")
            )
        );
        let text = topology("", "kubernetes = { labels = { \"-app\" = \"x\" } }");
        let head = format!(
            "{}: services[1].kubernetes.labels.-app: \"-app\" is not a Kubernetes label key",
            at(&text, "\"x\"")
        );
        let e = error(&text);
        assert!(e.starts_with(&head), "{e}");
        // A key TOML must quote is quoted in the path.
        let text = topology(
            "",
            "kubernetes = { labels = { \"topology.kubernetes.io/region\" = \"eu-west\" } }",
        );
        let head = format!(
            "{}: services[1].kubernetes.labels.\"topology.kubernetes.io/region\": \"topology.kubernetes.io/region\" comes from the region of the namespace",
            at(&text, "\"eu-west\" }")
        );
        let e = error(&text);
        assert!(e.starts_with(&head), "{e}");
        let text = topology("", "kubernetes = { labels = {} }");
        let head = format!("{}: services[1].kubernetes.labels: no labels", at(&text, "{}"));
        let e = error(&text);
        assert!(e.starts_with(&head), "{e}");
    }

    #[test]
    fn unknown_kubernetes_keys_are_errors() {
        // `[kubernetes]` and a service's `kubernetes` deny unknown keys, like every other table.
        let e = error(&topology("[kubernetes]\nnamespace = { a = \"eu-west\" }", ""));
        assert!(e.contains("unknown field `namespace`, expected `namespaces`"), "{e}");
        let e = error(&topology("", "kubernetes = { label = { app = \"x\" } }"));
        assert!(e.contains("unknown field `label`, expected `labels`"), "{e}");
        // An array of tables is not the mapping's shape.
        let text = topology("[[kubernetes]]\nnamespaces = {}", "");
        let e = error(&text);
        assert!(
            e.ends_with("kubernetes: expected a table ([kubernetes]), found an array"),
            "{e}"
        );
    }
}
