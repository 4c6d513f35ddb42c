#!/usr/bin/env bash
# Checks every manifest in deploy/ against the Kubernetes schemas (strict) and
# Argo's schema, offline: the schemas come inside the pinned Python packages
# of deploy/validate-requirements.txt, installed once into a virtualenv
# (CHAOSCAL_VALIDATE_VENV, default target/deploy-venv). Then proves that the
# check can fail: a few broken copies of the manifests must each be refused.
#   deploy/validate.sh            exit 0 valid, 1 a manifest is invalid, 2 setup failed
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CHAOSCAL_VALIDATE_VENV:-target/deploy-venv}"
requirements=deploy/validate-requirements.txt

# (Re)install when the pins changed since the virtualenv was made.
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" || exit 2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements" || exit 2
  cp "$requirements" "$venv/requirements.txt"
fi
python="$venv/bin/python"

manifests=(deploy/kubernetes/*.yaml deploy/argo/*.yaml)
"$python" deploy/validate.py "${manifests[@]}" || exit $?

# The check must not be vacuous: each of these edits must be refused.
broken="$(mktemp -d)"
trap 'rm -rf "$broken"' EXIT
mutate() { # NAME FILE SED-EXPRESSION: a copy of FILE with one mistake
  sed "$3" "$2" >"$broken/$1.yaml"
  if cmp -s "$2" "$broken/$1.yaml"; then
    echo "validate.sh: the edit '$3' no longer matches $2: update the self-test" >&2
    exit 1
  fi
}
mutate misspelt-field deploy/kubernetes/shards-job.yaml 's/completionMode:/completionMod:/'
mutate wrong-type deploy/kubernetes/merge-job.yaml 's/backoffLimit: 1/backoffLimit: "1"/'
mutate shard-count deploy/kubernetes/shards-job.yaml 's|auto/8 |auto/7 |'
mutate argo-misspelt-field deploy/argo/chaoscal-workflowtemplate.yaml 's/retryStrategy:/retryStrategi:/'
mutate argo-wrong-type deploy/argo/chaoscal-workflowtemplate.yaml 's/entrypoint: main/entrypoint: [main]/'
mutate argo-dangling-template deploy/argo/chaoscal-workflowtemplate.yaml 's/template: run-shard/template: run-shards/'
mutate argo-undeclared-parameter deploy/argo/chaoscal-workflowtemplate.yaml 's/workflow.parameters.replications/workflow.parameters.replication/'
refused=0
for file in "$broken"/*.yaml; do
  # Refused means reported as invalid (exit 1 and the count), not a crash.
  code=0
  "$python" deploy/validate.py "$file" >"$broken/out" 2>&1 || code=$?
  if [[ $code != 1 ]] || ! grep -q '^0 passed, 1 failed$' "$broken/out"; then
    echo "validate.sh: $(basename "$file" .yaml) was not refused as invalid (exit $code):" >&2
    cat "$broken/out" >&2
    exit 1
  fi
  refused=$((refused + 1))
done
echo "deploy/validate.sh: all manifests valid; $refused broken copies refused"
