#!/usr/bin/env bash
# Runs the catalog as an Indexed Job of shards, then the merge (and check).
# Needs kubectl pointed at the cluster and namespace, the image pushed, and a
# ReadWriteMany storage class for pvc.yaml. Results stay on the volume under
# /results/run/ (merged/, junit.xml, check.md).
set -euo pipefail
here="$(dirname "$0")"

# Waits for a Job to complete; fails as soon as it has failed (or after the timeout, in seconds).
wait_job() {
  local end=$((SECONDS + $2)) state
  while ((SECONDS < end)); do
    state="$(kubectl get job "$1" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')"
    case "$state" in
      *Complete*) return 0 ;;
      *Failed*) return 1 ;;
    esac
    sleep 10
  done
  return 1
}

kubectl apply -f "$here/pvc.yaml"
kubectl delete job chaoscal-shards chaoscal-merge --ignore-not-found
kubectl apply -f "$here/shards-job.yaml"
if ! wait_job chaoscal-shards 86400; then
  echo "the shard Job failed or timed out: kubectl describe job/chaoscal-shards" >&2
  exit 2
fi
kubectl apply -f "$here/merge-job.yaml"
# check exits 1 when an expectation or a baseline comparison fails: the Job then fails too.
if wait_job chaoscal-merge 7200; then
  echo "merged and checked: see /results/run on the chaoscal-results volume"
else
  kubectl logs job/chaoscal-merge
  exit 1
fi
