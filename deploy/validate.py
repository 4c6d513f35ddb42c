#!/usr/bin/env python3
"""Checks deploy/'s manifests against the Kubernetes and Argo Workflows schemas, offline.

    python3 deploy/validate.py FILE.yaml...    (deploy/validate.sh sets up the pinned packages)

* Kubernetes objects (Job, PersistentVolumeClaim, ...) are checked against the
  JSON schemas that the kubernetes-validate package bundles (made from each
  Kubernetes release's OpenAPI document), in strict mode: an unknown field is
  an error, as `kubectl apply --validate=strict` makes it. Each object is
  checked for every version in KUBERNETES_VERSIONS.
* Argo objects (apiVersion argoproj.io/v1alpha1) are read into the models of
  Argo's own Python SDK (the argo-workflows package, generated from Argo's
  OpenAPI document): a wrong type, a value outside an enum or a missing
  required field is an error. The SDK keeps unknown fields instead of refusing
  them, so this script walks the models and reports every field that is not in
  the schema. Then `argo lint`'s reference checks that need no cluster: the
  entrypoint and every DAG task's template exist, `depends` names tasks, and
  every {{workflow.parameters.X}} / {{inputs.parameters.X}} is declared.
* chaoscal's own contract: an Indexed Job running `--shard auto/N` must have
  `completions: N` (else merge finds shards missing).

Every problem of every document is printed as `FILE: KIND/NAME: PATH: message`;
the exit code is 1 when there is any, 0 otherwise, 2 when a file cannot be read.
"""

import copy
import json
import re
import sys

import yaml

# The oldest Kubernetes the package bundles (Indexed Jobs are GA since 1.24)
# and the newest: a field removed or renamed in between shows up in one of them.
KUBERNETES_VERSIONS = ["1.25.0", "1.37.0"]

ARGO_API = "argoproj.io/v1alpha1"


def kubernetes_problems(doc):
    """Strict schema errors of one Kubernetes object, for every version checked."""
    import jsonschema
    import referencing
    from kubernetes_validate import utils as kv

    # kubernetes_validate.validate() stops at the first error; this is its
    # schema lookup with every error reported (the package version is pinned).
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", str(doc.get("apiVersion", "")))
    kind = str(doc.get("kind", "")).lower()
    problems = []
    for version in KUBERNETES_VERSIONS:
        folder = "kubernetes-json-schema/v%s-local-strict" % version
        try:
            schema = kv.schema_contents("%s/%s-%s.json" % (folder, kind, api), version)
        except FileNotFoundError:
            problems.append(("", "no Kubernetes %s schema for kind %r of %r" % (version, doc.get("kind"), doc.get("apiVersion"))))
            continue
        definitions = kv.schema_contents(folder + "/_definitions.json", version)
        # Both files carry an $id, which is how the one's $refs find the other.
        registry = referencing.Resource.from_contents(definitions) @ (
            referencing.Resource.from_contents(schema) @ referencing.Registry())
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
            problems.append((path_text(error.absolute_path), "%s (Kubernetes %s)" % (error.message, version)))
    return problems


def argo_problems(doc):
    """Schema and reference errors of one Argo object."""
    import argo_workflows
    from argo_workflows import model_utils
    from argo_workflows.exceptions import OpenApiException

    kinds = {
        "Workflow": "io_argoproj_workflow_v1alpha1_workflow.IoArgoprojWorkflowV1alpha1Workflow",
        "WorkflowTemplate": "io_argoproj_workflow_v1alpha1_workflow_template.IoArgoprojWorkflowV1alpha1WorkflowTemplate",
        "ClusterWorkflowTemplate": "io_argoproj_workflow_v1alpha1_cluster_workflow_template."
        "IoArgoprojWorkflowV1alpha1ClusterWorkflowTemplate",
        "CronWorkflow": "io_argoproj_workflow_v1alpha1_cron_workflow.IoArgoprojWorkflowV1alpha1CronWorkflow",
    }
    if doc.get("kind") not in kinds:
        return [("kind", "unknown Argo kind %r (known: %s)" % (doc.get("kind"), ", ".join(kinds)))]
    module, cls = kinds[doc["kind"]].split(".")
    model_class = getattr(__import__("argo_workflows.model." + module, fromlist=[cls]), cls)
    try:
        # A deep copy: the SDK rewrites the dictionaries it is given into models.
        model = model_utils.validate_and_convert_types(
            copy.deepcopy(doc), (model_class,), [], True, True, argo_workflows.Configuration())
    except (OpenApiException, TypeError) as error:
        # The SDK stops at the first wrong type (its message carries the path)
        # or missing required field (a TypeError naming the field's model).
        return [("", str(error).replace("\n", " "))]
    problems = [(path_text(p), "unknown field (not in Argo's schema)") for p in unknown_fields(model, [])]
    spec = doc.get("spec", {})
    if doc["kind"] == "CronWorkflow":
        spec = spec.get("workflowSpec", {})
    return problems + argo_reference_problems(spec)


def unknown_fields(value, path):
    """Paths of the fields the SDK kept as additional properties, i.e. not in the schema."""
    from argo_workflows.model_utils import OpenApiModel

    found = []
    if isinstance(value, OpenApiModel):
        known = value.openapi_types
        for name, item in value._data_store.items():
            json_name = value.attribute_map.get(name, name)
            if name not in known:
                found.append(path + [json_name])
            else:
                found += unknown_fields(item, path + [json_name])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += unknown_fields(item, path + [i])
    elif isinstance(value, dict):
        for key, item in value.items():
            found += unknown_fields(item, path + [key])
    return found


def argo_reference_problems(spec):
    """What `argo lint` would refuse without a cluster: dangling template, task and parameter names."""
    problems = []
    templates = {t.get("name"): t for t in spec.get("templates", [])}
    workflow_parameters = {p.get("name") for p in spec.get("arguments", {}).get("parameters", [])}
    if spec.get("entrypoint") not in templates:
        problems.append(("spec.entrypoint", "no template named %r" % spec.get("entrypoint")))
    for i, template in enumerate(spec.get("templates", [])):
        where = "spec.templates[%d]" % i
        tasks = template.get("dag", {}).get("tasks", [])
        names = {t.get("name") for t in tasks}
        for j, task in enumerate(tasks):
            if task.get("template") not in templates:
                problems.append(("%s.dag.tasks[%d].template" % (where, j), "no template named %r" % task.get("template")))
            for dependency in re.findall(r"[A-Za-z0-9_-]+(?=\.|\b)", task.get("depends", "")):
                if dependency not in names and dependency not in ("Succeeded", "Failed", "Errored", "Skipped",
                                                                  "Omitted", "Daemoned", "AnySucceeded",
                                                                  "AllFailed"):
                    problems.append(("%s.dag.tasks[%d].depends" % (where, j), "no task named %r" % dependency))
        inputs = {p.get("name") for p in template.get("inputs", {}).get("parameters", [])}
        text = json.dumps(template)
        for name in re.findall(r"\{\{\s*workflow\.parameters\.([A-Za-z0-9_-]+)\s*\}\}", text):
            if name not in workflow_parameters:
                problems.append((where, "{{workflow.parameters.%s}} is not declared in spec.arguments" % name))
        for name in re.findall(r"\{\{\s*inputs\.parameters\.([A-Za-z0-9_-]+)\s*\}\}", text):
            if name not in inputs:
                problems.append((where, "{{inputs.parameters.%s}} is not declared in this template's inputs" % name))
    return problems


def shard_contract_problems(doc):
    """An Indexed Job running `--shard auto/N` needs completions = N."""
    if doc.get("kind") != "Job" or doc.get("spec", {}).get("completionMode") != "Indexed":
        return []
    problems = []
    completions = doc["spec"].get("completions")
    for i, container in enumerate(doc["spec"].get("template", {}).get("spec", {}).get("containers", [])):
        args = [str(a) for a in container.get("command", []) + container.get("args", [])]
        for j, arg in enumerate(args[:-1]):
            m = re.fullmatch(r"auto/(\d+)", args[j + 1]) if arg == "--shard" else None
            if m and int(m.group(1)) != completions:
                problems.append(("spec.template.spec.containers[%d]" % i,
                                 "--shard auto/%s but completions is %s: the merge would miss shards"
                                 % (m.group(1), completions)))
    return problems


def path_text(path):
    text = ""
    for part in path:
        text += "[%d]" % part if isinstance(part, int) else ("." if text else "") + str(part)
    return text


def main(files):
    if not files:
        print("usage: validate.py FILE.yaml...", file=sys.stderr)
        return 2
    failed = checked = 0
    for file in files:
        try:
            with open(file, encoding="utf-8") as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except (OSError, yaml.YAMLError) as error:
            print("%s: %s" % (file, error), file=sys.stderr)
            return 2
        for doc in docs:
            checked += 1
            name = "%s/%s" % (doc.get("kind"), doc.get("metadata", {}).get("name"))
            if doc.get("apiVersion") == ARGO_API:
                problems, against = argo_problems(doc), "Argo's schema (argo-workflows SDK)"
            else:
                problems = kubernetes_problems(doc) + shard_contract_problems(doc)
                against = "Kubernetes " + " and ".join(KUBERNETES_VERSIONS) + ", strict"
            for where, message in problems:
                print("%s: %s: %s: %s" % (file, name, where or "(top)", message))
            failed += bool(problems)
            if not problems:
                print("%s: %s: valid against %s" % (file, name, against))
    print("%d passed, %d failed" % (checked - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
