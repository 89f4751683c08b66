"""The golden stage of a run: normalize each case, then compare (or write) its golden file.

The files of a batch of cases are compared when the batch is checked (:meth:`settle`),
and the batch is forgotten: memory does not grow with the number of cases. Only cases
that render CRDs wait until every case has rendered, so that a CRD shared by many cases
is written once (see :mod:`chartmatrix.golden`). Cases whose golden file would change are
rendered a second time: a render that differs from itself (random passwords, timestamps)
would never settle, so it is reported with the ``mask:`` entries that fix it instead of
a diff, and not written. Renders that match their golden file are not rendered again.

Only files that carry the golden header are reported as orphans or deleted.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from chartmatrix import golden as goldens
from chartmatrix import k8syaml
from chartmatrix.errors import ChartmatrixError
from chartmatrix.findings import Finding, Severity
from chartmatrix.locate import first_changed_line
from chartmatrix.manifests import Manifest, ManifestParseError, parse
from chartmatrix.render import Renderer, RenderRequest
from chartmatrix.spec import Case, MatrixSpec

if TYPE_CHECKING:
    from chartmatrix.runner import CaseResult, ChartResult


def check_update(specs: list[MatrixSpec], update: bool) -> None:
    """``--update-golden`` for a chart without a spec (no golden files) is an error, not a
    silent no-op. (A spec with ``golden: false`` chose to have none.)"""
    if not update:
        return
    for spec in specs:
        if spec.spec_file is None:
            raise ChartmatrixError(
                spec.chart_dir,
                "--update-golden: this chart has no matrix spec, so it has no golden files; "
                f"create one with `chartmatrix init {spec.chart_dir}` and run that",
            )


@dataclass
class Draft:
    """One case's normalized render, before its golden file is compared."""

    normalized: list[Manifest] | None = None  # None: the spec keeps no golden files
    previous: list[Manifest] | None = None  # the golden render, when it differs
    findings: list[Finding] = field(default_factory=list)
    render: goldens.Render | None = None
    old: str | None = None  # the golden file's text
    clock: bool = False  # the chart's templates read the clock (now)


@dataclass
class _Pending:
    out: CaseResult
    spec: MatrixSpec
    case: Case
    draft: Draft
    request: RenderRequest  # the render the golden file holds
    file_name: str = ""  # in the spec's golden directory
    versions: tuple[str, ...] = ()  # a lower Kubernetes version's own file: its versions
    text: str = ""
    refs: list[str] = field(default_factory=list)  # CRD files it names
    stale: bool = False  # its golden files would change
    variations: list[goldens.Variation] | None = None  # the render differs from itself
    paired: dict[tuple[str, str], str] = field(default_factory=dict)  # name masks


def _spec_name(spec: MatrixSpec) -> str:
    return spec.spec_file.name if spec.spec_file else "the spec"


def _clock_hint(finding: Finding, p: _Pending, *, spec_name: str) -> Finding:
    """golden/changed of a chart that reads the clock: the masks for what changed, in
    case it is the time of the render (the two renders of one run fall in the same
    minute, so the run cannot tell)."""
    if p.draft.old is None or p.draft.normalized is None:
        return finding
    try:
        before = parse(p.draft.old)
    except ManifestParseError:
        return finding
    changed = [v for v in goldens.variations(before, p.draft.normalized) if v.path][:5]
    if not changed:
        return finding
    entries = ", ".join(_under_name_mask(v, p.spec).mask_entry() for v in changed)
    hint = (
        "; the chart's templates read the clock (now): if this is the time of the render, "
        f"add to {spec_name}: mask: [{entries}]"
    )
    return replace(finding, message=finding.message + hint)


def _unreadable(file: Path, text: str, exc: ManifestParseError) -> Finding:
    """A golden file that is not YAML (edited by hand, a merge conflict): where in it."""
    try:
        k8syaml.load_all(text)
    except k8syaml.YamlError as bad:
        message = f"{file} is not valid YAML at line {bad.line}: {bad.problem}"
        return Finding(
            "golden",
            "golden/unreadable",
            Severity.ERROR,
            f"{message} (fix it, or rerun with --update-golden to write it anew)",
            file=str(file),
            file_line=bad.line or 0,
        )
    return Finding("golden", "golden/unreadable", Severity.ERROR, f"{file}: {exc}", file=str(file))


def _under_name_mask(v: goldens.Variation, spec: MatrixSpec) -> goldens.Variation:
    """``v`` named as a mask entry matches it: a mask's name is matched against the name
    as rendered, so an object whose name a mask hides is named by that mask's glob."""
    if v.name != goldens.MASK:
        return v
    globs = [
        m.name
        for m in spec.masks
        if m.path == "metadata.name" and fnmatch.fnmatchcase(v.kind, m.kind)
    ]
    return replace(v, name=globs[0] if globs else "*")


def _name_mask(
    v: goldens.Variation,
    found: list[goldens.Variation],
    spec_name: str,
    paired: dict[tuple[str, str], str] | None = None,
) -> str:
    """The mask that compares an object whose name varies under a masked name, when the
    other render has one object of its kind in its place, or one that is unambiguously
    its counterpart (see :func:`_pair_names`)."""
    others = [o for o in found if o.kind == v.kind and not o.path and o.name != v.name]
    glob = goldens.name_glob(v.name, others[0].name) if len(others) == 1 else None
    if glob is None and paired:
        glob = paired.get((v.kind, v.name))
    if glob is None:
        return ""
    entry = goldens.Variation(v.kind, glob, "metadata.name").mask_entry()
    return f"to compare it under a masked name, add to {spec_name}: mask: [{entry}]; "


def _pair_names(first: list[Manifest], second: list[Manifest]) -> dict[tuple[str, str], str]:
    """(kind, name) -> name mask of the objects whose name differs between two renders,
    each paired with its counterpart in the other render: among the objects of its kind
    and namespace that only the other render has, the one whose name shares the longest
    stem with its own (at its start, then at its end), when each is the other's only best
    match and their glob matches no other name of their kind (``test-*`` shared by every
    test Pod names no pair)."""

    # objects are told apart as goldens.variations tells them apart
    a_keys = {goldens._sort_key(m) for m in first}
    b_keys = {goldens._sort_key(m) for m in second}
    names: dict[str, set[str]] = {}  # kind -> every name of that kind in either render
    for kind, _, name, _ in a_keys | b_keys:
        names.setdefault(kind, set()).add(name)
    a_names = {(k, n) for k, _, n, _ in a_keys}
    b_names = {(k, n) for k, _, n, _ in b_keys}
    sides: dict[tuple[str, str], tuple[set[str], set[str]]] = {}  # (kind, namespace)
    for kind, ns, name, _ in a_keys - b_keys:
        if (kind, name) not in b_names:
            sides.setdefault((kind, ns), (set(), set()))[0].add(name)
    for kind, ns, name, _ in b_keys - a_keys:
        if (kind, name) not in a_names:
            sides.setdefault((kind, ns), (set(), set()))[1].add(name)

    def score(a: str, b: str) -> tuple[int, int]:  # the shared stem: start first
        prefix, _, suffix = (goldens.name_glob(a, b) or "*").partition("*")
        return len(prefix), len(suffix)

    def best(name: str, candidates: set[str]) -> str | None:
        scored = sorted(((score(name, c), c) for c in candidates), reverse=True)
        if (
            not scored
            or scored[0][0] == (0, 0)
            or (len(scored) > 1 and scored[1][0] == scored[0][0])
        ):
            return None
        return scored[0][1]

    out: dict[tuple[str, str], str] = {}
    for (kind, _), (only_a, only_b) in sorted(sides.items()):
        for a in sorted(only_a):
            b = best(a, only_b)
            if b is None or best(b, only_a) != a:
                continue
            glob = goldens.name_glob(a, b)
            if glob and {n for n in names[kind] if fnmatch.fnmatchcase(n, glob)} == {a, b}:
                out[(kind, a)] = out[(kind, b)] = glob
    return out


class GoldenStage:
    """The golden files of one run (one instance per :meth:`Runner.run`)."""

    def __init__(
        self,
        specs: list[MatrixSpec],
        *,
        update: bool,
        ci: bool,
        renderer: Renderer,
        timings: dict[str, float],
        progress: Callable[[str, int, int], None],
    ) -> None:
        self.update = update
        self.ci = ci
        self.renderer = renderer
        self.timings = timings
        self.progress = progress
        self.normalizers = {
            id(s): goldens.Normalizer(s.masks) for s in specs if s.golden_dir is not None
        }
        self.pending: list[_Pending] = []
        self.seen: dict[int, set[str]] = {}  # per spec: the ids of the cases normalized
        self.crd_files: dict[int, set[str]] = {}  # per spec: the CRD files its renders name
        self.version_files: dict[int, set[str]] = {}  # per spec: lower versions' case files

    def prepare(
        self, spec: MatrixSpec, case: Case, manifests: list[Manifest], *, clock: bool = False
    ) -> Draft:
        """Normalize a render (masks applied) and read the golden render it replaces.
        ``clock``: the chart's templates read the clock (two renders a second apart are
        equal, two runs a minute apart may not be)."""
        normalizer = self.normalizers.get(id(spec))
        if normalizer is None or spec.golden_dir is None:
            return Draft()
        normalized = normalizer.normalize(manifests)
        render = normalizer.render(normalized, spec.name, case.id)
        draft = Draft(normalized, render=render, clock=clock)
        file = spec.golden_dir / case.golden_name
        draft.old = goldens.read_golden(file)
        # an unchanged render cannot change an immutable field: skip parsing it
        if draft.old is not None and goldens.without_refs(draft.old) != goldens.without_refs(
            render.text()
        ):
            try:
                draft.previous = parse(draft.old)
            except ManifestParseError as exc:
                draft.findings.append(_unreadable(file, draft.old, exc))
        return draft

    def add(self, out: CaseResult, spec: MatrixSpec, draft: Draft, request: RenderRequest) -> None:
        """Compare the case's golden file in :meth:`finish`."""
        if draft.render is not None:
            out.ran.add("golden")
            draft.previous = None  # read by the rules, which have run
            self.pending.append(_Pending(out, spec, out.case, draft, request, out.case.golden_name))
            self.seen.setdefault(id(spec), set()).add(out.case.id)

    def add_lower(
        self,
        out: CaseResult,
        spec: MatrixSpec,
        top: Draft,
        renders: list[tuple[str, list[Manifest], RenderRequest]],
    ) -> None:
        """Keep the renders of the case's lower Kubernetes versions ``(version, manifests,
        request)``, masked, where they differ from the highest version's: each such render
        gets a golden file of its own (:meth:`Case.version_golden_name`, named by the
        lowest version that renders it), compared like the case's."""
        normalizer = self.normalizers.get(id(spec))
        if normalizer is None or spec.golden_dir is None or top.render is None:
            return
        groups: dict[tuple[str, ...], tuple[goldens.Render, list[Manifest], RenderRequest]] = {}
        versions: dict[tuple[str, ...], list[str]] = {}
        for version, manifests, request in renders:
            normalized = normalizer.normalize(manifests)
            render = normalizer.render(normalized, spec.name, out.case.id)
            if render.key() == top.render.key():
                continue
            groups.setdefault(render.key(), (render, normalized, request))
            versions.setdefault(render.key(), []).append(version)
        for key, (render, normalized, request) in groups.items():
            held = tuple(versions[key])
            named = f"{out.case.id}, Kubernetes {', '.join(held)}"
            draft = Draft(normalized, render=replace(render, case=named), clock=top.clock)
            name = out.case.version_golden_name(held[0])
            draft.old = goldens.read_golden(spec.golden_dir / name)
            self.pending.append(_Pending(out, spec, out.case, draft, request, name, held))
            self.version_files.setdefault(id(spec), set()).add(name)

    def settle(self) -> None:
        """Compare (or write) the golden files of the cases added so far that render no
        CRD, and forget them: only cases with CRDs wait for :meth:`finish`, where the
        files of CRDs shared by many cases are named once every case has rendered."""
        ready = [p for p in self.pending if p.draft.render and not p.draft.render.crds]
        if not ready:
            return
        t0 = time.perf_counter()
        for p in ready:
            assert p.draft.render is not None
            p.text = p.draft.render.text()
            p.stale = p.draft.old != p.text
        self.timings["golden"] += time.perf_counter() - t0
        self._render_again([p for p in ready if p.stale])
        t1 = time.perf_counter()
        groups: dict[int, list[_Pending]] = {}
        for p in ready:
            groups.setdefault(id(p.spec), []).append(p)
        for group in groups.values():
            self._compare(group, {})
        done = {id(p) for p in ready}
        self.pending = [p for p in self.pending if id(p) not in done]
        self.timings["golden"] += time.perf_counter() - t1

    def held(self) -> set[int]:
        """``id()`` of the case results that wait for a later :meth:`settle` or
        :meth:`finish`, which will still write their golden verdict."""
        return {id(p.out) for p in self.pending}

    # -- after every case ------------------------------------------------------------

    def finish(self) -> None:
        """Resolve CRD files, render stale cases again, then compare or write."""
        t0 = time.perf_counter()
        groups: dict[int, list[_Pending]] = {}
        for p in self.pending:
            groups.setdefault(id(p.spec), []).append(p)
        # in spec order, not the order the renders arrived in: the first case that names a
        # CRD file carries its diff (and a shard's merge keeps the copy of that case)
        for group in groups.values():
            rank = {c.id: i for i, c in enumerate(group[0].spec.cases)}
            group.sort(key=lambda p: rank[p.case.id])
        files: dict[int, dict[str, goldens.CrdDoc]] = {}
        for key, group in groups.items():
            spec = group[0].spec
            assert spec.golden_dir is not None
            # a CRD file only cases outside this run named is theirs; one that a case of
            # this run named too takes this run's content (a changed CRD shows its diff)
            named_here = {r for p in group if p.draft.old for r in goldens.crd_refs(p.draft.old)}
            refs, files[key] = goldens.resolve_crds(
                [p.draft.render for p in group if p.draft.render],
                spec.golden_dir,
                self._crds_of_unseen(spec) - named_here,
            )
            on_disk: dict[str, str | None] = {}
            for p in group:
                assert p.draft.render is not None
                p.text = p.draft.render.text(refs)
                p.refs = sorted({refs[c.digest] for c in p.draft.render.crds})
                self.crd_files.setdefault(key, set()).update(p.refs)
                p.stale = p.draft.old != p.text or any(
                    self._disk(spec.golden_dir / ref, on_disk)
                    != files[key][ref].file_text(spec.name)
                    for ref in p.refs
                )
        self.timings["golden"] += time.perf_counter() - t0
        self._render_again([p for p in self.pending if p.stale])
        t1 = time.perf_counter()
        for key, group in groups.items():
            self._compare(group, files[key])
        self.timings["golden"] += time.perf_counter() - t1

    def _crds_of_unseen(self, spec: MatrixSpec) -> set[str]:
        """The CRD files that the golden files of cases outside this run name."""
        assert spec.golden_dir is not None
        seen = self.seen.get(id(spec), set())
        named: set[str] = set()
        for case in spec.cases:
            if case.id not in seen and case.expect_failure is None:
                # an unreadable one names nothing here: its own run reports it
                text = goldens.read_golden(spec.golden_dir / case.golden_name)
                named.update(goldens.crd_refs(text) if text is not None else ())
        return named

    @staticmethod
    def _disk(path: Path, cache: dict[str, str | None]) -> str | None:
        if str(path) not in cache:
            cache[str(path)] = path.read_text(encoding="utf-8") if path.is_file() else None
        return cache[str(path)]

    def _render_again(self, stale: list[_Pending]) -> None:
        # cases that share a render (one request object) render it again once
        needed = list({id(p.request): p.request for p in stale}.values())
        if not needed:
            return
        done = 0

        def rendered(_: int, __: object) -> None:
            nonlocal done
            done += 1
            self.progress("re-render", done, len(needed))

        t0 = time.perf_counter()
        again = {
            id(request): result
            for request, result in zip(
                needed, self.renderer.render_many(needed, rendered), strict=True
            )
        }
        t1 = time.perf_counter()
        self.timings["render"] += t1 - t0
        for p in stale:
            result = again[id(p.request)]
            if not result.ok or p.draft.render is None or p.draft.normalized is None:
                continue
            try:
                manifests = parse(result.text)
            except ManifestParseError:
                continue
            normalizer = self.normalizers[id(p.spec)]
            normalized = normalizer.normalize(manifests, count=False)
            render = normalizer.render(normalized, p.spec.name, p.case.id)
            if render.key() != p.draft.render.key():
                p.variations = goldens.variations(p.draft.normalized, normalized)
                p.paired = _pair_names(p.draft.normalized, normalized)
        self.timings["golden"] += time.perf_counter() - t1

    def _compare(self, group: list[_Pending], crds: dict[str, goldens.CrdDoc]) -> None:
        spec = group[0].spec
        assert spec.golden_dir is not None
        verdicts: dict[str, goldens.GoldenResult] = {}
        for p in group:
            file = spec.golden_dir / p.file_name
            if p.variations is not None:
                self._unsettled(p, file)
                continue
            verdict = goldens.compare(file, p.text, update=self.update, ci=self.ci)
            found = self._findings(verdict, "")
            if p.versions:  # the report points the case's own findings at the case's file
                line = first_changed_line(verdict.diff)
                found = [replace(f, file=str(file), file_line=line) for f in found]
            if verdict.status == "changed" and p.draft.clock:
                found = [_clock_hint(f, p, spec_name=_spec_name(spec)) for f in found]
            p.out.findings.extend(found)
            shared: list[goldens.GoldenResult] = []
            diffs: list[str] = []
            for ref in p.refs:
                first = ref not in verdicts
                if first:
                    text = crds[ref].file_text(spec.name)
                    verdicts[ref] = goldens.compare(
                        spec.golden_dir / ref, text, update=self.update, ci=self.ci
                    )
                crd = verdicts[ref]
                shared.append(crd)
                if first or crd.status in ("changed", "missing"):
                    p.out.findings.extend(self._findings(crd, crds[ref].name))
                if first and crd.diff:
                    diffs.append(crd.diff)
            combined = goldens.combine(verdict, shared, diffs)
            note = f"{file.name}: {verdict.status}"
            if shared:
                states = sorted({v.status for v in shared})
                note += f"; {len(shared)} CRD file(s): {', '.join(states)}"
            if p.versions:
                note = f"Kubernetes {', '.join(p.versions)}: {note}"
            before = p.out.golden  # a lower version's file, or the case's (in either order)
            if before is not None and p.versions:
                combined = goldens.combine(before, [combined], [combined.diff])
                note = f"{p.out.notes.get('golden', '')}; {note}"
            elif before is not None:
                combined = goldens.combine(combined, [before], [before.diff])
                note = f"{note}; {p.out.notes.get('golden', '')}"
            p.out.golden = combined
            p.out.notes["golden"] = note

    @staticmethod
    def _findings(verdict: goldens.GoldenResult, crd: str) -> list[Finding]:
        file = verdict.file
        shared = f" (CRD {crd}, shared by the cases that render it)" if crd else ""
        if verdict.status == "changed":
            message = (
                f"render differs from {file}{shared} (rerun with --update-golden after review)"
            )
            found = [Finding("golden", "golden/changed", Severity.ERROR, message)]
        elif verdict.status == "missing":
            message = f"{file}{shared} is missing (CI mode; run --update-golden and commit)"
            found = [Finding("golden", "golden/missing", Severity.ERROR, message)]
        elif verdict.status == "written":
            message = f"wrote new golden file {file}{shared}: review and commit it"
            found = [Finding("golden", "golden/new", Severity.WARNING, message)]
        elif verdict.status == "error":  # nothing was written: the file is as it was
            message = f"cannot read or write {file}{shared}: {verdict.diff}"
            found = [Finding("golden", "golden/unwritable", Severity.ERROR, message)]
            return [replace(f, file=str(file)) for f in found]
        else:
            return []
        if not crd:
            return found  # the report points them at the case's file (locate.in_golden_file)
        line = first_changed_line(verdict.diff)
        return [replace(f, file=str(file), file_line=line) for f in found]

    def _unsettled(self, p: _Pending, file: Path) -> None:
        assert p.variations is not None
        spec_name = _spec_name(p.spec)
        found = p.variations or [goldens.Variation("", "", "")]
        for v in found:
            if v.path:
                entry = _under_name_mask(v, p.spec).mask_entry()
                message = (
                    "differs between two renders of the same values (random or time-based "
                    "output), so the case's golden file could never settle and is not "
                    f"written; add to {spec_name}: mask: [{entry}]"
                )
            elif v.kind:
                message = (
                    "is rendered by only one of two renders of the same values: its name "
                    f"varies; {_name_mask(v, found, spec_name, p.paired)}the case's golden "
                    "file is not written"
                )
            else:
                message = (
                    f"two renders of the same values differ, so {file.name} could never "
                    "settle and is not written"
                )
            p.out.findings.append(
                Finding(
                    "golden",
                    "golden/nondeterministic",
                    Severity.ERROR,
                    message,
                    resource=v.resource if v.kind else "",
                    path=v.path,
                )
            )
        p.out.notes["golden"] = (
            f"{file.name}: not written; the render differs from itself at {len(found)} place(s)"
        )

    def chart(self, chart: ChartResult, *, prune: bool, whole: bool = False) -> None:
        """Chart-level findings: orphaned and foreign files, masks that match nothing.
        ``whole``: the run is one shard of a run of every case, so the masks unused in it
        go to ``chart.unused_masks`` (the merge reports those that no shard used)."""
        spec = chart.spec
        if spec.golden_dir is None:
            return
        expected = [c.golden_name for c in spec.cases if c.expect_failure is None]
        expected += self.version_files.get(id(spec), set())
        # a case this run did not render keeps its lower versions' files
        normalized = self.seen.get(id(spec), set())
        unseen = [c for c in spec.cases if c.expect_failure is None and c.id not in normalized]
        expected += goldens.version_files(spec.golden_dir, unseen)
        for path in goldens.orphans(spec.golden_dir, expected, self.crd_files.get(id(spec), ())):
            if self.update:
                if prune:
                    try:
                        path.unlink()
                    except OSError as exc:
                        chart.findings.append(
                            Finding(
                                "golden",
                                "golden/unwritable",
                                Severity.ERROR,
                                f"cannot delete the orphaned {path}: {exc.strerror or exc}",
                                file=str(path),
                            )
                        )
                continue
            severity = Severity.ERROR if self.ci else Severity.WARNING
            chart.findings.append(
                Finding(
                    "golden",
                    "golden/orphaned",
                    severity,
                    f"{path} belongs to no case (delete it, or run --update-golden)",
                )
            )
        for path in goldens.foreign(spec.golden_dir):
            chart.findings.append(
                Finding(
                    "golden",
                    "golden/unknown-file",
                    Severity.WARNING,
                    f"{path} is not a golden file (no chartmatrix header); left alone",
                )
            )
        if not whole and any(
            c.expect_failure is None and c.id not in normalized for c in spec.cases
        ):
            return  # not every case rendered: a mask may be for one that did not
        where = spec.spec_file or spec.chart_dir
        # a shard's unused masks may be used by another shard: the merge decides
        found = chart.unused_masks if whole else chart.findings
        for i, mask in self.normalizers[id(spec)].unused():
            found.append(
                Finding(
                    "golden",
                    "golden/unused-mask",
                    Severity.ERROR,
                    f"{where}: mask[{i}] (path {mask.path}, kind {mask.kind}, name {mask.name}) "
                    "matches nothing in any case; fix or remove it",
                )
            )
