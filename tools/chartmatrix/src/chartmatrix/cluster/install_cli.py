"""CLI for ``chartmatrix install [CHART...] [--kube-context CTX] [--upgrade]``.

Without ``--kube-context``/``--kubeconfig`` it installs on the local control plane
(``chartmatrix cluster up``); with them, on any cluster (kind in CI).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import xml.etree.ElementTree as ET
from contextlib import ExitStack
from pathlib import Path

from chartmatrix.cluster.install import Case, CaseResult, Installer, discover_cases
from chartmatrix.cluster.install_kube import Kube, Target
from chartmatrix.errors import ChartmatrixError
from chartmatrix.project import find_root
from chartmatrix.render import find_helm


def add_install_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "install", help="install, test and uninstall each ci values file on a real cluster"
    )
    p.add_argument(
        "charts",
        nargs="*",
        metavar="CHART",
        help="chart directories (default: every application chart under charts/)",
    )
    p.add_argument(
        "--kube-context", metavar="CTX", help="kubeconfig context (default: the local cluster)"
    )
    p.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG)")
    p.add_argument(
        "--upgrade",
        action="store_true",
        help="install the chart at --ref first, then upgrade to the working tree",
    )
    p.add_argument(
        "--ref", metavar="REF", help="git ref for --upgrade (default: merge-base of HEAD with main)"
    )
    p.add_argument("--helm", metavar="NAME|PATH", help="helm executable (default: helm)")
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="per helm call and readiness wait (default 300)",
    )
    p.add_argument(
        "-f",
        "--values",
        action="append",
        default=[],
        metavar="FILE",
        help="values file laid over every case's own values (repeatable; as helm --values)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="passed to every helm install/upgrade as it is (repeatable)",
    )
    p.add_argument(
        "--set-string",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="passed to every helm install/upgrade as it is (repeatable)",
    )
    p.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="GLOB",
        help="only the cases whose id (CHART/NAME) or name matches (repeatable)",
    )
    p.add_argument("--keep-namespace", action="store_true", help="do not delete the namespaces")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    p.set_defaults(func=cmd_install)


def _default_charts() -> list[Path]:
    return sorted(p.parent for p in (find_root() / "charts").glob("*/Chart.yaml"))


def resolve_target(args: argparse.Namespace) -> Target:
    if args.kube_context or args.kubeconfig:
        return Target(Path(args.kubeconfig) if args.kubeconfig else None, args.kube_context)
    from chartmatrix.cluster.control_plane import ControlPlane
    from chartmatrix.cluster.layout import CONTEXT

    plane = ControlPlane()
    if not plane.status().up:
        raise ChartmatrixError(
            None, "no cluster: run `chartmatrix cluster up`, or pass --kube-context/--kubeconfig"
        )
    return Target(plane.layout.kubeconfig, CONTEXT)


def cases_for(args: argparse.Namespace) -> list[Case]:
    charts = [Path(c) for c in args.charts] or _default_charts()
    if not charts:
        raise ChartmatrixError(find_root(), "no charts given and none found under charts/")
    cases: list[Case] = []
    for chart in charts:
        from chartmatrix.charts import load_chart

        if not args.charts and load_chart(chart).chart_type == "library":
            continue
        cases.extend(discover_cases(chart))
    return select_cases(cases, args.case)


def select_cases(cases: list[Case], globs: list[str]) -> list[Case]:
    """The cases whose id or name matches one of ``globs`` (all without any); a glob
    that matches nothing is an error, so a typo never passes as an empty run."""
    if not globs:
        return cases

    def matches(case: Case, glob: str) -> bool:
        return fnmatch.fnmatchcase(case.case_id, glob) or fnmatch.fnmatchcase(case.name, glob)

    for glob in globs:
        if not any(matches(case, glob) for case in cases):
            known = ", ".join(case.case_id for case in cases)
            raise ChartmatrixError(None, f"--case {glob!r} matches no case (cases: {known})")
    return [case for case in cases if any(matches(case, glob) for glob in globs)]


def value_args(args: argparse.Namespace) -> tuple[str, ...]:
    """helm's ``--values FILE``, ``--set`` and ``--set-string`` arguments for every case."""
    out: list[str] = []
    for name in args.values:
        path = Path(name)
        if not path.is_file():
            raise ChartmatrixError(path, "no such values file (--values)")
        out += ["--values", str(path.resolve())]
    for flag, items in (("--set", args.set), ("--set-string", args.set_string)):
        for item in items:
            key, equals, _ = item.partition("=")
            if not equals or not key.strip():
                raise ChartmatrixError(None, f"{flag} {item!r}: expected KEY=VALUE")
            out += [flag, item]
    return tuple(out)


def cmd_install(args: argparse.Namespace) -> int:
    helm = find_helm(args.helm)
    extra = value_args(args)
    cases = cases_for(args)
    target = resolve_target(args)
    kube = Kube(target.kubeconfig, target.context)
    installer = Installer(
        kube,
        helm,
        timeout=args.timeout,
        keep_namespace=args.keep_namespace,
        log=lambda msg: print(f"  {msg}", file=sys.stderr),
        value_args=extra,
    )
    print(f"chartmatrix install: {len(cases)} case(s) on {target.describe()}", file=sys.stderr)
    results: list[CaseResult] = []
    with ExitStack() as stack:
        old_tree = repo = None
        ref = ""
        if args.upgrade:
            from chartmatrix.cluster.install_upgrade import default_ref, repo_of, tree_at

            repo = repo_of(cases[0].chart_dir)
            ref = args.ref or default_ref(repo)
            old_tree = stack.enter_context(tree_at(repo, ref))
        for case in cases:
            note = ""
            if old_tree is not None and repo is not None:
                from chartmatrix.cluster.install_upgrade import with_old

                upgraded = with_old(case, repo, old_tree)
                if upgraded is None:
                    note = f"not at {ref[:12]}: installed without upgrade"
                else:
                    case = upgraded
            result = installer.run(case)
            result.note = note
            results.append(result)
            _print_result(result)
    _summary(results)
    if args.junit:
        write_junit(Path(args.junit), results)
    failed = [r for r in results if not r.ok]
    print(
        f"chartmatrix install: {len(results) - len(failed)} passed, {len(failed)} failed",
        file=sys.stderr,
    )
    return 1 if failed else 0


def _print_result(result: CaseResult) -> None:
    mark = "PASS" if result.ok else "FAIL"
    steps = " ".join(f"{s.name}={s.seconds:.1f}s" for s in result.steps)
    print(f"{mark} {result.case.case_id} ({result.seconds:.1f}s) {steps}")
    if result.note:
        print(f"     note: {result.note}")
    for kept in result.retained:
        print(f"     retained: {kept}")
    if not result.ok:
        print(result.report())


def _summary(results: list[CaseResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="chartmatrix install")
    for column in ("case", "result", "seconds", "failed step", "retained"):
        table.add_column(column)
    for r in results:
        failed = r.failure
        table.add_row(
            r.case.case_id,
            "[green]pass[/green]" if r.ok else "[red]FAIL[/red]",
            f"{r.seconds:.1f}",
            failed.name if failed else "",
            str(len(r.retained)) if r.retained else "",
        )
    Console(stderr=True, markup=False, emoji=False).print(table)


def write_junit(path: Path, results: list[CaseResult]) -> None:
    suites = ET.Element("testsuites", name="chartmatrix install")
    by_chart: dict[str, list[CaseResult]] = {}
    for result in results:
        by_chart.setdefault(result.case.chart, []).append(result)
    for chart, chart_results in by_chart.items():
        failures = sum(1 for r in chart_results if not r.ok)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"install.{chart}",
            tests=str(len(chart_results)),
            failures=str(failures),
            time=f"{sum(r.seconds for r in chart_results):.3f}",
        )
        for result in chart_results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"install.{chart}",
                name=result.case.name,
                time=f"{result.seconds:.3f}",
            )
            failed = result.failure
            if failed is not None:
                node = ET.SubElement(case, "failure", message=f"{failed.name}: {failed.detail}")
                node.text = result.report()
            out = [f"{s.name}: {'ok' if s.ok else 'FAILED'} {s.seconds:.1f}s" for s in result.steps]
            out += [f"retained: {r}" for r in result.retained]
            if result.note:
                out.append(f"note: {result.note}")
            ET.SubElement(case, "system-out").text = "\n".join(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="unicode", xml_declaration=True)
    os.chmod(path, 0o644)
