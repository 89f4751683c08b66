"""destate.config.*: ConfigMap/Secret from values, the three mount styles, the writable
overlay, checksums that follow the documented canonical form, stable passwords."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
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
                    "app.conf": {"content": "name = {{ .Release.Name }}\n", "tpl": True},
                    "rules.xml": "<rule a=\"1\" & b='é'/>\n",
                }
            }
        }
    )


def pod_annotations(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["annotations"]


def test_configmap_files_rendered_with_tpl_when_the_entry_opts_in(out: Render) -> None:
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


def test_offline_placeholder_only_with_the_loud_opt_in(render: RenderFn, out: Render) -> None:
    # the tests opt in (conftest.OFFLINE_TEST_VALUES): stable, and as predictable as named
    again = render(
        {"config": {"files": {"app.conf": "x\n"}}},
        extra=["--show-only", "templates/statefulset.yaml"],
    )
    placeholder = out.get("Secret", FULL)["data"]["admin-password"]
    assert again.get("Secret", FULL)["data"]["admin-password"] == placeholder
    derived = hashlib.sha256(f"destate/ns/t/{FULL}/admin-password".encode()).hexdigest()[:24]
    assert base64.b64decode(placeholder).decode() == derived


@pytest.mark.parametrize("opt_in", [False, None, "yes"], ids=["false", "null", "not-a-bool"])
def test_offline_render_that_would_generate_a_password_fails_closed(
    render_error: Callable[..., str], opt_in: object
) -> None:
    values = {"global": {"destate": {"insecurePredictablePasswords": opt_in}}}
    message = render_error(values, schema=True)
    assert "destate: config.secrets.admin-password must be set, or config.existingSecret " in (
        message
    )
    for way_out in ("External Secrets Operator", "global.destate.insecurePredictablePasswords"):
        assert way_out in message
    assert "Argo CD" in message and "helm template" in message


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
    # the mount path reaches the script as env, used as "$CONFIG_DEST", never as text
    assert 'cp -L "$f" "$CONFIG_DEST/"' in init["command"][2]
    assert "/etc/app" not in init["command"][2]
    assert init["env"] == [{"name": "CONFIG_DEST", "value": "/etc/app"}]


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


def test_immutable_config_is_named_by_its_content(
    render: RenderFn, render_error: Callable[..., str]
) -> None:
    # an immutable object cannot change: a new content is a new object, and the pods follow
    given = {"admin-password": "given-Passw0rd"}

    def names(files: dict[str, str]) -> tuple[str, str]:
        config = {"immutable": True, "secrets": given, "files": files, "secretMountPath": "/s"}
        values = {"config": config}
        out = render(values, extra=["--show-only", "templates/statefulset.yaml"])
        (cm,) = [m for m in out.all("ConfigMap") if m["metadata"]["name"].startswith(f"{FULL}-")]
        (secret,) = out.all("Secret")
        assert cm["immutable"] is True and secret["immutable"] is True
        pod = pod_spec(out.get("StatefulSet", FULL))
        assert volume(pod, "config")["configMap"]["name"] == cm["metadata"]["name"]
        assert volume(pod, "secret")["secret"]["secretName"] == secret["metadata"]["name"]
        return cm["metadata"]["name"], secret["metadata"]["name"]

    first = names({"a.conf": "x = 1\n"})
    second = names({"a.conf": "x = 2\n"})
    assert first[0] != second[0] and first[1] == second[1]
    assert first[0].startswith(f"{FULL}-") and len(first[0]) == len(FULL) + 11
    # a generated password is read back from the Secret of one name: not immutable
    err = render_error({"config": {"immutable": True}})
    assert "destate: config.immutable must be false while config.secrets.admin-password is " in err


def test_helpers_agree_with_resources(out: Render) -> None:
    helpers = out.get("ConfigMap", "libtest-helpers")["data"]
    assert json.loads(helpers["config-data"]) == out.get("ConfigMap", FULL)["data"]
    sts = out.get("StatefulSet", FULL)
    checks = yaml.safe_load(helpers["config-checksums"])
    assert checks["checksum/config"] == pod_annotations(sts)["checksum/config"]
    assert helpers["config-has"] == "true"
    assert helpers["configmap-name"] == helpers["secret-name"] == FULL


LOOKUP = '{{ (lookup "v1" "Secret" "ns" "t-libtest-session-store").data }}'
INCLUDE = '{{ include "destate.names.fullname" (dict "ctx" $) }}'


def test_config_entries_are_literal_unless_they_opt_in_to_tpl(render: RenderFn) -> None:
    """Whoever writes values must not run lookup/include with the installer's rights by
    accident: strings are data; only {content: ..., tpl: true} is a template."""
    out = render(
        {
            "config": {
                "files": {"app.conf": LOOKUP, "name.conf": INCLUDE},
                "secrets": {"api-token": LOOKUP},
            }
        }
    )
    assert out.get("ConfigMap", FULL)["data"] == {"app.conf": LOOKUP, "name.conf": INCLUDE}
    token = out.get("Secret", FULL)["data"]["api-token"]
    assert base64.b64decode(token).decode() == LOOKUP
    opted = render(
        {
            "config": {
                "files": {"name.conf": {"content": INCLUDE, "tpl": True}},
                "secrets": {"api-token": {"content": INCLUDE, "tpl": True}},
            }
        }
    )
    assert opted.get("ConfigMap", FULL)["data"]["name.conf"] == FULL
    assert base64.b64decode(opted.get("Secret", FULL)["data"]["api-token"]).decode() == FULL
    off = render({"config": {"files": {"name.conf": {"content": INCLUDE, "tpl": False}}}})
    assert off.get("ConfigMap", FULL)["data"]["name.conf"] == INCLUDE
