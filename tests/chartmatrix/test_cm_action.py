"""The composite GitHub Action (``action.yml`` at the repository root).

actionlint lints workflows, not action metadata, so the action is checked three ways:
its metadata against the rules GitHub applies to composite actions (and this
repository's: inputs only through ``env:``, actions pinned to a release); actionlint on a
workflow that uses it (``uses: ./``, which actionlint resolves to this action.yml) and on
its steps laid out as a reusable workflow; and its ``chartmatrix run`` step executed as
the runner would, on a failing chart, with hostile inputs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cm_charts import BROKEN_SERVICE, write_tree

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "action.yml"
ACTIONLINT = REPO / ".tools" / "bin" / "actionlint"
CHARTMATRIX = REPO / ".venv" / "bin" / "chartmatrix"
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
INPUT_REF = re.compile(r"\binputs\.([A-Za-z0-9_-]+)")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")


def _action() -> dict[str, Any]:
    return yaml.safe_load(ACTION.read_text())


def _actionlint() -> str:
    if not ACTIONLINT.exists():
        pytest.fail(f"{ACTIONLINT} not found: run tools/bootstrap first")
    return str(ACTIONLINT)


def test_metadata_is_a_complete_composite_action() -> None:
    action = _action()
    for key in ("name", "description", "runs"):
        assert action.get(key), f"action.yml: {key} is required"
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    ids = {s["id"] for s in steps if "id" in s}
    for step in steps:
        assert ("run" in step) != ("uses" in step), f"one of run/uses: {step}"
        if "run" in step:
            assert step.get("shell"), f"composite run steps need shell: {step.get('name')}"
        else:
            assert PINNED.match(step["uses"]), f"pin {step['uses']} to a release or a SHA"
    for name, spec in action["inputs"].items():
        assert spec.get("description"), f"input {name} needs a description"
    for name, spec in action["outputs"].items():
        (ref,) = EXPRESSION.findall(spec["value"])
        assert ref.split(".")[1] in ids, f"output {name} reads a step that does not exist"


def test_every_input_is_defined_used_and_reaches_scripts_only_through_env() -> None:
    action = _action()
    text = ACTION.read_text()
    referenced = set(INPUT_REF.findall(" ".join(EXPRESSION.findall(text))))
    assert referenced <= set(action["inputs"]), referenced - set(action["inputs"])
    assert set(action["inputs"]) <= referenced, set(action["inputs"]) - referenced
    for step in action["runs"]["steps"]:
        if "run" in step:
            # an expression in a script is spliced in before the shell parses it
            assert "${{" not in step["run"], f"{step.get('name')}: pass values through env:"
            bash = subprocess.run(["bash", "-n"], input=step["run"], text=True, check=False)
            assert bash.returncode == 0, f"{step.get('name')}: not valid bash"


def _lint_repo(tmp_path: Path, workflow: str) -> subprocess.CompletedProcess[str]:
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    shutil.copy(ACTION, repo / "action.yml")
    (repo / ".github" / "workflows" / "use.yaml").write_text(workflow)
    return subprocess.run(
        [_actionlint(), "-no-color"], cwd=repo, capture_output=True, text=True, check=False
    )


def _workflow_using_action(inputs: dict[str, str]) -> str:
    steps = [
        {"uses": "actions/checkout@v4"},
        {"id": "cm", "uses": "./", "with": inputs},
        {"run": 'echo "exit ${CODE}"', "env": {"CODE": "${{ steps.cm.outputs.exit-code }}"}},
    ]
    job = {"runs-on": "ubuntu-latest", "steps": steps}
    return yaml.safe_dump({"on": "pull_request", "jobs": {"test": job}}, sort_keys=False)


def test_actionlint_accepts_a_workflow_using_every_input(tmp_path: Path) -> None:
    inputs = {name: "x" for name in _action()["inputs"]}
    done = _lint_repo(tmp_path, _workflow_using_action(inputs))
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_reads_this_action_yml(tmp_path: Path) -> None:
    """The check above can fail: an input the action lacks is reported."""
    done = _lint_repo(tmp_path, _workflow_using_action({"chart": "charts/x"}))
    assert done.returncode == 1
    assert 'input "chart" is not defined in action "chartmatrix"' in done.stdout


def _as_reusable_workflow(action: dict[str, Any]) -> str:
    """The action's steps in a workflow_call workflow, where actionlint checks what it does
    not check in action metadata: expressions, contexts, step outputs, and the inputs and
    outputs of the actions it knows (by major tag: ``@v5.6.0`` is looked up as ``@v5``)."""
    inputs = {
        name: {"type": "string", "required": False, "default": str(spec.get("default", ""))}
        for name, spec in action["inputs"].items()
    }
    steps = []
    for step in action["runs"]["steps"]:
        if "uses" in step:
            step = {**step, "uses": re.sub(r"@(v\d+)\.\d+\.\d+$", r"@\1", step["uses"])}
        steps.append(step)
    job = {"runs-on": "ubuntu-latest", "steps": steps}
    workflow = {"on": {"workflow_call": {"inputs": inputs}}, "jobs": {"action": job}}
    return yaml.safe_dump(workflow, sort_keys=False)


def test_the_steps_pass_actionlint_as_a_reusable_workflow(tmp_path: Path) -> None:
    done = _lint_repo(tmp_path, _as_reusable_workflow(_action()))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_reusable_workflow_lint_sees_a_wrong_step_output(tmp_path: Path) -> None:
    """The check above can fail: a misspelt output of setup-python is reported."""
    action = _action()
    install = next(s for s in action["runs"]["steps"] if "PYTHON" in s.get("env", {}))
    install["env"]["PYTHON"] = "${{ steps.python.outputs.pythonpath }}"
    done = _lint_repo(tmp_path, _as_reusable_workflow(action))
    assert done.returncode == 1
    assert 'property "pythonpath" is not defined' in done.stdout


# --- the chartmatrix run step, executed as the runner executes it -----------------------


def _step(name: str) -> dict[str, Any]:
    return next(s for s in _action()["runs"]["steps"] if s.get("id") == name)


def _run_step(workspace: Path, runner_temp: Path, given: dict[str, str]) -> dict[str, str]:
    """Run the ``run`` step's script with bash, its ``env:`` evaluated as the runner does;
    return its outputs (``$GITHUB_OUTPUT``) plus ``stdout``/``stderr``."""
    action = _action()
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs.update(given)

    def evaluate(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression == "runner.temp":
                return str(runner_temp)
            name = expression.removeprefix("inputs.")
            assert name != expression and name in inputs, f"cannot evaluate {expression}"
            return inputs[name]

        return EXPRESSION.sub(one, str(text))

    step = _step("run")
    outputs = runner_temp / "github-output"
    outputs.write_text("")
    env = {k: evaluate(v) for k, v in step["env"].items()}
    env.update(
        PATH=f"{REPO / '.tools' / 'bin'}:/usr/bin:/bin",
        HOME=str(Path.home()),
        GITHUB_OUTPUT=str(outputs),
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_ACTIONS="true",
        CI="true",
    )
    assert step["shell"] == "bash"
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=workspace / evaluate(step["working-directory"]),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return {**found, "stdout": done.stdout, "stderr": done.stderr, "status": str(done.returncode)}


@pytest.fixture
def runner_temp(tmp_path: Path) -> Path:
    """RUNNER_TEMP with chartmatrix where the install step puts it (this checkout's venv:
    the install step itself would fetch chartmatrix's dependencies from PyPI)."""
    temp = tmp_path / "runner-temp"
    (temp / "chartmatrix-venv" / "bin").mkdir(parents=True)
    (temp / "chartmatrix-venv" / "bin" / "chartmatrix").symlink_to(CHARTMATRIX)
    return temp


@pytest.fixture
def workspace(demo_chart: Path, tmp_path: Path) -> Path:
    """A checkout whose chart renders a Service with an invalid port."""
    root = tmp_path / "workspace"
    (root / "charts").mkdir(parents=True)
    demo_chart.rename(root / "charts" / "demo")
    write_tree(root, {"charts/demo/templates/broken.yaml": BROKEN_SERVICE})
    return root


def test_the_run_step_reports_uploads_and_annotates(workspace: Path, runner_temp: Path) -> None:
    given = {"charts": "charts/demo\n", "kube-versions": "1.33", "args": "--jobs 1"}
    out = _run_step(workspace, runner_temp, given)
    assert out["status"] == "1" and out["exit-code"] == "1", out["stderr"]
    for report in ("junit", "html", "json"):
        assert Path(out[report]).is_absolute() and Path(out[report]).is_file(), report
        assert Path(out[report]).parent == workspace
    assert "<failure" in Path(out["junit"]).read_text()
    line = next(n for n, text in enumerate(BROKEN_SERVICE.splitlines(), 1) if "port:" in text)
    expected = f"::error file=charts/demo/templates/broken.yaml,line={line},"
    assert any(c.startswith(expected) for c in out["stdout"].splitlines()), out["stdout"]
    assert "[k8s 1.33]" in out["stdout"]


def test_the_run_step_passes_a_good_chart_and_honours_switches(
    workspace: Path, runner_temp: Path
) -> None:
    (workspace / "charts" / "demo" / "templates" / "broken.yaml").unlink()
    given = {"charts": "charts/demo", "annotate": "false", "junit": "", "html": ""}
    out = _run_step(workspace, runner_temp, given)
    assert out["status"] == "0" and out["exit-code"] == "0", out["stderr"]
    assert (out["junit"], out["html"]) == ("", "")
    assert Path(out["json"]).is_file()
    assert "::warning" not in out["stdout"]
    strict = _run_step(
        workspace, runner_temp, {"charts": "charts/demo", "fail-on-warnings": "true"}
    )
    assert strict["exit-code"] == "1"  # helm create's chart has warnings: --strict fails it


def test_inputs_are_words_never_shell_code(workspace: Path, runner_temp: Path) -> None:
    hostile = "$(touch pwned-subst) `touch pwned-tick` ; touch pwned-semicolon *"
    out = _run_step(workspace, runner_temp, {"charts": hostile, "args": "--jobs 1"})
    assert out["exit-code"] == "2"  # the first word is taken as a chart path
    assert "chartmatrix: $(touch: chart not found" in out["stderr"]
    assert not list(workspace.glob("pwned*")) and not list(Path.cwd().glob("pwned*"))
