"""chartmatrix: render Helm charts over values permutations, validate them offline,
check the state rules and keep golden files.

Exit codes: 0 everything holds, 1 a check failed, 2 a usage or configuration error
(printed as one line naming the file and the problem, never a traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import re
import sys
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chartmatrix.errors import ChartmatrixError
from chartmatrix.project import checked_root, find_root, use_root

# Start fast: this module imports only the standard library, chartmatrix.errors and .project;
# each command imports what it needs (rich, jsonschema, the specs, the cluster code).
if TYPE_CHECKING:
    from rich.console import Console

    from chartmatrix.runner import Selector
    from chartmatrix.shard import Shard
    from chartmatrix.spec import MatrixSpec

# Registered by chartmatrix.cluster.cli, which is imported only when one of these runs:
# the rest of the time (``--help`` too) each is listed by name and help text only.
LAZY = {
    "cluster": "run a local control plane (etcd, kube-apiserver, ..., kwok nodes)",
    "install": "install, test and uninstall each ci values file on a real cluster",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # self.prog is "chartmatrix" or "chartmatrix run": it already names the program
        raise ChartmatrixError(None, f"usage: {message} (see {self.prog} --help)")


ROOT_HELP = (
    "the project root (chart_tests/, charts/, chartmatrix.yaml, the local cluster's "
    "state); default: found from the current directory (nearest chartmatrix.yaml, "
    "pyproject.toml [tool.chartmatrix], chart_tests/, ct.yaml or .git)"
)
_KUBE_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")


def kube_versions(raw: list[str] | None) -> tuple[str, ...]:
    """``--kube-version`` values (repeatable, or comma-separated) as ``X.Y`` strings."""
    out: list[str] = []
    for item in raw or ():
        for text in (t.strip() for t in item.split(",")):
            match = _KUBE_VERSION.match(text)
            if not match:
                raise ChartmatrixError(
                    "--kube-version", f"{text!r} is not a Kubernetes version (want X.Y, e.g. 1.33)"
                )
            version = f"{int(match.group(1))}.{int(match.group(2))}"
            from chartmatrix.validate import schema_version  # heavy: only when asked

            try:
                schema_version(version)
            except ChartmatrixError as exc:
                raise ChartmatrixError("--kube-version", exc.problem) from None
            if version not in out:
                out.append(version)
    return tuple(out)


def axes_from_args(raw: list[str] | None) -> dict[str, list[Any]]:
    """``--axis KEY=V1,V2`` flags; a key given twice gets the values of both."""
    from chartmatrix.values import parse_axis

    axes: dict[str, list[Any]] = {}
    for item in raw or []:
        try:
            key, values = parse_axis(item)
        except ValueError as exc:
            raise ChartmatrixError("--axis", str(exc)) from None
        axes.setdefault(key, []).extend(v for v in values if v not in axes.get(key, []))
    return axes


def resolve_specs(args: argparse.Namespace) -> list[MatrixSpec]:
    """CHART arguments (chart dirs, spec files or spec dirs) → specs."""
    from chartmatrix.charts import chart_dir_of, load_chart
    from chartmatrix.spec import SPEC_FILE, adhoc_spec, discover_specs, find_spec, load_spec

    versions = kube_versions(args.kube_version)
    axes = axes_from_args(args.axis)
    values = [Path(v) for v in args.values or []]
    adhoc = bool(axes or values)
    if not args.charts:
        if adhoc:
            raise ChartmatrixError(None, "--values/--axis need a CHART argument")
        root = find_root()
        files = discover_specs(root)
        if not files:
            raise ChartmatrixError(root, f"no chart_tests/*/{SPEC_FILE} found; name a CHART")
        return [load_spec(f, kube_versions=versions) for f in files]
    if adhoc and getattr(args, "update_golden", False):
        raise ChartmatrixError(
            "--update-golden",
            "does not go with --axis/--values: they make an ad-hoc run, which keeps no "
            "golden files (put the axis or values file in the chart's spec)",
        )
    specs = []
    for raw in args.charts:
        path = chart_dir_of(Path(raw))
        spec_file = path if path.is_file() and path.suffix in (".yaml", ".yml") else None
        if spec_file is None and (path / SPEC_FILE).is_file():
            spec_file = path / SPEC_FILE
        if spec_file is not None and (spec_file.parent / "Chart.yaml").is_file():
            raise ChartmatrixError(
                spec_file,
                f"is a file of the chart in {spec_file.parent}, not a matrix spec: name the "
                "chart's directory (or its chart_tests/<chart>/matrix.yaml)",
            )
        if spec_file is not None:
            if adhoc:
                raise ChartmatrixError(
                    spec_file,
                    "--axis/--values apply to a chart directory, not to a spec (put the "
                    "axis or values file in the spec, or name the chart)",
                )
            specs.append(load_spec(spec_file, kube_versions=versions))
            continue
        if not path.exists():
            raise ChartmatrixError(path, "chart not found")
        if not (path / "Chart.yaml").is_file():
            raise ChartmatrixError(path, "not a Helm chart (no Chart.yaml) and no matrix.yaml")
        info = load_chart(path)
        if info.chart_type == "library":
            raise ChartmatrixError(
                path,
                "a library chart renders nothing by itself; run the spec of a chart that "
                "uses it (or a small test chart that does)",
            )
        root = find_root()
        spec_file = find_spec(path, name=info.name, root=root)
        if spec_file is not None and adhoc:
            print(
                f"note: --axis/--values make an ad-hoc run of {raw}'s defaults: its spec "
                f"{spec_file} is not used (nor its set:, files:, masks and suppressions; "
                "put the axis or values file in the spec to run them with it)",
                file=sys.stderr,
            )
        elif spec_file is not None:
            specs.append(load_spec(spec_file, kube_versions=versions))
            continue
        other = root / "chart_tests" / info.name / SPEC_FILE
        if not adhoc and other.is_file():
            print(
                f"note: {other} is the spec of another chart than {raw}: running {raw}'s "
                "defaults and ci values (name the spec to run it)",
                file=sys.stderr,
            )
        specs.append(adhoc_spec(path, values_files=values, axes=axes, kube_versions=versions))
    return specs


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "charts",
        nargs="*",
        metavar="CHART",
        help="chart directory, matrix.yaml, or chart_tests/<chart> (default: all specs)",
    )
    p.add_argument(
        "--values",
        "-f",
        action="append",
        metavar="FILE",
        help="values file layered under the axes (no spec)",
    )
    p.add_argument(
        "--axis",
        action="append",
        metavar="KEY=V1,V2",
        help="dotted value path and its values (no spec); each value is one YAML value, and "
        "commas inside [], {} or quotes do not split: 'tolerations=[],[{key: a}]' is two "
        "values; repeat --axis with the same KEY to add values one at a time",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VAL",
        help="passed to helm template for every case (helm's --set syntax)",
    )
    p.add_argument(
        "--set-string",
        action="append",
        metavar="KEY=VAL",
        help="passed to helm template for every case (helm's --set-string syntax)",
    )
    p.add_argument(
        "--skip-schema-validation",
        action="store_true",
        help="passed to helm template: do not validate values against values.schema.json",
    )
    p.add_argument(
        "--kube-version",
        action="append",
        metavar="X.Y",
        help="Kubernetes version(s) to render and validate for (overrides specs); "
        "repeatable or comma-separated: 1.31,1.33",
    )
    p.add_argument(
        "--helm", metavar="NAME|PATH", help="helm executable: helm (v4, default), helm3, or a path"
    )
    p.add_argument("--jobs", "-j", type=int, help="concurrent helm processes (default: cores)")
    p.add_argument(
        "--renderer",
        choices=("worker", "helm"),
        help="worker: helm's template code in chartmatrix's render worker, one per job "
        "(default when tools/bootstrap built it for this helm); helm: one helm template "
        "process per render (the reference)",
    )
    p.add_argument(
        "--case",
        action="append",
        metavar="GLOB",
        help="run only the cases whose id matches (repeatable), e.g. 'flavor:*'",
    )
    p.add_argument(
        "--crd",
        action="append",
        metavar="FILE",
        help="CRD YAML (a path or go://MODULE@VERSION/PATH) whose openAPIV3Schema "
        "validates its custom resources",
    )


def _progress(console: Console, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None, (lambda stage, done, total: None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    return progress, update


def _case_filter(patterns: list[str] | None, specs: list[MatrixSpec]) -> Selector | None:
    """``--case GLOB`` as a runner selector; a pattern that matches nothing is an error."""
    if not patterns:
        return None
    chosen = [c.id for s in specs for c in s.cases if any(fnmatchcase(c.id, p) for p in patterns)]
    if not chosen:
        raise ChartmatrixError("--case", f"no case id matches {', '.join(patterns)}")
    return lambda _spec, case: any(fnmatchcase(case.id, p) for p in patterns)


def _without_golden_if_overridden(
    specs: list[MatrixSpec], args: argparse.Namespace
) -> list[MatrixSpec]:
    """``--set``/``--set-string`` change every render: the golden files record the
    spec's cases, so such a run neither compares nor writes them."""
    flags = [f"--{f.replace('_', '-')}" for f in ("set", "set_string") if getattr(args, f, None)]
    if not flags:
        return specs
    if args.update_golden:
        raise ChartmatrixError(
            "--update-golden",
            f"does not go with {'/'.join(flags)}: they change every render, and golden "
            "files record the spec's cases (put the values in the spec: set: or values:)",
        )
    kept = [s for s in specs if s.golden_dir is not None]
    if kept:
        print(
            f"note: {'/'.join(flags)} change every render: the golden files of "
            f"{', '.join(s.name for s in kept)} are neither compared nor written in this run",
            file=sys.stderr,
        )
    return [dataclasses.replace(s, golden_dir=None) for s in specs]


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from chartmatrix.crdsource import resolve_crd
    from chartmatrix.report.console import print_report
    from chartmatrix.runner import Options, Runner

    console = Console(stderr=False, highlight=False, emoji=False)
    specs = resolve_specs(args)
    shard, in_shard = _shard(args, specs)
    only = _case_filter(args.case, specs)
    if args.list:
        for spec in specs:
            for case in spec.cases:
                if in_shard is not None and not in_shard(spec, case):
                    continue
                if only is not None and not only(spec, case):
                    continue
                must_fail = "  (must fail)" if case.expect_failure else ""
                print(f"{spec.name}\t{case.id}{must_fail}")
        return 0
    specs = _without_golden_if_overridden(specs, args)
    options = Options(
        helm=args.helm,
        jobs=args.jobs,
        update_golden=args.update_golden,
        ci=args.ci or bool(os.environ.get("CI")),
        strict=args.strict,
        crds=tuple(resolve_crd(c, Path.cwd(), "--crd") for c in args.crd or ()),
        helm_args=helm_args(args),
        renderer=args.renderer,
    )
    show = not args.no_progress and console.is_terminal
    progress, update = _progress(console, show)
    runner = Runner(options, update)
    if progress is not None:
        with progress:
            result = runner.run(specs, only, in_shard)
    else:
        result = runner.run(specs, only, in_shard)
    result.shard = (shard.index, shard.count) if shard is not None else None
    print_report(result, console)
    if args.junit or args.json or args.html or args.github_annotations:
        from chartmatrix.report.model import to_dict

        write_reports(to_dict(result, lazy=True), args)
    return 1 if result.failed() else 0


def write_reports(data: dict[str, Any], args: argparse.Namespace) -> None:
    """The report files ``run`` and ``merge`` both write, from one report dict."""
    if args.json:
        from chartmatrix.report.jsonout import write_json_data

        write_json_data(data, Path(args.json))
    if args.junit:
        from chartmatrix.report.junit import write_junit_data

        write_junit_data(data, Path(args.junit))
    if args.html:
        from chartmatrix.report.html import write_html_data

        write_html_data(data, Path(args.html))
    if args.github_annotations:
        from chartmatrix.report.github import print_annotations

        print_annotations(data)


def _shard(
    args: argparse.Namespace, specs: list[MatrixSpec]
) -> tuple[Shard | None, Selector | None]:
    """``--shard I/N`` (and ``--shard-timings``): the shard and its case selector."""
    if args.shard is None:
        if args.shard_timings:
            raise ChartmatrixError("--shard-timings", "needs --shard I/N")
        return None, None
    from chartmatrix.shard import load_timings, parse_shard, selector

    shard = parse_shard(args.shard)
    timings = load_timings(Path(args.shard_timings)) if args.shard_timings else None
    return shard, selector(specs, shard, timings)


def cmd_merge(args: argparse.Namespace) -> int:
    from chartmatrix.report.merge import merge_reports

    if not (args.json or args.junit or args.html or args.github_annotations):
        raise ChartmatrixError(
            None, "merge: say what to write: --json, --junit, --html and/or --github-annotations"
        )
    data = merge_reports([Path(f) for f in args.reports])
    write_reports(data, args)
    verdict = "OK" if data["ok"] else "FAILED"
    print(
        f"chartmatrix merge: {verdict}, {data['cases']} cases from {len(args.reports)} "
        f"shard(s), {data['failed']} failed"
    )
    return 0 if data["ok"] else 1


def helm_args(args: argparse.Namespace) -> tuple[str, ...]:
    """The helm flags passed through to every render."""
    out: list[str] = []
    for flag in ("set", "set_string"):
        for item in getattr(args, flag, None) or ():
            if "=" not in item:
                raise ChartmatrixError(f"--{flag.replace('_', '-')}", f"{item!r} is not KEY=VAL")
            out += [f"--{flag.replace('_', '-')}", item]
    if getattr(args, "skip_schema_validation", False):
        out.append("--skip-schema-validation")
    return tuple(out)


def cmd_bench(args: argparse.Namespace) -> int:
    from chartmatrix.bench import run_bench
    from chartmatrix.crdsource import resolve_crd
    from chartmatrix.runner import Options

    if args.case:
        raise ChartmatrixError("--case", "bench times whole specs; drop --case")
    options = Options(
        helm=args.helm,
        jobs=args.jobs,
        crds=tuple(resolve_crd(c, Path.cwd(), "--crd") for c in args.crd or ()),
        helm_args=helm_args(args),
        renderer=args.renderer,
    )
    return run_bench(
        resolve_specs(args), options, baseline_cases=args.baseline_cases, scale=args.scale
    )


def cmd_init(args: argparse.Namespace) -> int:
    from chartmatrix.init import init

    if args.max_cases < 1:
        raise ChartmatrixError("--max-cases", f"must be >= 1 (got {args.max_cases})")
    output = Path(args.output) if args.output else None
    return init(
        Path(args.chart),
        output,
        force=args.force,
        max_cases=args.max_cases,
        files=[Path(f) for f in args.values or []],
        sets=args.set or [],
    )


def cmd_rules(args: argparse.Namespace) -> int:
    from chartmatrix.projectconfig import load_project_config
    from chartmatrix.rules import RULES

    config = load_project_config()
    for r in RULES.values():
        level = config.effective(r.id, r.severity)
        print(f"{r.id:30} {level:8} {r.summary}")
    if config.file is not None:
        print(f"(severities as set in {config.file})")
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI; ``command`` (the first argument) says which lazily registered
    subcommand (``LAZY``) must be wired in full."""
    parser = _Parser(prog="chartmatrix", description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--root", metavar="DIR", help=ROOT_HELP)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="render, validate, check rules and golden files")
    _add_run_options(run)
    run.add_argument("--strict", action="store_true", help="warnings fail the run")
    run.add_argument(
        "--ci",
        action="store_true",
        help="CI mode (also when $CI is set): missing/orphaned golden files fail",
    )
    run.add_argument("--update-golden", action="store_true", help="rewrite golden files")
    run.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    run.add_argument("--json", metavar="FILE", help="write a JSON report")
    run.add_argument("--html", metavar="FILE", help="write a self-contained HTML grid")
    run.add_argument(
        "--github-annotations",
        action="store_true",
        help="print each finding as a GitHub Actions ::error/::warning command on its "
        "file and line (shown on the pull request)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--list", action="store_true", help="print the case ids and exit")
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="check only shard I of N (stable by case id; join the shards' --json "
        "reports with chartmatrix merge)",
    )
    run.add_argument(
        "--shard-timings",
        metavar="REPORT.json",
        help="balance the shards by the per-case seconds of an earlier run's JSON report",
    )
    run.set_defaults(func=cmd_run)
    merge = sub.add_parser("merge", help="join the JSON reports of run --shard I/N into one report")
    merge.add_argument("reports", nargs="+", metavar="SHARD.json", help="every shard's report")
    merge.add_argument("--json", metavar="FILE", help="write the merged JSON report")
    merge.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    merge.add_argument("--html", metavar="FILE", help="write a self-contained HTML grid")
    merge.add_argument(
        "--github-annotations",
        action="store_true",
        help="print each finding of the merged report as a GitHub Actions annotation",
    )
    merge.set_defaults(func=cmd_merge)
    bench = sub.add_parser(
        "bench", help="time the pipeline against helm template + kubeconform and helm-unittest"
    )
    _add_run_options(bench)
    bench.add_argument(
        "--baseline-cases",
        type=int,
        default=0,
        metavar="N",
        help="time the baselines on N cases only (default: all)",
    )
    bench.add_argument(
        "--scale",
        action="store_true",
        help="ms per case and peak memory at 10, 100 and 1000 cases generated over "
        "one CHART (a chart directory)",
    )
    bench.set_defaults(func=cmd_bench)
    init = sub.add_parser("init", help="write a starter matrix.yaml proposed from a chart")
    init.add_argument("chart", metavar="CHART", help="chart directory or packaged .tgz")
    init.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="where to write the spec (default: chart_tests/<chart name>/matrix.yaml)",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing spec")
    init.add_argument(
        "--values",
        "-f",
        action="append",
        metavar="FILE",
        help="a values file every case needs (the spec's files:); init renders with it",
    )
    init.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a value every case needs (the spec's set:; helm's --set syntax)",
    )
    init.add_argument(
        "--max-cases",
        type=int,
        default=32,
        metavar="N",
        help="keep proposed axes while their product stays within N (default 32)",
    )
    init.set_defaults(func=cmd_init)
    rules = sub.add_parser("rules", help="list the state rules (ids are suppression keys)")
    rules.set_defaults(func=cmd_rules)
    if command in LAZY:
        # part of the package: a failing import is a bug to see, not a missing feature
        importlib.import_module("chartmatrix.cluster.cli").register(sub)
    else:
        for name, text in LAZY.items():
            sub.add_parser(name, help=text, add_help=False)
    for subparser in sub.choices.values():  # `chartmatrix run --root DIR` works too
        subparser.add_argument("--root", metavar="DIR", default=argparse.SUPPRESS, help=ROOT_HELP)
    return parser


def _command_of(argv: list[str]) -> str | None:
    """The subcommand's name: the first argument after the global options."""
    rest = iter(argv)
    for arg in rest:
        if arg == "--root":
            next(rest, None)
        elif not arg.startswith("--root="):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, extra = build_parser(_command_of(argv)).parse_known_args(argv)
        if extra:
            raise ChartmatrixError(
                None,
                f"usage: unrecognized arguments: {' '.join(extra)} "
                f"(see chartmatrix {args.command} --help)",
            )
        root = checked_root(args.root, "--root") if args.root else None
        with use_root(root):
            return int(args.func(args))
    except ChartmatrixError as exc:
        print(exc.line(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chartmatrix: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:
        if os.environ.get("CHARTMATRIX_DEBUG"):
            raise
        print(
            f"chartmatrix: internal error: {type(exc).__name__}: {exc} "
            "(set CHARTMATRIX_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
