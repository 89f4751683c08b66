"""Golden normalization, masking and comparison (units)."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest
import yaml
from chartmatrix import blockyaml, golden
from chartmatrix.golden import (
    MASK,
    Normalizer,
    compare,
    crd_refs,
    dump,
    foreign,
    is_golden,
    name_glob,
    normalize,
    orphans,
    resolve_crds,
    variations,
)
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
    (file.parent / "stale.yaml").write_text(dump([], "c", "stale"))
    assert orphans(file.parent, ["default.yaml"]) == [file.parent / "stale.yaml"]


# -- renders that differ from themselves --------------------------------------------------

RANDOM = """---
# Source: r/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata: {name: db}
data: {mysql-root-password: {pw}, user: YWRtaW4=}
---
# Source: r/templates/sts.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    metadata:
      annotations: {checksum/secret: {sum}}
    spec:
      containers:
        - name: app
          env:
            - {name: TOKEN, value: {token}}
            - {name: MODE, value: fixed}
"""


def _render(pw: str, token: str) -> str:
    return RANDOM.replace("{pw}", pw).replace("{sum}", f"sum-{pw}").replace("{token}", token)


def test_variations_name_paths_and_masks_that_settle_them() -> None:
    first, second = parse(_render("cmFuZDE=", "t1")), parse(_render("cmFuZDI=", "t2"))
    found = variations(normalize(first), normalize(second))
    assert [(v.resource, v.path) for v in found] == [
        ("Secret/db", 'data["mysql-root-password"]'),
        ("StatefulSet/db", 'spec.template.metadata.annotations["checksum/secret"]'),
        ("StatefulSet/db", "spec.template.spec.containers[name=app].env[name=TOKEN].value"),
    ]
    assert found[0].mask_entry() == (
        "{kind: Secret, name: db, path: 'data[\"mysql-root-password\"]'}"
    )
    # the suggested entries, read back as a spec would, make both renders the same
    masks = [Mask(**yaml.safe_load(v.mask_entry())) for v in found]
    assert variations(normalize(first, masks), normalize(second, masks)) == []
    assert variations(normalize(first), normalize(first)) == []


def test_an_object_in_one_render_only_is_a_variation() -> None:
    first = parse(
        _render("a", "t") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x-1}\n"
    )
    second = parse(
        _render("a", "t") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x-2}\n"
    )
    found = variations(normalize(first), normalize(second))
    assert [(v.resource, v.path) for v in found] == [("ConfigMap/x-1", ""), ("ConfigMap/x-2", "")]
    # a name mask (a glob of both names) compares them under one masked name
    assert name_glob("x-1", "x-2") == "x-*" and name_glob("a-x", "b-x") == "*-x"
    assert name_glob("abc", "xyz") is None
    # whole words only: random characters that happen to match are not a stem
    assert name_glob("test-ui-test-6ab1k", "test-ui-test-6zz9q") == "test-ui-test-*"
    assert name_glob("pod1", "pod2") is None
    masks = [Mask(kind="ConfigMap", name="x-*", path="metadata.name")]
    assert variations(normalize(first, masks), normalize(second, masks)) == []


def test_normalizer_counts_mask_hits() -> None:
    normalizer = Normalizer(
        [
            Mask(path="data.password", kind="Secret"),
            Mask(path="data.nope", kind="Secret"),
            Mask(path="data.password", kind="ConfigMap"),
        ]
    )
    normalizer.normalize(parse(RENDER))
    normalizer.normalize(parse(RENDER), count=False)
    assert normalizer.hits == [1, 0, 0]
    assert [i for i, _ in normalizer.unused()] == [1, 2]


# -- CRDs: once per spec ---------------------------------------------------------------------

BIG_CRD = """---
# Source: c/crds/widgets.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com, labels: {helm.sh/chart: c-1.0.0}}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties: {PROPS}
"""


def _crd(n: int, extra: str = "") -> str:
    props = "{" + ", ".join(f"f{i}{extra}: {{type: string}}" for i in range(n)) + "}"
    return BIG_CRD.replace("{PROPS}", props)


def test_crds_are_referenced_not_copied_and_normalized_once() -> None:
    text = RENDER + _crd(500)
    normalizer = Normalizer()
    first = normalizer.normalize(parse(text))
    second = normalizer.normalize(parse(text))
    crd_1 = next(m for m in first if m.kind == "CustomResourceDefinition")
    crd_2 = next(m for m in second if m.kind == "CustomResourceDefinition")
    assert crd_1.obj is crd_2.obj, "an identical CRD is copied and masked once"
    assert crd_1.obj["metadata"]["labels"]["helm.sh/chart"] == MASK
    render = normalizer.render(first, "c", "default")
    case_file = render.text()
    assert (
        "---\n# Source: c/crds/widgets.yaml\n"
        "# CRD widgets.example.com: see crds/widgets.example.com.yaml\n" in case_file
    )
    assert "openAPIV3Schema" not in case_file and len(case_file) < 1000
    assert [m.kind for m in parse(case_file)] == ["ConfigMap", "Secret"]
    assert crd_refs(case_file) == ["crds/widgets.example.com.yaml"]
    (crd,) = render.crds
    crd_file = crd.file_text("c")
    assert crd_file.startswith("# chartmatrix golden render: chart c, CRD widgets.example.com.\n")
    assert [m.name for m in parse(crd_file)] == ["widgets.example.com"]
    assert normalizer.render(second, "c", "other").crds == [crd]


def test_crd_contents_that_differ_between_cases_get_their_own_files(tmp_path: Path) -> None:
    normalizer = Normalizer()
    a = normalizer.render(normalizer.normalize(parse(_crd(3))), "c", "a")
    b = normalizer.render(normalizer.normalize(parse(_crd(3, "x"))), "c", "b")
    refs, files = resolve_crds([a, b, a], tmp_path)
    (crd_a,), (crd_b,) = a.crds, b.crds
    assert refs[crd_a.digest] == "crds/widgets.example.com.yaml"
    assert refs[crd_b.digest] == f"crds/widgets.example.com.{crd_b.digest[:12]}.yaml"
    assert set(files) == set(refs.values())
    # the content already in crds/<name>.yaml keeps that name
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "widgets.example.com.yaml").write_text(crd_b.file_text("c"))
    refs, _ = resolve_crds([a, b], tmp_path)
    assert refs[crd_b.digest] == "crds/widgets.example.com.yaml"
    assert refs[crd_a.digest].endswith(f".{crd_a.digest[:12]}.yaml")


def test_only_files_with_the_golden_header_are_orphans(tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    (golden / "crds").mkdir(parents=True)
    normalizer = Normalizer()
    render = normalizer.render(normalizer.normalize(parse(RENDER + _crd(2))), "c", "default")
    (golden / "default.yaml").write_text(render.text())
    (golden / "crds" / "widgets.example.com.yaml").write_text(render.crds[0].file_text("c"))
    (golden / "crds" / "gone.example.com.yaml").write_text(render.crds[0].file_text("c"))
    (golden / "stale.yaml").write_text(dump([], "c", "stale"))
    (golden / "values.yaml").write_text("replicas: 3\n")
    (golden / "Chart.yaml").write_text("apiVersion: v2\nname: x\nversion: 1.0.0\n")
    (golden / "notes.md").write_text("# notes\n")
    assert is_golden(golden / "stale.yaml") and not is_golden(golden / "values.yaml")
    assert orphans(golden, ["default.yaml"]) == [
        golden / "crds" / "gone.example.com.yaml",
        golden / "stale.yaml",
    ]
    assert foreign(golden) == [golden / "Chart.yaml", golden / "values.yaml"]


class _PyYamlDumper(golden._Dumper):
    """The golden dumper without its fast path: PyYAML's own representer."""

    def represent(self, data: object) -> None:
        yaml.representer.BaseRepresenter.represent(self, data)


def _both(data: object) -> tuple[str, str]:
    fast = golden._dump_obj(data)
    slow = yaml.dump(data, Dumper=_PyYamlDumper, **golden.DUMP_OPTIONS)
    return fast, slow


def _libyaml(data: object) -> str:
    """The golden dumper without the direct writer (libyaml writes every document)."""
    return yaml.dump(data, Dumper=golden._Dumper, **golden.DUMP_OPTIONS)


def _random_tree(rng: random.Random, depth: int = 0) -> object:
    scalars = [
        "plain", "multi\nline\n", "trailing\n", "y", "1e3", "0x1F", "null", "", " lead",
        "a: b", "- x", "#c", "ünï", "true", "08", "'q'", 7, -3, 2**70, True, False, None,
    ]  # fmt: skip
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(scalars)
    if rng.random() < 0.5:
        return [_random_tree(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["b", "a", "apiVersion", "10", "yes", "k-8", "z.z/y"]
    return {rng.choice(keys): _random_tree(rng, depth + 1) for _ in range(rng.randrange(5))}


ROOTS_OF_GOLDEN_FILES = [
    Path(__file__).resolve().parents[2] / "chart_tests" / name / "golden"
    for name in ("mysql", "grpc", "web-session")
]


def test_the_fast_dump_writes_what_pyyaml_writes() -> None:
    rng = random.Random(7)
    trees = [_random_tree(rng) for _ in range(400)]
    shared = {"a": 1}
    trees += [
        {"x": 1.5, "y": [float("inf"), -0.0]},  # floats: PyYAML's way
        {"one": shared, "two": shared},  # a container met twice: an anchor
        {1: "int key", "s": "str key"},  # keys that do not sort: PyYAML's order
        {"empty": {}, "none": [], "n": {"deep": [{}]}},
    ]
    for root in ROOTS_OF_GOLDEN_FILES:
        for file in sorted(root.rglob("*.yaml"))[:40]:
            trees += [d for d in yaml.safe_load_all(file.read_text()) if d is not None]
    for tree in trees:
        fast, slow = _both(tree)
        assert fast == slow, tree
    assert "&id001" in _both(trees[401])[0]  # the fallback was taken


def test_tree_copy_is_a_deep_copy_that_keeps_shared_containers() -> None:
    shared = {"k": ["v", {"deep": 1}]}
    doc = {"a": shared, "b": [shared, 1.5, None, True, "s"], "c": {"labels": {"x": "y"}}}
    copied = golden._tree_copy(doc, {})
    assert copied == doc
    assert copied["a"] is copied["b"][0]  # shared, as in the original
    assert copied["a"] is not shared and copied["a"]["k"] is not shared["k"]
    copied["c"]["labels"]["x"] = "changed"
    assert doc["c"]["labels"]["x"] == "y"
    assert golden._dump_obj(copied).count("&id001") == 1


# strings whose writing depends on libyaml's scalar analysis: indicators, implicit
# types, spaces and breaks at the edges, line width, characters outside ASCII
_TRICKY = [
    "<masked>", "a: b", "a:b", "a:", "a :b", "-x", "- x", "-", ":", "?", "?x", "? x", "x?",
    "x #y", "x#y", "#x", " lead", "trail ", "", "y", "yes", "on", "~", "1e3", "0x1F", "08",
    "1_000", ".5", "7.4", "-1", "+1", "0o7", ".inf", "NaN", "null", "true", "True", "<<",
    "---x", "...x", "---", "...", "--x", "a -", "a- b", "it's", "'q'", '"dq"', "%x", "@x",
    "`x", "!x", "&x", "*x", "|x", ">x", "{x", "[x", "]x", "}x", ",x", "x,y", "x]", "=",
    "2001-12-14", "12:30", "multi\nline\n", "multi\nline", "x\n  indented\n",
    "line\nwith: colon\n# hash\n", "a\n\nb\n", "a\n b\n", " a\nb", "\na", "a \nb",
    "a\n\n", "end\n\n\n", "a\r\nb", "tab\tin", "ünï", "\u00a0nbsp", "😀", "x " * 480,
    "y" * 1200, "k" * 130, "x" * 890 + " y", 7, -3, 2**63 - 1, 2**63, 2**70, True, False, None,
]  # fmt: skip


def _tricky_tree(rng: random.Random, depth: int = 0) -> object:
    if depth > 3 or rng.random() < 0.35:
        return rng.choice(_TRICKY)
    if rng.random() < 0.45:
        return [_tricky_tree(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = [k for k in _TRICKY if isinstance(k, str)] + ["a", "b"]
    return {rng.choice(keys): _tricky_tree(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_documents_written_directly_are_what_libyaml_writes() -> None:
    """``blockyaml`` writes a document itself only where it is sure of libyaml's text:
    every golden document of the repository, and random trees of tricky strings."""
    direct = documents = 0
    for root in ROOTS_OF_GOLDEN_FILES:
        for file in sorted(root.rglob("*.yaml")):
            for doc in yaml.safe_load_all(file.read_text()):
                documents += doc is not None
                written = blockyaml.dump(doc) if doc is not None else None
                if written is not None:
                    direct += 1
                    assert written == _libyaml(doc), f"{file}: {doc}"
    assert direct > 0.9 * documents, "most of the repository's documents are written directly"
    rng = random.Random(11)
    checked = 0
    for _ in range(6000):
        tree = _tricky_tree(rng)
        written = blockyaml.dump(tree)
        if written is not None:
            checked += 1
            assert written == _libyaml(tree), tree
    assert checked > 500


@pytest.mark.parametrize(
    "value",
    [
        1.5,  # floats
        "tab\tin",  # not printable for libyaml: double quotes
        "ünï",  # outside ASCII
        "x " * 480,  # long enough to be folded at the line width
        "a \nb",  # a space before a break: double quotes
        "end\n\n",  # keep-chomping
        " a\nb",  # an indentation hint
        2**70,  # past int64: an explicit tag
    ],
)
def test_values_the_direct_writer_leaves_to_libyaml(value: object) -> None:
    doc = {"metadata": {"name": "x"}, "data": {"k": value}}
    assert blockyaml.dump(doc) is None
    assert golden._dump_obj(doc) == _libyaml(doc)
    shared = {"a": 1}
    assert blockyaml.dump({"one": shared, "two": shared}) is None  # an anchor


def test_a_golden_file_that_cannot_be_written_is_left_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "case.yaml"
    file.write_text("old\n")

    def full_disk(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(golden.os, "replace", full_disk)
    result = golden.compare(file, "new\n", update=True, ci=False)
    assert (result.status, result.diff) == ("error", "No space left on device")
    assert file.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["case.yaml"]
    new = tmp_path / "new.yaml"
    assert golden.compare(new, "x\n", update=False, ci=False).status == "error"
    assert not new.exists() and [p.name for p in tmp_path.iterdir()] == ["case.yaml"]
    # the worst status of a case and its CRD files
    combined = golden.combine(golden.GoldenResult("same", file), [result], [])
    assert combined.status == "error"
