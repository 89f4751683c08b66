"""The immutable-field message shows the change itself, however long the field."""

from __future__ import annotations

import copy

import yaml
from chartmatrix.manifests import parse
from chartmatrix.rules import RuleContext, run_rules


def _sts(storage: str) -> dict:
    claim = {
        "metadata": {"name": "data", "labels": {f"label-{i}": "x" * 20 for i in range(8)}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "volumeClaimTemplates": [claim]},
    }


def test_long_immutable_change_names_the_differing_leaf() -> None:
    old, new = _sts("1Gi"), copy.deepcopy(_sts("5Gi"))
    ctx = RuleContext(manifests=parse(yaml.safe_dump(new)), golden=parse(yaml.safe_dump(old)))
    [finding] = [f for f in run_rules(ctx) if f.rule == "upgrade/immutable-field"]
    assert (
        'spec.volumeClaimTemplates[0].spec.resources.requests.storage: "1Gi" -> "5Gi"'
        in finding.message
    ), finding.message
    assert "None" not in finding.message
