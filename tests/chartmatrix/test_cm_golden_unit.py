"""Golden normalization, masking and comparison (units)."""

from __future__ import annotations

from pathlib import Path

from chartmatrix.golden import MASK, compare, dump, normalize, orphans
from chartmatrix.manifests import parse
from chartmatrix.spec import Mask

RENDER = """---
# Source: c/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: app-auth
  labels: {helm.sh/chart: c-1.2.3, keep: me}
data: {password: cmFuZG9t, user: YWRtaW4=}
---
# Source: c/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data:
  script.sh: |
    #!/bin/sh
    echo — ok
"""


def test_normalize_sorts_masks_and_keeps_input() -> None:
    manifests = parse(RENDER)
    out = normalize(manifests, [Mask(path="data.password", kind="Secret", name="*-auth")])
    assert [m.kind for m in out] == ["ConfigMap", "Secret"]
    secret = out[1].obj
    assert secret["metadata"]["labels"] == {"helm.sh/chart": MASK, "keep": "me"}
    assert secret["data"] == {"password": MASK, "user": "YWRtaW4="}
    assert manifests[0].obj["data"]["password"] == "cmFuZG9t", "input objects are untouched"
    everything = normalize(manifests, [Mask(path="data.*", kind="Secret")])
    assert set(everything[1].obj["data"].values()) == {MASK}


def test_dump_is_readable_and_compare_diffs(tmp_path: Path) -> None:
    text = dump(normalize(parse(RENDER)), "c", "default")
    assert "# Source: c/templates/cm.yaml" in text
    assert "script.sh: |\n    #!/bin/sh\n    echo — ok\n" in text  # block style, UTF-8 kept
    file = tmp_path / "golden" / "default.yaml"
    assert compare(file, text, update=False, ci=True).status == "missing"
    assert compare(file, text, update=False, ci=False).status == "written"
    assert compare(file, text, update=False, ci=True).status == "same"
    changed = compare(file, text.replace("ok", "okay"), update=False, ci=True)
    assert changed.status == "changed"
    assert "-    echo — ok" in changed.diff and "+    echo — okay" in changed.diff
    assert compare(file, text.replace("ok", "okay"), update=True, ci=True).status == "updated"
    (file.parent / "stale.yaml").write_text("---\n")
    assert orphans(file.parent, ["default.yaml"]) == [file.parent / "stale.yaml"]
