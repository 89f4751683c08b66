"""The committed wrapper modules match the versions pinned in tools/versions.env."""

from __future__ import annotations

import re
from pathlib import Path

from chartmatrix.project import find_root

ROOT = find_root(Path(__file__).parent)


def _pins() -> dict[str, str]:
    text = (ROOT / "tools" / "versions.env").read_text()
    return dict(re.findall(r"^([A-Z0-9_]+)=(\S+)", text, re.MULTILINE))


def _gomod(name: str) -> str:
    return (ROOT / "tools" / "cluster" / name / "go.mod").read_text()


def test_kubernetes_wrapper_replaces_every_staging_module_with_its_release() -> None:
    version = _pins()["KUBERNETES_VERSION"]
    staging = "v0." + version.removeprefix("v1.")
    mod = _gomod("kubernetes")
    assert re.search(
        rf"^(require )?\s*k8s\.io/kubernetes {re.escape(version)}( // indirect)?$", mod, re.M
    )
    replaces = dict(re.findall(r"^\s+(k8s\.io/[a-z0-9-]+) => \1 (v\S+)$", mod, re.MULTILINE))
    assert len(replaces) >= 30  # api, apimachinery, client-go, ... kubectl, kubelet
    assert {m for m, v in replaces.items() if v != staging} == set()
    for module in ("k8s.io/api", "k8s.io/client-go", "k8s.io/component-base", "k8s.io/kubectl"):
        assert module in replaces
    tools = re.findall(r"^\s+(k8s\.io/kubernetes/cmd/\S+)$", mod, re.MULTILINE)
    assert sorted(t.rsplit("/", 1)[1] for t in tools) == [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-proxy",
        "kube-scheduler",
        "kubectl",
        "kubelet",
    ]
    assert (ROOT / "tools" / "cluster" / "kubernetes" / "go.sum").stat().st_size > 0


def test_etcd_wrapper_pins_server_and_siblings_to_one_release() -> None:
    version = _pins()["ETCD_VERSION"]
    mod = _gomod("etcd")
    assert re.search(
        rf"^(require )?\s*go\.etcd\.io/etcd/server/v3 {re.escape(version)}$", mod, re.M
    )
    replaces = re.findall(r"^\s+(go\.etcd\.io/etcd/\S+) => \1 (v\S+)$", mod, re.MULTILINE)
    assert sorted(m for m, _ in replaces) == [
        "go.etcd.io/etcd/api/v3",
        "go.etcd.io/etcd/client/pkg/v3",
        "go.etcd.io/etcd/client/v3",
        "go.etcd.io/etcd/pkg/v3",
    ]
    assert {v for _, v in replaces} == {version}
    assert (ROOT / "tools" / "cluster" / "etcd" / "go.sum").stat().st_size > 0


def test_coredns_wrapper_requires_the_pinned_release_and_forwards_nothing() -> None:
    mod = _gomod("coredns")
    version = _pins()["COREDNS_VERSION"]
    assert re.search(rf"^require github\.com/coredns/coredns {re.escape(version)}$", mod, re.M)
    main = (ROOT / "tools" / "cluster" / "coredns" / "main.go").read_text()
    plugins = re.findall(r'"github\.com/coredns/coredns/plugin/([a-z0-9]+)"', main)
    assert "kubernetes" in plugins
    # nothing leaves the machine: no plugin that sends queries elsewhere is built in
    assert not {"forward", "grpc", "etcd", "route53", "clouddns"} & set(plugins)
    assert (ROOT / "tools" / "cluster" / "coredns" / "go.sum").stat().st_size > 0
