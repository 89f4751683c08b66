"""destate.config.*: ConfigMap/Secret from values, the three mount styles, the writable
overlay, checksums that follow the documented canonical form, stable passwords."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml
from conftest import Render, RenderFn
from destate_libtest import container, go_json_sha256, pod_spec, volume

FULL = "t-libtest"


@pytest.fixture(scope="module")
def out(render: RenderFn) -> Render:
    return render(
        {
            "config": {
                "files": {
                    "app.conf": "name = {{ .Release.Name }}\n",
                    "rules.xml": "<rule a=\"1\" & b='é'/>\n",
                }
            }
        }
    )


def pod_annotations(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["annotations"]


def test_configmap_files_rendered_with_tpl(out: Render) -> None:
    cm = out.get("ConfigMap", FULL)
    assert cm["data"] == {"app.conf": "name = t\n", "rules.xml": "<rule a=\"1\" & b='é'/>\n"}
    assert "immutable" not in cm


def test_checksums_follow_the_canonical_form(out: Render) -> None:
    sts = out.get("StatefulSet", FULL)
    ann = pod_annotations(sts)
    assert ann["checksum/config"] == go_json_sha256(out.get("ConfigMap", FULL)["data"])
    assert ann["checksum/secret"] == go_json_sha256(out.get("Secret", FULL)["data"])


def test_checksum_changes_with_config(render: RenderFn, out: Render) -> None:
    other = render(
        {"config": {"files": {"app.conf": "name = other\n"}}},
        extra=["--show-only", "templates/statefulset.yaml"],
    )
    before = pod_annotations(out.get("StatefulSet", FULL))["checksum/config"]
    after = pod_annotations(other.get("StatefulSet", FULL))["checksum/config"]
    assert before != after


def test_whole_directory_mount_by_default(out: Render) -> None:
    pod = pod_spec(out.get("StatefulSet", FULL))
    app = container(pod, "app")
    assert {"name": "config", "mountPath": "/etc/app", "readOnly": True} in app["volumeMounts"]
    assert not any("subPath" in m for m in app["volumeMounts"])
    assert volume(pod, "config") == {"name": "config", "configMap": {"name": FULL}}


def test_secret_generated_and_static_values(out: Render) -> None:
    secret = out.get("Secret", FULL)
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["api-token"] == "static-token"
    assert len(data["admin-password"]) == 24
    # generated password: kept on uninstall, stable in offline renders
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    helpers = out.get("ConfigMap", "libtest-helpers")["data"]
    assert json.loads(helpers["secret-data"]) == secret["data"]


def test_generated_password_is_stable_offline_and_random_when_asked(
    render: RenderFn, out: Render
) -> None:
    again = render(
        {"config": {"files": {"app.conf": "x\n"}}},
        extra=["--show-only", "templates/statefulset.yaml"],
    )
    assert (
        again.get("Secret", FULL)["data"]["admin-password"]
        == (out.get("Secret", FULL)["data"]["admin-password"])
    )
    randoms = [
        render(
            {"config": {"randomPasswords": True}},
            extra=["--show-only", "templates/statefulset.yaml"],
        )
        for _ in range(2)
    ]
    first, second = (r.get("Secret", FULL) for r in randoms)
    assert first["data"]["admin-password"] != second["data"]["admin-password"]
    # the checksum is computed from the very value in the Secret
    for r, secret in zip(randoms, (first, second), strict=True):
        assert pod_annotations(r.get("StatefulSet", FULL))["checksum/secret"] == (
            go_json_sha256(secret["data"])
        )


def test_subpath_mounts_one_file_each(render: RenderFn) -> None:
    out = render(
        {"config": {"subPath": True, "files": {"app.conf": None, "a.conf": "a", "b.conf": "b"}}}
    )
    app = container(pod_spec(out.get("StatefulSet", FULL)), "app")
    mounts = [m for m in app["volumeMounts"] if m["name"] == "config"]
    assert mounts == [
        {"name": "config", "mountPath": "/etc/app/a.conf", "subPath": "a.conf", "readOnly": True},
        {"name": "config", "mountPath": "/etc/app/b.conf", "subPath": "b.conf", "readOnly": True},
    ]


def test_writable_overlay_copies_into_emptydir(render: RenderFn) -> None:
    out = render({"config": {"writable": True}})
    pod = pod_spec(out.get("StatefulSet", FULL))
    app = container(pod, "app")
    assert {"name": "config-rw", "mountPath": "/etc/app"} in app["volumeMounts"]
    assert all(m["name"] != "config" for m in app["volumeMounts"])
    assert volume(pod, "config-rw") == {"name": "config-rw", "emptyDir": {}}
    (init,) = pod["initContainers"]
    assert init["name"] == "config-copy"
    assert init["image"] == app["image"]
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    assert mounts == {"config": "/destate/config-src", "config-rw": "/etc/app"}
    assert "/destate/config-src/*" in init["command"][2]
    assert '"/etc/app"/' in init["command"][2]


def test_existing_objects_and_immutable(render: RenderFn) -> None:
    out = render(
        {
            "config": {
                "files": None,
                "secrets": None,
                "existingConfigMap": "site-config",
                "existingSecret": "site-secret",
                "secretMountPath": "/etc/secret",
            }
        }
    )
    assert FULL not in out.names("Secret")
    assert FULL not in out.names("ConfigMap")
    sts = out.get("StatefulSet", FULL)
    pod = pod_spec(sts)
    assert volume(pod, "config")["configMap"]["name"] == "site-config"
    assert volume(pod, "secret")["secret"]["secretName"] == "site-secret"
    app = container(pod, "app")
    assert {"name": "secret", "mountPath": "/etc/secret", "readOnly": True} in app["volumeMounts"]
    ann = pod_annotations(sts)
    assert "checksum/config" not in ann and "checksum/secret" not in ann
    immutable = render(
        {"config": {"immutable": True}}, extra=["--show-only", "templates/statefulset.yaml"]
    )
    assert immutable.get("ConfigMap", FULL)["immutable"] is True
    assert immutable.get("Secret", FULL)["immutable"] is True


def test_helpers_agree_with_resources(out: Render) -> None:
    helpers = out.get("ConfigMap", "libtest-helpers")["data"]
    assert json.loads(helpers["config-data"]) == out.get("ConfigMap", FULL)["data"]
    sts = out.get("StatefulSet", FULL)
    checks = yaml.safe_load(helpers["config-checksums"])
    assert checks["checksum/config"] == pod_annotations(sts)["checksum/config"]
    assert helpers["config-has"] == "true"
    assert helpers["configmap-name"] == helpers["secret-name"] == FULL
