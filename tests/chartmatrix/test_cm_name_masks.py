"""Objects whose names are random (podinfo's test Pods): each name that one of two renders
has is paired with its counterpart in the other, and a ``metadata.name`` mask is proposed
per pair, only when the pairing is unambiguous."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from chartmatrix.cli import main
from chartmatrix.golden import Normalizer, variations
from chartmatrix.goldenstage import _pair_names
from chartmatrix.manifests import parse
from chartmatrix.spec import Mask
from cm_charts import write_spec, write_tree

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: podinfo\nversion: 0.1.0\n",
    "values.yaml": "replicaCount: 1\n",
}


def _pod(stem: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {{{{ .Release.Name }}}}-podinfo-{stem}-test-{{{{ randAlphaNum 5 | lower }}}}
spec:
  containers: [{{name: {stem}, image: "busybox:1.36"}}]
"""


FIXED = """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-podinfo
spec:
  containers: [{name: podinfo, image: "ghcr.io/stefanprodan/podinfo:6.5.0"}]
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["run", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, out + err


def _proposed(out: str) -> list[dict[str, str]]:
    entries = re.findall(r"add to matrix\.yaml: mask: \[(\{.*?\})\]", out)
    return [yaml.safe_load(e) for e in dict.fromkeys(entries)]


def test_random_names_of_one_kind_get_one_name_mask_per_stem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    files = dict(CHART)
    files["templates/podinfo.yaml"] = FIXED
    for stem in ("grpc", "jwt", "service"):
        files[f"templates/tests/{stem}.yaml"] = _pod(stem)
    write_tree(tmp_path / "charts" / "podinfo", files)
    spec = write_spec(tmp_path, "podinfo", {"axes": {"replicaCount": [1, 2]}})
    code, out = _run(capsys, str(spec.parent))
    assert code == 1, out
    found = re.findall(r"error golden/nondeterministic: Pod/(\S+): (.*)", out)
    # each Pod of either render, in either case (the names differ): all propose a mask
    assert len(found) == 12, out
    assert all("to compare it under a masked name" in message for _, message in found), out
    masks = _proposed(out)
    assert sorted(m["name"] for m in masks) == [
        "test-podinfo-grpc-test-*",
        "test-podinfo-jwt-test-*",
        "test-podinfo-service-test-*",
    ], out
    assert all(m["kind"] == "Pod" and m["path"] == "metadata.name" for m in masks)
    assert not (spec.parent / "golden").exists() or not list((spec.parent / "golden").iterdir())

    # the proposed masks, pasted into the spec, settle every case
    write_spec(tmp_path, "podinfo", {"axes": {"replicaCount": [1, 2]}, "mask": masks})
    code, out = _run(capsys, "--update-golden", str(spec.parent))
    assert code == 0, out
    assert "nondeterministic" not in out and "unused-mask" not in out, out
    for file in (spec.parent / "golden").glob("*.yaml"):
        docs = [d for d in yaml.safe_load_all(file.read_text()) if d]
        names = [d["metadata"]["name"] for d in docs]
        assert names == ["test-podinfo", "<masked>", "<masked>", "<masked>"], file
        # in a stable order: by their documents (here their templates), not the random names
        assert [d["spec"]["containers"][0]["name"] for d in docs[1:]] == ["grpc", "jwt", "service"]
    code, out = _run(capsys, "--ci", str(spec.parent))
    assert code == 0, out


def test_random_names_that_pair_up_ambiguously_get_no_mask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    files = dict(CHART)
    files["templates/podinfo.yaml"] = FIXED
    # two Pods of one stem: either of the other render's may be a Pod's counterpart
    files["templates/tests/a.yaml"] = _pod("dup")
    files["templates/tests/b.yaml"] = _pod("dup")
    files["templates/tests/c.yaml"] = _pod("grpc")
    write_tree(tmp_path / "charts" / "podinfo", files)
    spec = write_spec(tmp_path, "podinfo", {})
    code, out = _run(capsys, str(spec.parent))
    assert code == 1, out
    dup = re.findall(r"error golden/nondeterministic: Pod/test-podinfo-dup-test-\S+: (.*)", out)
    assert len(dup) == 4, out
    assert all(
        m.startswith(
            "is rendered by only one of two renders of the same values: its name "
            "varies; the case's golden file is not written"
        )
        for m in dup
    ), out
    # the unambiguous one still gets its mask
    assert [m["name"] for m in _proposed(out)] == ["test-podinfo-grpc-test-*"], out


def _manifests(*names: str, kind: str = "Pod") -> list:
    return parse(
        "".join(f"---\napiVersion: v1\nkind: {kind}\nmetadata: {{name: {n}}}\n" for n in names)
    )


def test_pairing_needs_a_unique_best_match_on_whole_words() -> None:
    first = _manifests("t-grpc-test-ab1c2", "t-jwt-test-zz9q0", "t-service-test-q1w2e", "t")
    second = _manifests("t-jwt-test-ab1c2", "t-grpc-test-0o0o0", "t-service-test-x9x9x", "t")
    assert _pair_names(first, second) == {
        ("Pod", "t-grpc-test-ab1c2"): "t-grpc-test-*",
        ("Pod", "t-grpc-test-0o0o0"): "t-grpc-test-*",
        ("Pod", "t-jwt-test-zz9q0"): "t-jwt-test-*",
        ("Pod", "t-jwt-test-ab1c2"): "t-jwt-test-*",
        ("Pod", "t-service-test-q1w2e"): "t-service-test-*",
        ("Pod", "t-service-test-x9x9x"): "t-service-test-*",
    }
    # random characters shared by chance are no stem: each of two Pods of one stem has
    # two equally good counterparts
    first = _manifests("t-x-ab1c2", "t-x-cd3e4")
    second = _manifests("t-x-a0000", "t-x-zzzz4")
    assert _pair_names(first, second) == {}
    # a glob that would also hide another name of the kind (here a fixed one) pairs nothing
    first = _manifests("t-a-ab1c2", "t-a-fixed", "t-b-q1q1q")
    second = _manifests("t-a-zz9z9", "t-a-fixed", "t-b-w2w2w")
    assert _pair_names(first, second) == {
        ("Pod", "t-b-q1q1q"): "t-b-*",
        ("Pod", "t-b-w2w2w"): "t-b-*",
    }
    # nothing shared (or only part of a word) is no pair; other kinds are not counterparts
    first = _manifests("pod1", "ab-1") + _manifests("cm-x-1", kind="ConfigMap")
    second = _manifests("pod2", "cd-2") + _manifests("cm-x-2", kind="ConfigMap")
    assert _pair_names(first, second) == {
        ("ConfigMap", "cm-x-1"): "cm-x-*",
        ("ConfigMap", "cm-x-2"): "cm-x-*",
    }


def _pods(*pairs: tuple[str, str]) -> list:
    return parse(
        "".join(
            f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\n"
            f"spec: {{containers: [{{name: c, image: {image}}}]}}\n"
            for name, image in pairs
        )
    )


def test_objects_a_name_mask_makes_alike_keep_one_order_and_pair_in_it() -> None:
    """Two Pods of one template whose random names sort either way: masked, they are
    written in the order of their documents, so the golden file does not flip."""
    mask = Mask(path="metadata.name", kind="Pod", name="t-*")
    first = Normalizer([mask]).normalize(_pods(("t-aaaa", "alpine:3"), ("t-zzzz", "busybox:1")))
    second = Normalizer([mask]).normalize(_pods(("t-aaaa", "busybox:1"), ("t-zzzz", "alpine:3")))
    assert [m.obj["spec"]["containers"][0]["image"] for m in first] == ["alpine:3", "busybox:1"]
    written = Normalizer().render(first, "c", "x").text()
    assert written == Normalizer().render(second, "c", "x").text()
    assert [m.index for m in second] == [0, 1]
    assert variations(first, second) == []
    # a real change is found on the Pod that has it, not hidden by its twin
    third = Normalizer([mask]).normalize(_pods(("t-q", "alpine:3"), ("t-r", "busybox:2")))
    changed = variations(first, third)
    assert [(v.kind, v.path) for v in changed] == [("Pod", "spec.containers[name=c].image")]


def test_a_mask_proposed_inside_a_masked_name_matches_that_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the container's name is random too: once the Pod's name is masked, a mask for the
    # container is matched against the name as rendered, never against "<masked>"
    monkeypatch.delenv("CI", raising=False)
    files = dict(CHART)
    files["templates/tests/pod.yaml"] = """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-{{ randAlpha 5 | lower }}-test
spec:
  containers: [{name: "c-{{ randAlpha 5 | lower }}", image: "busybox:1.36"}]
"""
    write_tree(tmp_path / "charts" / "podinfo", files)
    name_mask = {"kind": "Pod", "name": "test-*-test", "path": "metadata.name"}
    spec = write_spec(tmp_path, "podinfo", {"mask": [name_mask]})
    code, out = _run(capsys, str(spec.parent))
    assert code == 1, out
    [proposed] = _proposed(out)
    assert proposed == {"kind": "Pod", "name": "test-*-test", "path": "spec.containers[0].name"}
    write_spec(tmp_path, "podinfo", {"mask": [name_mask, proposed]})
    code, out = _run(capsys, str(spec.parent))
    assert code == 0 and "nondeterministic" not in out and "unused-mask" not in out, out
