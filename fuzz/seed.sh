#!/usr/bin/env bash
# Writes fresh seed inputs for every fuzz target into fuzz/seeds/<target>/
# from the repository's own files: the catalog (scenarios/), the meshes
# (topologies/), the report fixtures (tests/fixtures/), and the base pair of
# tests/integration/bad_input.rs. `cargo fuzz cmin` then folds them into the
# committed corpus (see docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/seeds
rm -rf "$out" && mkdir -p "$out"/{topology,scenario,pair,empirical}
python3 - "$out" <<'PY'
import glob, os, re, sys
out = sys.argv[1]
sep = "\n# ---- scenario ----\n"
def put(target, name, text):
    with open(os.path.join(out, target, name), "w") as f:
        f.write(text)
# The base pair of the bad-input tests: two string constants.
src = open("tests/integration/bad_input.rs").read()
consts = dict(re.findall(r'const (\w+): &str = r#"(.*?)"#;', src, re.S))
for path in sorted(glob.glob("topologies/*.toml")):
    put("topology", os.path.basename(path), open(path).read())
if "TOPOLOGY" in consts:
    put("topology", "bad-input-base.toml", consts["TOPOLOGY"])
scenarios = sorted(glob.glob("scenarios/*.toml")) + sorted(glob.glob("tests/fixtures/**/*.toml", recursive=True))
for path in scenarios:
    text = open(path).read()
    name = path.replace("/", "_")
    put("scenario", name, text)
    m = re.search(r'topology\s*=\s*"([^"]+)"', text)
    topo = os.path.normpath(os.path.join(os.path.dirname(path), m.group(1))) if m else None
    if topo and os.path.isfile(topo):
        put("pair", name, open(topo).read() + sep + text)
if "TOPOLOGY" in consts and "SCENARIO" in consts:
    put("scenario", "bad-input-base.toml", consts["SCENARIO"])
    put("pair", "bad-input-base.toml", consts["TOPOLOGY"] + sep + consts["SCENARIO"])
# CSVs: the first line is the column to read (empty: the first column).
csvs = sorted(glob.glob("tests/fixtures/**/*.csv", recursive=True))
for path in csvs:
    lines = open(path).read().splitlines()[:12]
    header = lines[0].split(",") if lines else []
    col = next((h for h in header if h.endswith("_ms")), "")
    put("empirical", path.replace("/", "_"), col + "\n" + "\n".join(lines) + "\n")
put("empirical", "plain.csv", "\n0.5\n1\n2.5\n10\n")
put("empirical", "header.csv", "latency_ms\nrequest,latency_ms\na,1.5\nb,2\nc,30\n")
PY
for t in topology scenario pair empirical; do
  echo "$t: $(ls "$out/$t" | wc -l) seeds"
done
