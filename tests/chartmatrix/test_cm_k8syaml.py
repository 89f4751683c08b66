"""YAML read as Kubernetes reads it (sigs.k8s.io/yaml over go-yaml v2), without a cluster.

The expected values are what kube-apiserver stores for the same YAML; the live proof is
tests/cluster/test_yaml_semantics.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartmatrix import k8syaml
from chartmatrix.errors import ChartmatrixError
from chartmatrix.manifests import ManifestParseError, parse
from chartmatrix.validate import load_crds
from chartmatrix.yamlfile import load_yaml_file

# "billion laughs": nine levels of nine aliases, under 500 bytes
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi", strict=True)
)
# go-yaml v2's alias allowance is exhausted at the 122nd "*b" (decode.go: allowedAliasRatio):
# after n of them, 138 + 122n decodes, 110 + 121n of them inside aliases, > 99% is refused
NESTED_ALIASES = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: &b [" + ", ".join(["*a"] * 10) + "]\n"
_A = list(range(1, 11))
OUT = ["1e400", ".5e400"]
BEYOND = [9223372036854776000, 18446744073709552000]  # float64(2**63), float64(2**64)
WORDS = ["Inf", "NaN", "infinity", ".5.", "1.2.3", "1,000", "1e", "0o", "0b", "0xg", "nan"]
WORDS += [".NAN1"]  # ParseFloat's range error: they stay strings
STAMPS = ["2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10", "2002-12-14"]
STAMPS += ["2001-12-14T21:59:43Z"]


def aliases_of_b(count: int) -> str:
    return NESTED_ALIASES + "l: [" + ", ".join(["*b"] * count) + "]"


# (id, YAML, the JSON value stored). Each is a point where PyYAML or a naive reading differs;
# tests/cluster/test_yaml_semantics.py posts every one to kube-apiserver.
CASES: list[tuple[str, str, Any]] = [
    ("equals", "op: =", {"op": "="}),
    (
        "bool-words",
        "v: [yes, no, on, off, y, n, Y, N, Yes, YES, On, OFF, True, FALSE, tRUE, yEs, oN]",
        {"v": [*[True, False] * 4, True, True, True, False, True, False, "tRUE", "yEs", "oN"]},
    ),
    ("key-y-n", "y: 1\nn: 2", {"true": 1, "false": 2}),
    ("key-yes-off", "Yes: 1\nOFF: 2", {"true": 1, "false": 2}),
    ("octal", "v: [0777, 0o17, 0O17, -0777, 00, 08, 09]", {"v": [511, 15, 15, -511, 0, 8, 9]}),
    (
        "floats",
        "v: [1e3, 1E3, 1e+3, 1.5e3, 1e-7, -1e3, 1.0, 1., .5, +.5, 2.5, 1e20, 1e21, 1e400, .5e400]",
        {"v": [1000, 1000, 1000, 1500, 1e-7, -1000, 1, 1, 0.5, 0.5, 2.5, 10**20, 1e21, *OUT]},
    ),
    ("inf-nan-keys", ".inf: a\n-.Inf: b\n.nan: c", {".inf": "a", "-.inf": "b", ".nan": "c"}),
    (
        "timestamps",
        f"v: [{', '.join(STAMPS)}]\n2002-12-14: k",
        {"v": STAMPS, "2002-12-14": "k"},
    ),
    ("sexagesimal", "v: [12:30, 190:20:30, 1:2.5]", {"v": ["12:30", "190:20:30", "1:2.5"]}),
    (
        "merge-then-override",
        "base: &b {a: 1, b: 2}\nm:\n  <<: *b\n  a: 9",
        {"base": {"a": 1, "b": 2}, "m": {"a": 9, "b": 2}},
    ),
    (
        "override-then-merge",  # go-yaml sets merged keys in document order: the merge wins
        "base: &b {a: 1, b: 2}\nm:\n  a: 9\n  <<: *b",
        {"base": {"a": 1, "b": 2}, "m": {"a": 1, "b": 2}},
    ),
    (
        "merge-list",
        "p: &p {a: 1}\nq: &q {a: 2, b: 2}\nm:\n  <<: [*p, *q]\n  c: 3",
        {"p": {"a": 1}, "q": {"a": 2, "b": 2}, "m": {"a": 1, "b": 2, "c": 3}},
    ),
    ("merge-inline", "m:\n  <<: {a: 1}\n  b: 2", {"m": {"a": 1, "b": 2}}),
    ("merge-quoted-key", 'm:\n  "<<": {a: 1}', {"m": {"<<": {"a": 1}}}),
    ("duplicate-keys", "a: 1\na: 2\nb: {c: 1, c: 3}", {"a": 2, "b": {"c": 3}}),
    (
        "anchors-aliases",
        "a: &x {k: [1, 2]}\nb: *x\nc: &y str\nd: *y",
        {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}, "c": "str", "d": "str"},
    ),
    ("duplicate-anchor", "a: &x 1\nb: &x 2\nc: *x", {"a": 1, "b": 2, "c": 2}),
    (
        "flat-aliases",
        "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nl: [" + ", ".join(["*a"] * 300) + "]",
        {"a": list(range(1, 11)), "l": [list(range(1, 11))] * 300},
    ),
    ("aliases-121", aliases_of_b(121), {"a": _A, "b": [_A] * 10, "l": [[_A] * 10] * 121}),
    ("long-key-1024", "k" * 1024 + ": 1", {"k" * 1024: 1}),
    ("long-string", "v: " + "x" * 300_000, {"v": "x" * 300_000}),
    ("binary", "v: !!binary aGVsbG8=\nw: !!binary |\n  aGVs\n  bG8=", {"v": "hello", "w": "hello"}),
    ("binary-not-utf8", "v: !!binary /w==\nw: !!binary 4oI=", {"v": "\ufffd", "w": "\ufffd\ufffd"}),
    (
        "scalar-keys",
        "1: a\n0x1F: b\ntrue: c\n1.5: d\n1e3: e\n0777: f\n-0: g",
        {"1": "a", "31": "b", "true": "c", "1.5": "d", "1000": "e", "511": "f", "0": "g"},
    ),
    (
        "float-keys",
        "3.14159265358979: a\n1e6: b\n0.1: c\n123456.0: d\n1e-5: e",
        {"3.1415927": "a", "1e+06": "b", "0.1": "c", "123456": "d", "1e-05": "e"},
    ),
    (
        "hex",
        "v: [0x1F, 0X1f, -0x1F, +0x1F, 0x_1F, 0xFFFFFFFFFFFFFFFF, 0x, 0x1p3]",
        {"v": [31, 31, -31, 31, 31, 18446744073709552000, "0x", "0x1p3"]},
    ),
    ("plus", "v: [+12, +0, -0, +1.5, +, -]", {"v": [12, 0, 0, 1.5, "+", "-"]}),
    (
        "underscores",
        "v: [1_000, 1__0, 1_000.5, _1, 1_, .5_0, .5e1_0, .5__0, ._5, .5_]",
        {"v": [1000, 10, 1000.5, "_1", 1, 0.5, 5_000_000_000, ".5__0", "._5", ".5_"]},
    ),
    ("binary-ints", "v: [0b101, 0B11, -0b101, 0b2]", {"v": [5, 3, -5, "0b2"]}),
    (
        "nulls",
        'v: [~, null, Null, NULL, nULL, ""]\nk:\nt: !!null ""\nu: !!null ~',
        {"v": [None, None, None, None, "nULL", ""], "k": None, "t": None, "u": None},
    ),
    (
        "big-ints",
        "v: [9223372036854775807, 9223372036854775808, 18446744073709551615, 18446744073709551616,"
        " -9223372036854775808, -9223372036854775809]",
        {
            # beyond int64 JSON integers come back as float64, written with the shortest digits
            "v": [2**63 - 1, BEYOND[0], BEYOND[1], BEYOND[1], -(2**63), -BEYOND[0]]
        },
    ),
    (
        "explicit-tags",
        'v: [!!str 12, !!int "12", !!float 1, !!bool "yes", !foo bar, ! 12, !!str yes,'
        " !!float 0x10]",
        {"v": ["12", 12, 1, True, "bar", "12", "yes", 16]},
    ),
    (
        "collection-tags",
        "s: !!set {a, b}\no: !!omap [{a: 1}, {b: 2}]\nc: !custom {x: 1}\nt: !!str {a: 1}"
        "\ni: !!int [1]\nz: !!null {a: 1}",
        {
            "s": {"a": None, "b": None},
            "o": [{"a": 1}, {"b": 2}],
            "c": {"x": 1},
            "t": {"a": 1},
            "i": [1],
            "z": {"a": 1},
        },
    ),
    (
        "strings",
        "v: [Inf, NaN, infinity, .5., 1.2.3, '1,000', 1e, 0o, 0b, 0xg, nan, .NAN1]",
        {"v": WORDS},
    ),
]

# (id, YAML, message): what helm and the API server refuse
REFUSED: list[tuple[str, str, str]] = [
    ("inf", "v: .inf", r"\+Inf cannot be represented in JSON"),
    ("neg-inf", "v: -.Inf", r"-Inf cannot be represented in JSON"),
    ("nan", "v: [1, .nan]", r"NaN cannot be represented in JSON"),
    ("null-key", "~: a", "null map key"),
    ("null-word-key", "null: a", "null map key"),
    ("uint64-key", "18446744073709551615: a", "uint64"),
    ("complex-key", "? [a]\n: 1", "invalid map key"),
    ("merge-scalar", "a: &s 1\nm:\n  <<: *s", "map merge requires map"),
    ("merge-list-of-scalars", "m:\n  <<: [1]", "map merge requires map"),
    ("self-alias", "a: &x [1, *x]", "anchor 'x' value contains itself"),
    ("undefined-alias", "a: *nope", "unknown anchor 'nope' referenced"),
    ("alias-bomb", BOMB, "line 4: document contains excessive aliasing"),
    ("aliases-122", aliases_of_b(122), "line 3: document contains excessive aliasing"),
    ("bad-int-tag", "a: !!int x", r"cannot decode !!str `x` as a !!int"),
    ("bad-null-tag", "a: !!null x", r"cannot decode !!str `x` as a !!null"),
    ("bad-binary", "a: !!binary '@@'", "invalid base64"),
    ("long-key-1025", "k" * 1025 + ": 1", "mapping values are not allowed"),
    ("unclosed-flow", "a: [1", "did not find expected"),
]


@pytest.mark.parametrize(("text", "stored"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_read_as_kubernetes_stores_it(text: str, stored: Any) -> None:
    got = k8syaml.load(text)
    assert got == stored
    # also the types (True is not 1, 1.0 is stored as 1) and the JSON text
    assert json.dumps(got, sort_keys=True) == json.dumps(stored, sort_keys=True)


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_as_kubernetes_refuses_it(text: str, message: str) -> None:
    with pytest.raises(k8syaml.YamlError, match=message) as err:
        k8syaml.load(text)
    assert err.value.line is not None
    assert "\n" not in str(err.value)


def test_pyyaml_disagrees_on_these_items() -> None:
    """The reason this module exists: PyYAML's answers for a few of the items."""
    safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with pytest.raises(yaml.constructor.ConstructorError, match=r"tag:yaml\.org,2002:value"):
        yaml.load("op: =", Loader=safe)
    assert yaml.load("v: [y, 1e3, 12:30]\n2002-12-14: k", Loader=safe) == {
        "v": ["y", "1e3", 750],
        __import__("datetime").date(2002, 12, 14): "k",
    }
    assert yaml.load("b: &b {a: 1}\nm: {a: 9, <<: *b}", Loader=safe)["m"] == {"a": 9}
    with pytest.raises(yaml.composer.ComposerError, match="duplicate anchor"):
        yaml.load("a: &x 1\nb: &x 2", Loader=safe)


def test_alias_bomb_is_refused_fast() -> None:
    assert len(BOMB) < 500
    started = time.perf_counter()
    with pytest.raises(k8syaml.YamlError, match="excessive aliasing"):
        k8syaml.load(BOMB)
    assert time.perf_counter() - started < 0.5


def test_aliases_share_objects_instead_of_expanding() -> None:
    doc = k8syaml.load("a: &a {k: [1]}\nb: *a\nc: [*a, *a]")
    assert doc["b"] is doc["a"] and doc["c"][1] is doc["a"]


def test_deep_nesting_is_a_limit_not_a_crash() -> None:
    assert k8syaml.load("[" * 900 + "]" * 900) is not None
    started = time.perf_counter()
    with pytest.raises(k8syaml.YamlError, match=r"line 1, column \d+: exceeded maximum nesting"):
        k8syaml.load("[" * 20_000 + "]" * 20_000)
    assert time.perf_counter() - started < 0.5


def test_documents_and_errors() -> None:
    assert k8syaml.load_all("a: 1\n---\n---\nb: y\n") == [{"a": 1}, None, {"b": True}]
    assert k8syaml.load("") is None
    with pytest.raises(k8syaml.YamlError, match="single document"):
        k8syaml.load("a: 1\n---\nb: 2\n")
    with pytest.raises(k8syaml.YamlError, match=r"line 2: unacceptable character #x0000"):
        k8syaml.load("a: 1\nb: \x00\n")
    with pytest.raises(k8syaml.YamlError, match=r"line 3, column 1: found unexpected end"):
        k8syaml.load("a: 1\nb: 'x\n")


def test_resolver_quotes_what_kubernetes_would_not_read_as_a_string() -> None:
    class Dumper(k8syaml.Resolver, getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
        pass

    values = {"y": "y", "e": "1e3", "o": "08", "m": "<<", "eq": "=", "d": "2002-12-14", "s": "x"}
    text = yaml.dump(values, Dumper=Dumper)
    assert "'y'" in text and "'1e3'" in text and "'08'" in text and "'<<'" in text
    assert "eq: =" in text and "d: 2002-12-14" in text
    assert k8syaml.load(text) == values


# --- the callers -----------------------------------------------------------------------


def test_rendered_manifests_parse_as_kubernetes_reads_them() -> None:
    text = (
        "---\n# Source: c/templates/rule.yaml\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: x}\ndata:\n  op: =\n  flag: y\n"
    )
    (m,) = parse(text)
    assert m.obj["data"] == {"op": "=", "flag": True}


def test_rendered_inf_is_one_line_naming_the_template() -> None:
    text = "---\n# Source: c/templates/bad.yaml\nkind: A\nspec:\n  v: .inf\n"
    with pytest.raises(ManifestParseError) as err:
        parse(text)
    assert str(err.value) == (
        "rendered output is not valid YAML in c/templates/bad.yaml: "
        "line 3: +Inf cannot be represented in JSON (json: unsupported value: +Inf)"
    )


def test_crd_files_with_equals_in_enums(tmp_path: Path) -> None:
    crd = tmp_path / "crd.yaml"
    crd.write_text(
        """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: rules.example.com}
spec:
  group: example.com
  names: {kind: Rule, plural: rules}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            op: {type: string, enum: [=, "!=", =~]}
            ratio: {type: number, minimum: 1e-05}
""",
        encoding="utf-8",
    )
    schema = load_crds([crd])[("example.com/v1", "Rule")]
    assert schema["properties"]["op"]["enum"] == ["=", "!=", "=~"]
    assert schema["properties"]["ratio"]["minimum"] == 1e-05


def test_values_file_alias_bomb_names_the_file(tmp_path: Path) -> None:
    values = tmp_path / "bomb-values.yaml"
    values.write_text(BOMB, encoding="utf-8")
    started = time.perf_counter()
    with pytest.raises(ChartmatrixError) as err:
        load_yaml_file(values)
    assert time.perf_counter() - started < 0.5
    assert err.value.line() == (
        f"chartmatrix: {values}: invalid YAML at line 4: document contains excessive aliasing"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: 1\nb: [\n", "invalid YAML at line 3, column 1: did not find expected node content"),
        ("a:\n  b: .nan\n", "invalid YAML at line 2: NaN cannot be represented in JSON"),
        ("a: 1\n---\nb: 2\n", "invalid YAML: expected a single document"),
        ("a: *x\n", "invalid YAML at line 1: unknown anchor 'x' referenced"),
        ("a: b\n\tc: d\n", "invalid YAML at line 2"),
        ("- 1\n", "top level must be a mapping (got list)"),
    ],
)
def test_values_file_errors_are_one_line(tmp_path: Path, text: str, problem: str) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(text, encoding="utf-8")
    with pytest.raises(ChartmatrixError) as err:
        load_yaml_file(values)
    line = err.value.line()
    assert line.startswith(f"chartmatrix: {values}: {problem}")
    assert "\n" not in line


def test_values_file_reads_as_helm_does(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("enabled: y\nsize: 1e3\nsince: 2002-12-14\nop: =\n", encoding="utf-8")
    assert load_yaml_file(values) == {
        "enabled": True,
        "size": 1000,
        "since": "2002-12-14",
        "op": "=",
    }
