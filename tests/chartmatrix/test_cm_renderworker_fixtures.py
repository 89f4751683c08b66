"""The render worker against ``helm template`` on fixture charts that exercise what
Helm's template command does beyond plain templates: hooks and their order, ``lookup``,
``.Files``, subcharts (condition, tags, alias, import-values, an archived subchart), CRDs,
``tpl``, ``required``/``fail`` messages, values schema errors, ``--set`` flags, log lines
printed beside an error, and the chart cache (same worker, other values; changed files)."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from chartmatrix.render import RenderRequest
from cm_charts import write_tree
from renderworker_support import HELMS, mismatches, render_both, renderers

SUB = {
    "Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
    "values.yaml": "enabled: true\nmessage: hi\nexported: {a: 1, nested: {b: 2}}\n",
    "crds/sub-crd.yaml": """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: subthings.example.com}
spec:
  group: example.com
  names: {kind: SubThing, plural: subthings}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
""",
    "templates/_helpers.tpl": '{{- define "sub.name" -}}{{ .Chart.Name }}-{{ .Release.Name }}'
    "{{- end -}}\n",
    # a subchart's own schema, checked against the values under its name (or alias)
    "values.schema.json": '{"properties": {"message": {"type": "string", "maxLength": 10}}}\n',
    "templates/cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "sub.name" . }}
data:
  message: {{ .Values.message | quote }}
  global: {{ .Values.global.env | default "none" | quote }}
  chart: {{ .Chart.Name }}
""",
}

PACKED = {
    "Chart.yaml": "apiVersion: v2\nname: packed\nversion: 0.2.0\n",
    "values.yaml": "exports:\n  data: {packedKey: packedValue}\nreplicas: 2\n",
    "templates/svc.yaml": """\
apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}-packed}
spec:
  ports: [{port: 80}]
""",
}

KITCHEN = {
    "Chart.yaml": """\
apiVersion: v2
name: kitchen
version: 1.2.3
appVersion: "9.9"
kubeVersion: ">=1.20.0-0"
dependencies:
  - name: sub
    version: 0.1.0
    alias: first
    condition: first.enabled
    import-values:
      - child: exported
        parent: fromFirst
  - name: sub
    version: 0.1.0
    alias: second
    condition: second.enabled
    tags: [extras]
  - name: packed
    version: 0.2.0
    import-values: [data]
""",
    "values.yaml": """\
first: {enabled: true}
second: {enabled: false}
tags: {extras: false}
global: {env: test}
name: kitchen
tplText: "{{ .Release.Name }}-{{ .Values.name }}"
mustHave: present
failWith: ""
brokenYaml: false
replicas: 1
table: {a: 1, b: {c: 2}}
numbers: {}
""",
    "values.schema.json": """\
{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "replicas": {"type": "integer", "minimum": 0},
    "name": {"type": "string", "maxLength": 20}
  }
}
""",
    "crds/crd.yaml": """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec:
  group: example.com
  names: {kind: Thing, plural: things}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
""",
    "files/a.conf": "a=1\n",
    "files/b.conf": "b=2\n",
    "files/lines.txt": "one\ntwo\nthree\n",
    "templates/NOTES.txt": "Installed {{ .Release.Name }}: notes are not printed by template\n",
    "templates/_helpers.tpl": """\
{{- define "kitchen.fullname" -}}
{{ .Release.Name }}-{{ .Chart.Name }}
{{- end -}}
""",
    "templates/all.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "kitchen.fullname" . }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: kitchen}}
  template:
    metadata: {labels: {app: kitchen}}
    spec:
      containers: [{name: app, image: "busybox:{{ .Chart.AppVersion }}"}]
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "kitchen.fullname" . }}
spec:
  ports: [{port: 80}]
---
# an empty document is dropped
---
apiVersion: v1
kind: Namespace
metadata: {name: {{ .Release.Namespace }}-extra}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: {{ include "kitchen.fullname" . }}}
""",
    "templates/files.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata: {name: files}
data:
{{ (.Files.Glob "files/*.conf").AsConfig | indent 2 }}
  got: {{ .Files.Get "files/a.conf" | quote }}
  missing: {{ .Files.Get "files/none" | quote }}
  lines: {{ .Files.Lines "files/lines.txt" | join "," | quote }}
---
apiVersion: v1
kind: Secret
metadata: {name: files}
data:
{{ (.Files.Glob "files/*.conf").AsSecrets | indent 2 }}
""",
    "templates/values.yaml": """\
{{- $secret := lookup "v1" "Secret" .Release.Namespace "existing" }}
apiVersion: v1
kind: ConfigMap
metadata: {name: values}
data:
  lookup: {{ if $secret }}found{{ else }}none{{ end }}
  lookupType: {{ kindOf $secret | quote }}
  tpl: {{ tpl .Values.tplText . | quote }}
  required: {{ required "mustHave is required: set it" .Values.mustHave | quote }}
  imported: {{ toJson .Values.fromFirst | quote }}
  packed: {{ .Values.packedKey | default "none" | quote }}
  table: {{ toJson .Values.table | quote }}
  numbers: {{ toJson .Values.numbers | quote }}
  set: {{ toJson (omit .Values "tplText") | sha256sum | quote }}
  {{- if .Values.failWith }}
  {{- fail (printf "kitchen: failWith says %s" .Values.failWith) }}
  {{- end }}
""",
    "templates/caps.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata: {name: caps}
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  kubeMinor: {{ .Capabilities.KubeVersion.Minor | quote }}
  exampleApi: {{ .Capabilities.APIVersions.Has "example.com/v1" | quote }}
  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" | quote }}
  apps: {{ .Capabilities.APIVersions.Has "apps/v1" | quote }}
  helm: {{ .Capabilities.HelmVersion.Version | quote }}
  install: {{ .Release.IsInstall | quote }}
  upgrade: {{ .Release.IsUpgrade | quote }}
  revision: {{ .Release.Revision | quote }}
  service: {{ .Release.Service | quote }}
  template: {{ .Template.Name | quote }}
  base: {{ .Template.BasePath | quote }}
""",
    "templates/hooks.yaml": """\
apiVersion: batch/v1
kind: Job
metadata:
  name: pre
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "5"
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: pre, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: post
  annotations:
    helm.sh/hook: post-install
    helm.sh/hook-weight: "-1"
    helm.sh/hook-delete-policy: before-hook-creation
---
apiVersion: v1
kind: ConfigMap
metadata: {name: plain-beside-hooks}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: odd
  annotations: {helm.sh/hook: not-a-hook}
""",
    "templates/tests/test-pod.yaml": """\
apiVersion: v1
kind: Pod
metadata:
  name: "{{ .Release.Name }}-test"
  annotations: {helm.sh/hook: test}
spec:
  restartPolicy: Never
  containers: [{name: t, image: busybox}]
""",
    "templates/empty.yaml": "{{/* renders nothing */}}\n",
    "templates/broken.yaml": """\
{{- if .Values.brokenYaml }}
apiVersion: v1
kind: ConfigMap
metadata: {name: broken
data: [
{{- end }}
""",
}

OLDIE = {  # apiVersion v1 with requirements.yaml: loading prints warnings; deprecated
    "Chart.yaml": "apiVersion: v1\nname: oldie\nversion: 0.0.1\ndeprecated: true\n",
    "requirements.yaml": "dependencies:\n  - name: sub\n    version: 0.1.0\n",
    "values.yaml": "boom: false\ntable: {a: 1}\n",
    "templates/cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata: {name: oldie}
data: {a: {{ .Values.table.a | quote }}}
{{- if .Values.boom }}{{ fail "oldie: boom" }}{{ end }}
""",
}

LIBRARY = {
    "Chart.yaml": "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n",
    "templates/_x.tpl": '{{- define "lib.x" -}}x{{- end -}}\n',
}

MISSING_DEP = {
    "Chart.yaml": "apiVersion: v2\nname: lonely\nversion: 0.1.0\n"
    "dependencies: [{name: absent, version: 1.0.0, repository: 'file://../absent'}]\n",
    "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lonely}\n",
}


def _package(helm: str, chart: Path, into: Path) -> Path:
    subprocess.run(
        [helm, "package", str(chart), "--destination", str(into)],
        check=True,
        capture_output=True,
    )
    return next(into.glob(f"{chart.name}-*.tgz"))


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from chartmatrix.render import find_helm

    base = tmp_path_factory.mktemp("worker-fixtures")
    kitchen = write_tree(base / "kitchen", KITCHEN)
    write_tree(kitchen / "charts" / "sub", SUB)
    packed = write_tree(base / "src" / "packed", PACKED)
    _package(find_helm(), packed, kitchen / "charts")
    oldie = write_tree(base / "oldie", OLDIE)
    write_tree(oldie / "charts" / "sub", SUB)
    archive = _package(find_helm(), kitchen, base / "archives")
    with tarfile.open(archive) as tar:  # the archive holds the subcharts as helm packs them
        assert any(m.name.startswith("kitchen/charts/") for m in tar.getmembers())
    # a schema that loads another file: Helm reads it on every render
    defs = base / "schema-defs.json"
    defs.write_text('{"properties": {"replicas": {"type": "integer", "minimum": 1}}}\n')
    by_reference = write_tree(
        base / "byref",
        {
            "Chart.yaml": "apiVersion: v2\nname: byref\nversion: 0.1.0\n",
            "values.yaml": "replicas: 1\n",
            "values.schema.json": f'{{"$ref": "{defs.as_uri()}"}}\n',
            "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r}\n"
            "data: {replicas: {{ .Values.replicas | quote }}}\n",
        },
    )
    return {
        "byref": by_reference,
        "kitchen": kitchen,
        "archive": archive,
        "oldie": oldie,
        "library": write_tree(base / "lib", LIBRARY),
        "lonely": write_tree(base / "lonely", MISSING_DEP),
    }


def _requests(charts: dict[str, Path], tmp: Path) -> list[tuple[str, RenderRequest]]:
    kitchen = charts["kitchen"]
    extra = tmp / "extra-values.yaml"
    extra.write_text("name: from-file\ntable: {b: {d: 4}}\n", encoding="utf-8")
    setfile = tmp / "set-file.txt"
    setfile.write_text("file content\n", encoding="utf-8")

    def req(values: dict | None = None, **kw: object) -> RenderRequest:
        return RenderRequest(chart_dir=kitchen, values=values or {}, **kw)  # type: ignore[arg-type]

    return [
        ("defaults", req()),
        ("no --include-crds", req(include_crds=False)),
        ("second by condition", req({"second": {"enabled": True}})),
        ("second by tag", req({"tags": {"extras": True}})),
        ("first off: no import", req({"first": {"enabled": False}})),
        ("defaults again (same worker)", req()),
        ("both aliases on", req({"second": {"enabled": True}, "first": {"message": "x"}})),
        (
            "capabilities",
            req(
                kube_version="1.29.3",
                api_versions=("example.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"),
            ),
        ),
        ("kube version with suffix", req(kube_version="v1.31.2-gke.100")),
        ("kube version below kubeVersion", req(kube_version="1.19")),
        ("kube version invalid", req(kube_version="one.two")),
        ("required", req({"mustHave": None})),
        ("required empty", req({"mustHave": ""})),
        ("fail", req({"failWith": "boom"})),
        ("schema", req({"replicas": -1, "name": "x" * 30})),
        ("schema of a subchart", req({"first": {"message": "far too long a message"}})),
        ("schema by reference", RenderRequest(charts["byref"], {"replicas": 2})),
        ("schema by reference fails", RenderRequest(charts["byref"], {"replicas": 0})),
        (
            "schema skipped",
            req({"replicas": -1}, helm_args=("--skip-schema-validation",)),
        ),
        (
            "--set flags",
            req(
                {"replicas": 2},
                helm_args=(
                    "--set",
                    "replicas=3,table.b.c=null",
                    "--set-string",
                    "name=007",
                    "--set-json",
                    'numbers={"list":[1,2.5,"x"]}',
                    "--set",
                    "numbers.big=12345678901234567890",
                    "--set-literal",
                    "tplText={{ .Release.Name }},x",
                ),
            ),
        ),
        ("--set parse error", req(helm_args=("--set", "a[=1"))),
        (
            "--values and --set-file",
            req(helm_args=("--values", str(extra), "--set-file", f"fileval={setfile}")),
        ),
        ("tpl", req({"tplText": "{{ .Values.name | upper }} {{ .Chart.Name }}"})),
        ("tpl error", req({"tplText": "{{ .Values.name | nosuchfunc }}"})),
        ("broken YAML", req({"brokenYaml": True})),
        ("table over scalar, then fail", req({"table": "scalar", "failWith": "late"})),
        ("numbers", req({"numbers": {"i": 10, "f": 1.5e3, "neg": -0.0, "big": 2**63 + 1}})),
        ("release and namespace", req(release="other-rel", namespace="elsewhere")),
        ("bad release name", req(release="Bad_Name")),
        ("upgrade", req(helm_args=("--is-upgrade",))),
        ("no hooks", req(helm_args=("--no-hooks",))),
        ("skip tests", req(helm_args=("--skip-tests",))),
        ("show-only (helm renders it)", req(helm_args=("--show-only", "templates/all.yaml"))),
        ("archive", RenderRequest(charts["archive"], {"second": {"enabled": True}})),
        ("relative path", RenderRequest(Path(os.path.relpath(kitchen)), {"replicas": 4})),
        ("deprecated v1 chart", RenderRequest(charts["oldie"], {})),
        ("deprecated v1 chart fails", RenderRequest(charts["oldie"], {"boom": True})),
        (
            "deprecated v1 chart fails again",
            RenderRequest(charts["oldie"], {"boom": True, "table": "x"}),
        ),
        ("library chart", RenderRequest(charts["library"], {})),
        ("missing dependency", RenderRequest(charts["lonely"], {})),
        ("chart not found", RenderRequest(tmp / "nowhere", {})),
    ]


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("helm", HELMS)
def test_worker_renders_fixture_charts_like_helm_template(
    helm: str,
    jobs: int,
    charts: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path.parent)  # "relative path" is relative to the cwd
    reference, worker = renderers(helm, jobs)
    labelled = _requests(charts, tmp_path)
    labels = [label for label, _ in labelled]
    requests = [request for _, request in labelled]
    expected, actual = render_both(reference, worker, requests)
    # (helm lists values schema errors in random order: the worker's order is one of them)
    problems = mismatches(requests, expected, actual, labels, reference)
    assert not problems, "\n".join(problems)
    by_label = dict(zip(labels, expected, strict=True))
    # the fixture does exercise what it names
    assert by_label["defaults"].ok and "kind: CustomResourceDefinition" in by_label["defaults"].text
    crd = "name: subthings.example.com"  # once per enabled alias of sub
    assert by_label["defaults"].text.count(crd) == 1
    assert by_label["second by condition"].text.count(crd) == 2
    assert not by_label["fail"].ok and "failWith says boom" in by_label["fail"].error
    assert not by_label["required"].ok and "mustHave is required" in by_label["required"].error
    assert not by_label["schema"].ok and by_label["schema skipped"].ok
    assert not by_label["schema of a subchart"].ok
    assert by_label["schema by reference"].ok and not by_label["schema by reference fails"].ok
    assert not by_label["broken YAML"].ok and not by_label["library chart"].ok
    assert "packedValue" in by_label["defaults"].text and "NOTES" not in by_label["defaults"].text
    # only what the worker does not handle went to helm
    assert worker.fallbacks == 1


@pytest.mark.parametrize("helm", HELMS)
def test_worker_sees_a_chart_that_changed(helm: str, tmp_path: Path) -> None:
    reference, worker = renderers(helm, 1)
    chart = write_tree(tmp_path / "kitchen", KITCHEN)
    write_tree(chart / "charts" / "sub", SUB)
    write_tree(chart / "charts" / "packed", PACKED)
    request = RenderRequest(chart, {})
    try:
        before = worker.render(request)
        template = chart / "templates" / "caps.yaml"
        template.write_text(template.read_text() + "  added: line\n", encoding="utf-8")
        sub_values = chart / "charts" / "sub" / "values.yaml"
        sub_values.write_text(sub_values.read_text().replace("hi", "changed"), encoding="utf-8")
        after = worker.render(request)
        want = reference.render(request)
    finally:
        worker.close()
    assert before.ok and after.ok
    assert "added: line" in after.text and "added: line" not in before.text
    assert '"changed"' in after.text
    assert (after.text, after.error) == (want.text, want.error)


DEFINES = {
    "Chart.yaml": "apiVersion: v2\nname: defines\nversion: 0.1.0\n",
    "values.yaml": 'text: \'{{ define "fromTpl" }}t{{ end }}{{ include "fromTpl" . }}\'\n'
    "leak: false\n",
    "templates/_a.tpl": '{{- define "who" -}}a{{- end -}}\n',
    "templates/_b.tpl": '{{- define "who" -}}b{{- end -}}{{- define "kept" -}}full{{- end -}}\n',
    "templates/deeper/_c.tpl": '{{- define "who" -}}c{{- end -}}\n',
    # an empty body does not replace a template defined before it
    "templates/_d.tpl": '{{- define "kept" -}}{{/* nothing */}}{{- end -}}\n',
    "templates/cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata: {name: defines}
data:
  who: {{ include "who" . | quote }}
  kept: {{ include "kept" . | quote }}
  tpl: {{ tpl .Values.text . | quote }}
""",
    # a template defined inside tpl text stays in that tpl call's copy of the set
    "templates/zz.yaml": '{{- if .Values.leak }}{{ include "fromTpl" . }}{{- end }}\n',
}


@pytest.mark.parametrize("helm", HELMS)
def test_worker_reuses_parse_trees_like_a_fresh_parse(helm: str, tmp_path: Path) -> None:
    """The worker keeps each chart's parse trees between renders: redefinitions, empty
    bodies and templates defined by tpl behave as in a fresh parse, render after render."""
    reference, worker = renderers(helm, 1)
    chart = write_tree(tmp_path / "defines", DEFINES)
    requests = [
        RenderRequest(chart, {}),
        RenderRequest(chart, {}),  # the same files: the kept trees
        RenderRequest(chart, {"leak": True}),  # fails: fromTpl is not in the chart's set
        RenderRequest(chart, {}),
    ]
    labels = ["first", "again", "leak", "after the failure"]
    expected, actual = render_both(reference, worker, requests)
    problems = mismatches(requests, expected, actual, labels, reference)
    assert not problems, "\n".join(problems)
    assert expected[0].ok and 'kept: "full"' in expected[0].text
    assert 'tpl: "t"' in expected[0].text
    assert not expected[2].ok and "fromTpl" in expected[2].error
    assert expected[3].text == expected[0].text


@pytest.mark.parametrize("helm", HELMS)
def test_worker_reuses_manifest_heads_like_a_fresh_parse(
    helm: str, charts: dict[str, Path]
) -> None:
    """The worker keeps what each manifest text parsed to (Helm's sorter parses every
    manifest to order it and find its hooks): the same text again gives the same hooks,
    weights, policies and order, and a broken manifest the same error, every time."""
    reference, worker = renderers(helm, 1)
    kitchen = charts["kitchen"]
    requests = [
        RenderRequest(kitchen, {}),
        RenderRequest(kitchen, {}),  # every manifest text seen before
        RenderRequest(kitchen, {"brokenYaml": True}),
        RenderRequest(kitchen, {"brokenYaml": True}),  # the same error, remembered
        RenderRequest(kitchen, {"replicas": 2}),  # some texts new, hooks the same
        RenderRequest(kitchen, {}),
    ]
    labels = ["first", "again", "broken", "broken again", "other values", "after"]
    expected, actual = render_both(reference, worker, requests)
    problems = mismatches(requests, expected, actual, labels, reference)
    assert not problems, "\n".join(problems)
    assert expected[0].ok and "helm.sh/hook-weight" in expected[0].text
    assert not expected[3].ok and "YAML parse error" in expected[3].error
    assert expected[5].text == expected[0].text
