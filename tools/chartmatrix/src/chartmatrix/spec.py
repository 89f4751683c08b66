"""Matrix specs: read and validate ``matrix.yaml``, expand it into cases.

A case id is stable and readable, and safe in ``pytest -k`` expressions (whose grammar
has no ``=`` or ``,``): axis cases are ``replicas:3+local:true`` (the shortest unique
suffix of each axis path, ``:``, the value), named cases use their name, chart CI values
files are ``ci/<file stem>``. Golden files are named after the id with ``:`` → ``=``,
``+`` → ``,`` and ``/`` → ``-`` (``replicas=3,local=true.yaml``).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import itertools
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from chartmatrix.charts import chart_dir_of
from chartmatrix.checksumconvention import parse_convention
from chartmatrix.crdsource import resolve_crd
from chartmatrix.errors import ChartmatrixError
from chartmatrix.findings import NON_RULE_IDS, json_path
from chartmatrix.manifests import _tokens
from chartmatrix.validate import bundled_versions, schema_version, version_key
from chartmatrix.values import Values, from_path, layered, merge, merge_all, split_path
from chartmatrix.yamlfile import load_values_file, load_yaml_file

SPEC_FILE = "matrix.yaml"
# in a golden file name: the case's render for a lower Kubernetes version
VERSION_MARK = "@k8s-"
_SCHEMA_FILE = Path(__file__).with_name("spec.schema.json")
_UNSAFE = re.compile(r"[^\w.:/-]+")


@dataclass(frozen=True)
class Suppression:
    rule: str
    cases: str = "*"
    resource: str = "*"
    reason: str = ""

    def matches(self, rule: str, case_id: str, resource: str) -> bool:
        return (
            fnmatch.fnmatchcase(rule, self.rule)
            and fnmatch.fnmatchcase(case_id, self.cases)
            and fnmatch.fnmatchcase(resource or "", self.resource)
        )


@dataclass(frozen=True)
class Mask:
    path: str
    kind: str = "*"
    name: str = "*"


_UNSET: Any = object()


@dataclass(frozen=True)
class Coverage:
    """A value path whose every allowed value must appear in some case."""

    path: str
    values: tuple[Any, ...] = ()  # empty: the schema's enum
    default: Any = _UNSET  # the value used when the key is unset

    @property
    def has_default(self) -> bool:
        return self.default is not _UNSET


@dataclass(slots=True)  # a matrix may hold many thousands
class Case:
    """One render of one chart with one set of values (an axis case's values share
    the spec's base values: read them, never modify them)."""

    id: str
    values: Values
    release: str
    namespace: str
    kube_versions: tuple[str, ...]
    api_versions: tuple[str, ...]
    origin: str
    expect_failure: str | None = None
    crds: tuple[Path, ...] = ()
    suppress: tuple[Suppression, ...] = ()
    description: str = ""
    warnings: tuple[tuple[str, str], ...] = ()  # (finding id, message) about its input
    helm3_values: Values | None = None  # what Helm v3 reads instead (a multi-document file)

    @property
    def golden_name(self) -> str:
        return self.id.replace(":", "=").replace("+", ",").replace("/", "-") + ".yaml"

    def version_golden_name(self, version: str) -> str:
        """The golden file of this case's render for a lower Kubernetes version, where it
        differs from the highest version's."""
        return f"{self.golden_name.removesuffix('.yaml')}{VERSION_MARK}{version}.yaml"

    def suppressed(self, rule: str, resource: str) -> bool:
        return any(s.matches(rule, self.id, resource) for s in self.suppress)


@dataclass
class MatrixSpec:
    """A chart plus the cases to run it with."""

    name: str
    chart_dir: Path
    spec_file: Path | None
    cases: list[Case]
    golden_dir: Path | None = None
    crds: tuple[Path, ...] = ()
    external: dict[str, frozenset[str]] = field(default_factory=dict)
    checksum_convention: str | None = None  # None: the project's setting (default presence)
    masks: tuple[Mask, ...] = ()
    coverage: tuple[Coverage, ...] = ()
    suppress: tuple[Suppression, ...] = ()  # the spec-wide entries
    value_paths: tuple[str, ...] = ()  # axis and `set` paths, checked against the chart
    deprecations: tuple[str, ...] = ()  # old spellings in the spec, reported as warnings
    helm_args: tuple[str, ...] = ()  # helm flags of the spec (skipSchemaValidation)


@cache
def _spec_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(_SCHEMA_FILE.read_text()))


def _check_schema(data: dict[str, Any], file: Path) -> None:
    errors = sorted(_spec_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = json_path(first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ChartmatrixError(file, f"{where}: {first.message}{more}")


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        text = str(value)
    else:
        text = json.dumps(value, sort_keys=True, separators=(",", "="))
    text = _UNSAFE.sub("_", text).strip("_")
    return text or "empty"


def short_names(paths: list[str]) -> dict[str, str]:
    """Shortest unique dotted suffix of each path."""
    out: dict[str, str] = {}
    split = {p: split_path(p) for p in paths}
    for path, parts in split.items():
        for n in range(1, len(parts) + 1):
            suffix = parts[-n:]
            clash = [q for q, qp in split.items() if q != path and qp[-n:] == suffix]
            if not clash:
                out[path] = ".".join(suffix)
                break
        else:
            out[path] = path
    return out


def _set_values(data: dict[str, Any] | None, file: Path, where: str) -> Values:
    out: Values = {}
    for key, value in (data or {}).items():
        try:
            out = merge(out, from_path(key, value))
        except ValueError as exc:
            raise ChartmatrixError(file, f"{where}.{key}: {exc}") from None
    return out


def finding_ids() -> frozenset[str]:
    """Every id a finding can have: the rules' and the other checks'."""
    from chartmatrix.rules import RULES

    return frozenset(RULES) | NON_RULE_IDS


def _check_rule(rule: str, file: Path, where: str) -> None:
    known = finding_ids()
    if any(fnmatch.fnmatchcase(k, rule) for k in known):
        return
    close = difflib.get_close_matches(rule, sorted(known), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ChartmatrixError(
        file, f"{where}: {rule!r} matches no rule or finding id{hint}; see `chartmatrix rules`"
    )


def _suppressions(items: list[Any] | None, file: Path, where: str) -> tuple[Suppression, ...]:
    out = []
    for i, item in enumerate(items or []):
        rule = item if isinstance(item, str) else item["rule"]
        _check_rule(rule, file, f"{where}[{i}]" + ("" if isinstance(item, str) else ".rule"))
        if isinstance(item, str):
            out.append(Suppression(rule=item))
        else:
            out.append(
                Suppression(
                    rule=item["rule"],
                    cases=item.get("cases", "*"),
                    resource=item.get("resource", "*"),
                    reason=item.get("reason", ""),
                )
            )
    return tuple(out)


def _versions(items: list[Any] | None, file: Path, where: str) -> tuple[str, ...]:
    out = []
    for item in items or []:
        if isinstance(item, float):  # YAML reads 1.30 as the number 1.3
            raise ChartmatrixError(
                file, f'{where}: {item!r} is a number; quote the version ("1.30", not 1.30)'
            )
        text = str(item).removeprefix("v")
        try:
            schema_version(text)
        except ChartmatrixError as exc:
            raise ChartmatrixError(file, f"{where}: {exc.problem}") from None
        out.append(text)
    return tuple(out)


def _files(base: Path, names: list[str] | None, file: Path, where: str) -> list[Values]:
    layers = []
    for name in names or []:
        path = (base / name).resolve()
        if not path.is_file():
            raise ChartmatrixError(file, f"{where}: values file {name} not found")
        layers.append(load_yaml_file(path))
    return layers


def default_chart_dir(spec_dir: Path) -> Path:
    local = spec_dir / "chart"
    if (local / "Chart.yaml").is_file():
        return local
    return spec_dir.parent.parent / "charts" / spec_dir.name


def load_spec(file: Path, *, kube_versions: tuple[str, ...] = ()) -> MatrixSpec:
    """Read and validate ``file``, then expand it; every problem names the file and key."""
    file = Path(file)
    data = load_yaml_file(file, unique_keys=True)
    if "expectFailure" in data and "expect_failure" in data:
        raise ChartmatrixError(file, "expectFailure and expect_failure are the same key; use one")
    _check_schema(data, file)
    base_dir = file.parent.resolve()  # its name is the spec's, also for `run matrix.yaml`
    chart_dir = (base_dir / data["chart"]) if "chart" in data else default_chart_dir(base_dir)
    chart_dir = chart_dir_of(chart_dir).resolve()  # a packaged chart is unpacked for the run
    if not (chart_dir / "Chart.yaml").is_file():
        raise ChartmatrixError(file, f"chart: {chart_dir} is not a chart directory")
    kube = data.get("kubernetes") or {}
    versions = kube_versions or _versions(kube.get("versions"), file, "kubernetes.versions")
    versions = versions or (bundled_versions()[-1],)
    api_versions = tuple(kube.get("apiVersions") or ())
    release = data.get("release", "test")
    namespace = data.get("namespace", "default")
    base = merge_all(
        [
            *_files(base_dir, data.get("files"), file, "files"),
            data.get("values") or {},
            _set_values(data.get("set"), file, "set"),
        ]
    )
    global_suppress = _suppressions(data.get("suppress"), file, "suppress")

    def make(item: dict[str, Any], where: str, origin: str) -> Case:
        layers = [
            base,
            *_files(base_dir, item.get("files"), file, f"{where}.files"),
            item.get("values") or {},
            _set_values(item.get("set"), file, f"{where}.set"),
        ]
        own_versions = _versions(item.get("kubeVersions"), file, f"{where}.kubeVersions")
        return Case(
            id=item["name"],
            values=merge_all(layers),
            release=item.get("release", release),
            namespace=item.get("namespace", namespace),
            kube_versions=kube_versions or own_versions or versions,
            api_versions=tuple(item.get("apiVersions") or api_versions),
            origin=origin,
            expect_failure=item.get("message"),
            suppress=global_suppress
            + _suppressions(item.get("suppress"), file, f"{where}.suppress"),
            description=item.get("description", ""),
        )

    cases = _axis_cases(data, file, base, release, namespace, versions, api_versions)
    cases = [dataclasses.replace(c, suppress=global_suppress) for c in cases]
    for i, item in enumerate(data.get("include") or []):
        if "message" in item:
            raise ChartmatrixError(file, f"include[{i}].message: only expectFailure cases fail")
        cases.append(make(item, f"include[{i}]", f"{file.name} include"))
    failing_key = "expect_failure" if "expect_failure" in data else "expectFailure"
    for i, item in enumerate(data.get(failing_key) or []):
        try:
            re.compile(item["message"])
        except re.error as exc:
            raise ChartmatrixError(file, f"{failing_key}[{i}].message: bad regex ({exc})") from None
        cases.append(make(item, f"{failing_key}[{i}]", f"{file.name} {failing_key}"))
    if data.get("ciValues", True):
        cases.extend(
            ci_cases(chart_dir, base, release, namespace, versions, api_versions, global_suppress)
        )
    _check_unique(cases, file)
    crds = [
        (
            _crd_path(base_dir, c if isinstance(c, str) else c["file"], file),
            "*" if isinstance(c, str) else c.get("cases", "*"),
        )
        for c in data.get("crds") or []
    ]
    for case in cases:
        case.crds = tuple(path for path, glob in crds if fnmatch.fnmatchcase(case.id, glob))
    golden = data.get("golden", "golden")
    external = {k: frozenset(v) for k, v in (data.get("external") or {}).items()}
    masks = tuple(
        Mask(path=m["path"], kind=m.get("kind", "*"), name=m.get("name", "*"))
        for m in data.get("mask") or []
    )
    for i, mask in enumerate(masks):
        try:
            _tokens(mask.path)
        except ValueError as exc:
            raise ChartmatrixError(file, f"mask[{i}].path: {exc}") from None
    convention, deprecations = _checksum_convention(data.get("checksumConvention"), file)
    return MatrixSpec(
        name=data.get("name") or base_dir.name,
        chart_dir=chart_dir.resolve(),
        spec_file=file,
        cases=cases,
        golden_dir=_golden_dir(base_dir, golden, file, chart_dir, masks),
        crds=tuple(path for path, _ in crds),
        external=external,
        checksum_convention=convention,
        deprecations=deprecations,
        helm_args=("--skip-schema-validation",) if data.get("skipSchemaValidation") else (),
        masks=masks,
        suppress=global_suppress,
        value_paths=(*(data.get("axes") or {}), *(data.get("set") or {})),
        coverage=tuple(
            Coverage(c)
            if isinstance(c, str)
            else Coverage(c["path"], tuple(c.get("values") or ()), c.get("default", _UNSET))
            for c in data.get("coverage") or []
        ),
    )


def _checksum_convention(value: object, file: Path) -> tuple[str | None, tuple[str, ...]]:
    """The spec's ``checksumConvention`` (None: unset) and a note for an old spelling."""
    where = f"{file}: checksumConvention"
    if value is None:
        return None, ()
    if value == "auto":  # 0.1 guessed the convention from the chart's dependencies
        return None, (
            f"{where}: 'auto' is deprecated: chartmatrix no longer guesses the convention "
            "from the chart; the project's setting applies (default presence); set "
            "presence, strict or data-hash",
        )
    name, note = parse_convention(value, where)
    return name, (note,) if note else ()


def ci_cases(
    chart_dir: Path,
    base: Values,
    release: str,
    namespace: str,
    versions: tuple[str, ...],
    api_versions: tuple[str, ...],
    suppress: tuple[Suppression, ...] = (),
) -> list[Case]:
    """One case per ``ci/*-values.yaml`` of the chart (chart-testing's convention),
    layered over the spec's base values like every other case. A file of several YAML
    documents gets a warning, and what each Helm major reads of it: v4 the last
    document (``values``), v3 the first (``helm3_values``)."""
    cases = []
    for ci_file in sorted((chart_dir / "ci").glob("*-values.yaml")):
        values, documents, first = load_values_file(ci_file)
        warnings: tuple[tuple[str, str], ...] = ()
        helm3_values = None
        if documents > 1:
            helm3_values = merge(base, first)
            warnings = (
                (
                    "values/multi-document",
                    f"{ci_file} holds {documents} YAML documents, but helm reads only one "
                    "(v4 the last, v3 the first): this case renders the one the helm in use "
                    "reads; put each scenario in its own ci/*-values.yaml to test them all",
                ),
            )
        cases.append(
            Case(
                id="ci/" + ci_file.name.removesuffix("-values.yaml"),
                values=merge(base, values),
                release=release,
                namespace=namespace,
                kube_versions=versions,
                api_versions=api_versions,
                origin=str(ci_file),
                suppress=suppress,
                warnings=warnings,
                helm3_values=helm3_values,
            )
        )
    return cases


def _golden_dir(
    base: Path, golden: str | bool, file: Path, chart_dir: Path, masks: tuple[Mask, ...]
) -> Path | None:
    """The golden directory: strictly below the spec's (golden files are written and pruned
    there), and not where helm reads the chart's templates, CRDs or subcharts."""
    if golden is False:
        if masks:
            raise ChartmatrixError(file, "mask: masks apply to golden files, and golden is false")
        return None
    name = "golden" if golden is True else golden
    path = base / name
    resolved, root, chart = path.resolve(), base.resolve(), chart_dir.resolve()
    if root not in resolved.parents:
        raise ChartmatrixError(
            file,
            f"golden: {name!r} is not a directory below {root} (chartmatrix writes and prunes "
            "golden files there); use a subdirectory such as golden",
        )
    helm_reads = [chart / d for d in ("templates", "crds", "charts")]
    if resolved == chart or any(d == resolved or d in resolved.parents for d in helm_reads):
        raise ChartmatrixError(
            file, f"golden: {name!r} is part of what helm renders of the chart {chart}"
        )
    return path


def _crd_path(base: Path, name: str, file: Path) -> Path:
    return resolve_crd(name, base, file)


def _axis_cases(
    data: dict[str, Any],
    file: Path,
    base: Values,
    release: str,
    namespace: str,
    versions: tuple[str, ...],
    api_versions: tuple[str, ...],
) -> list[Case]:
    axes: dict[str, list[Any]] = data.get("axes") or {}
    excludes: list[dict[str, Any]] = data.get("exclude") or []
    for i, rule in enumerate(excludes):
        for key, value in rule.items():
            if key not in axes:
                raise ChartmatrixError(file, f"exclude[{i}].{key}: not an axis")
            if value not in axes[key]:
                raise ChartmatrixError(file, f"exclude[{i}].{key}: {value!r} is not on the axis")
    if not axes:
        if data.get("include") or data.get("expectFailure") or data.get("expect_failure"):
            return []
        return [Case("default", base, release, namespace, versions, api_versions, file.name)]
    keys = list(axes)
    short = short_names(keys)
    cases = []
    for combo in itertools.product(*(axes[k] for k in keys)):
        chosen = dict(zip(keys, combo, strict=True))
        if any(all(chosen[k] == v for k, v in rule.items()) for rule in excludes):
            continue
        case_id = "+".join(f"{short[k]}:{_fmt(v)}" for k, v in chosen.items())
        values = base
        for k, v in chosen.items():
            values = layered(values, from_path(k, v))
        cases.append(
            Case(case_id, values, release, namespace, versions, api_versions, f"{file.name} axes")
        )
    if not cases:
        raise ChartmatrixError(file, "exclude: removes every axis combination")
    return cases


def _check_unique(cases: list[Case], file: Path) -> None:
    seen: dict[str, str] = {}
    files: dict[str, tuple[Case, str]] = {}  # golden file name, case-folded -> case, name
    for case in cases:
        if case.id in seen:
            raise ChartmatrixError(
                file, f"case id {case.id!r} is used twice ({seen[case.id]}, {case.origin})"
            )
        seen[case.id] = case.origin
        # `/` and `-` (and `:`/`=`, `+`/`,`) are one character in a file name, and
        # macOS and Windows do not tell case apart: two cases must not share a file
        names = [case.golden_name]
        if len(case.kube_versions) > 1:  # the files a lower version's render may get
            top = max(case.kube_versions, key=version_key)
            names += [case.version_golden_name(v) for v in case.kube_versions if v != top]
        for name in names:
            other, theirs = files.setdefault(name.casefold(), (case, name))
            if other is case:
                continue
            shared = (
                f"share the golden file {name}"
                if theirs == name
                else f"write {theirs} and {name}, one file on macOS and Windows"
            )
            raise ChartmatrixError(
                file,
                f"cases {other.id!r} ({other.origin}) and {case.id!r} ({case.origin}) would "
                f"{shared}: rename one (or change a value)",
            )


def adhoc_spec(
    chart_dir: Path,
    *,
    values_files: list[Path],
    axes: dict[str, list[Any]],
    kube_versions: tuple[str, ...] = (),
    release: str = "test",
    namespace: str = "default",
) -> MatrixSpec:
    """A spec from the command line (no golden files): the chart's defaults (or the
    ``--axis`` combinations) plus its ``ci/*-values.yaml`` files, unless values or axes
    were given."""
    base = merge_all([load_yaml_file(Path(f)) for f in values_files])
    versions = kube_versions or (bundled_versions()[-1],)
    fake = Path(chart_dir) / "<command line>"
    data = {"axes": axes} if axes else {}
    cases = _axis_cases(data, fake, base, release, namespace, versions, ())
    if not axes and not values_files:
        cases.extend(ci_cases(Path(chart_dir), base, release, namespace, versions, ()))
    return MatrixSpec(
        name=Path(chart_dir).name,
        chart_dir=Path(chart_dir).resolve(),
        spec_file=None,
        cases=cases,
        value_paths=tuple(axes),
    )


def find_spec(chart_dir: Path, *, name: str = "", root: Path | None = None) -> Path | None:
    """The spec of a chart, one whose ``chart:`` is this chart (a directory or a
    package): ``chart_tests/<directory name>/matrix.yaml`` above a chart under
    ``charts/<name>``; else, under the project ``root``, ``chart_tests/<name>/matrix.yaml``
    (``name``: Chart.yaml's, as ``chartmatrix init`` names it), then any spec there."""
    chart_dir = Path(chart_dir).resolve()
    # a spec named after the chart that cannot be read is taken as its spec, so that
    # loading it reports what is wrong instead of running the chart without it
    for parent in chart_dir.parents:
        candidate = parent / "chart_tests" / chart_dir.name / SPEC_FILE
        if candidate.is_file() and _chart_of(candidate) in (chart_dir, None):
            return candidate
        if (parent / ".git").exists():
            break
    if root is None:
        return None
    named = Path(root) / "chart_tests" / name / SPEC_FILE
    if name and named.is_file() and _chart_of(named) in (chart_dir, None):
        return named
    for candidate in discover_specs(Path(root)):
        if candidate.is_file() and _chart_of(candidate) == chart_dir:
            return candidate
    return None


def _chart_of(spec_file: Path) -> Path | None:
    """The chart directory a spec names (a package: where it is unpacked); None for a
    spec that cannot be read or names no chart (it is reported when it is run)."""
    try:
        data = load_yaml_file(spec_file)
        base = spec_file.parent
        named = data.get("chart")
        if named is not None and not isinstance(named, str):
            return None
        chart = chart_dir_of(base / named if named else default_chart_dir(base)).resolve()
    except ChartmatrixError:
        return None
    return chart if (chart / "Chart.yaml").is_file() else None


def discover_specs(root: Path) -> list[Path]:
    return sorted(Path(root).glob(f"chart_tests/*/{SPEC_FILE}"))
