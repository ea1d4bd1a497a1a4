"""Copy the Kubernetes JSON schemas of the kinds under ops/k8s/ into this folder.

The schemas come from the ``kubernetes-validate`` wheel (PyPI), which bundles the
OpenAPI of each Kubernetes release converted to JSON Schema. Only the kinds we ship
and the definitions they reach are kept (a few hundred KB instead of 20 MB), so the
manifests validate offline with nothing but ``jsonschema``:

    pip download --no-deps kubernetes-validate==1.37.0 -d /tmp/kv
    unzip -q /tmp/kv/kubernetes_validate-*.whl -d /tmp/kv/x
    python ops/k8s/schemas/vendor.py /tmp/kv/x/kubernetes_validate/kubernetes-json-schema/v1.30.0-local-strict

The "strict" flavour forbids unknown fields, so a misspelt key fails validation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
#: Kubernetes release the schemas describe: the oldest still supported by the big clouds.
VERSION = "1.30"
KINDS = [
    "configmap-v1",
    "deployment-apps-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "networkpolicy-networking-v1",
    "poddisruptionbudget-policy-v1",
    "secret-v1",
    "service-v1",
    "serviceaccount-v1",
]
_PREFIX = "/api/_definitions.json#/$defs/"


def refs(node: Any) -> set[str]:
    """Every definition name that ``node`` refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                found |= refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= refs(item)
    return found


def main(source: Path) -> None:
    definitions = json.loads((source / "_definitions.json").read_text())
    wanted: set[str] = set()
    for kind in KINDS:
        schema = json.loads((source / f"{kind}.json").read_text())
        (HERE / f"{kind}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        wanted |= refs(schema)
    todo, kept = list(wanted), {}
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept[name] = definitions["$defs"][name]
        todo.extend(refs(kept[name]) - kept.keys())
    pruned = {key: value for key, value in definitions.items() if key != "$defs"}
    pruned["$defs"] = dict(sorted(kept.items()))
    (HERE / "_definitions.json").write_text(json.dumps(pruned, indent=1, sort_keys=True) + "\n")
    print(f"{len(KINDS)} kinds, {len(kept)} definitions (Kubernetes {VERSION}) -> {HERE}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
