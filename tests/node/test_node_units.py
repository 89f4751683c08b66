"""The real node's generated files and image archives, checked without root or a node."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import shlex
import tarfile
import tomllib
from pathlib import Path

import pytest
from chartmatrix.cluster import cni, containerd, coredns, kubelet, netfilter, nodeconf
from chartmatrix.cluster.cli import main as cluster_main
from chartmatrix.cluster.layout import Layout
from chartmatrix.cluster.nodeconf import NODE_IP, POD_SUBNET, NodePaths
from chartmatrix.cluster.ociimage import NAME_ANNOTATION, archive_refs, build_image
from chartmatrix.cluster.provisioner import BASE_PATH, volume_for
from chartmatrix.errors import ChartmatrixError

SERVICE_CIDR = "10.96.0.0/16"


def _tool(tmp_path: Path, text: bytes = b"#!/bin/sh\nsleep 1\n") -> Path:
    tool = tmp_path / "tool"
    tool.write_bytes(text)
    tool.chmod(0o755)
    return tool


def test_image_archive_is_an_oci_layout_whose_digests_match(tmp_path: Path) -> None:
    image = build_image(
        "example.local/tool", {"/bin/tool": _tool(tmp_path)}, ["/bin/tool"], tmp_path
    )
    assert image.ref.startswith("example.local/tool:")
    with tarfile.open(image.archive) as tar:
        names = tar.getnames()
        assert json.loads(tar.extractfile("oci-layout").read()) == {"imageLayoutVersion": "1.0.0"}  # type: ignore[union-attr]
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        blobs = [n for n in names if n.startswith("blobs/sha256/") and tar.getmember(n).isfile()]
        for name in blobs:
            data = tar.extractfile(name).read()  # type: ignore[union-attr]
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
        manifest_digest = index["manifests"][0]["digest"]
        manifest = json.loads(tar.extractfile(f"blobs/sha256/{manifest_digest[7:]}").read())  # type: ignore[union-attr]
        layer = tar.extractfile(f"blobs/sha256/{manifest['layers'][0]['digest'][7:]}")
        with tarfile.open(fileobj=layer) as inner:
            member = inner.getmember("bin/tool")
            assert member.mode == 0o755 and member.uid == 0 and member.mtime == 0
    assert len(blobs) == 3  # layer, config, manifest
    assert index["manifests"][0]["annotations"][NAME_ANNOTATION] == image.ref
    assert archive_refs(image.archive) == {image.ref: manifest_digest}


def test_same_files_give_the_same_image_and_reuse_the_archive(tmp_path: Path) -> None:
    files = {"/bin/tool": _tool(tmp_path)}
    first = build_image("example.local/tool", files, ["/bin/tool"], tmp_path / "out")
    mtime = first.archive.stat().st_mtime_ns
    again = build_image("example.local/tool", files, ["/bin/tool"], tmp_path / "out")
    assert again == first and again.archive.stat().st_mtime_ns == mtime
    other = build_image("example.local/tool", files, ["/bin/tool", "-x"], tmp_path / "out")
    assert other.ref != first.ref


def test_a_file_that_is_no_archive_is_named_in_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar"
    bogus.write_text("not a tar")
    with pytest.raises(ChartmatrixError) as info:
        archive_refs(bogus)
    assert str(bogus) in info.value.line() and "\n" not in info.value.line()


def test_import_refuses_when_the_node_is_not_up(tmp_path: Path) -> None:
    image = build_image("example.local/tool", {"/bin/tool": _tool(tmp_path)}, ["/t"], tmp_path)
    layout = Layout(root=tmp_path / "cluster", bin_dir=tmp_path)
    with pytest.raises(ChartmatrixError, match="real node is not up"):
        containerd.import_image(image.archive, layout)
    assert containerd.socket_path(layout) == tmp_path / "cluster/node/containerd/containerd.sock"


def test_containerd_config_is_ours_and_restricts_oom_score_adj(tmp_path: Path) -> None:
    paths = NodePaths.under(tmp_path)
    config = tomllib.loads(containerd.config_toml(paths, "example.local/pause:1"))
    assert config["root"] == str(paths.containerd_root)
    assert config["state"] == str(paths.containerd_state)
    assert config["grpc"]["address"] == str(paths.socket)
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == "example.local/pause:1"
    assert cri["netns_mounts_under_state_dir"] is True
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["BinaryName"].endswith("/runc")
    assert runc["options"]["SystemdCgroup"] is False
    assert cri["cni"]["conf_dir"] == str(paths.cni_conf_dir)


def test_cni_bridge_neither_masquerades_nor_routes_beyond_services(tmp_path: Path) -> None:
    doc = cni.conflist(NodePaths.under(tmp_path), SERVICE_CIDR)
    bridge = doc["plugins"][0]  # type: ignore[index]
    assert bridge["type"] == "bridge" and bridge["bridge"] == nodeconf.BRIDGE
    assert bridge["ipMasq"] is False and bridge["hairpinMode"] is True
    ipam = bridge["ipam"]
    assert ipam["routes"] == [{"dst": SERVICE_CIDR}]
    (rng,) = ipam["ranges"][0]
    assert rng["gateway"] == NODE_IP
    assert ipaddress.ip_address(rng["rangeStart"]) in ipaddress.ip_network(rng["subnet"])
    assert ipam["dataDir"].startswith(str(tmp_path))


@pytest.mark.parametrize("v1", [True, False])
def test_kubelet_sets_fail_cgroup_v1_only_on_cgroup_v1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, v1: bool
) -> None:
    monkeypatch.setattr(kubelet, "cgroup_v1", lambda: v1)
    config = kubelet.kubelet_config(NodePaths.under(tmp_path), tmp_path / "pki", 1234)
    assert ("failCgroupV1" in config) is v1
    if v1:
        assert config["failCgroupV1"] is False
    assert config["resolvConf"] == "" and config["clusterDNS"] == [NODE_IP]
    assert config["cgroupDriver"] == "cgroupfs" and config["cgroupRoot"] == nodeconf.CGROUP_ROOT
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["readOnlyPort"] == 0


def test_kube_proxy_leaves_conntrack_sysctls_and_other_interfaces_alone(tmp_path: Path) -> None:
    config = kubelet.kube_proxy_config(tmp_path / "kubeconfig", 1, 2)
    assert config["mode"] == "iptables" and config["clusterCIDR"] == POD_SUBNET
    assert config["conntrack"]["maxPerCore"] == 0
    assert config["nodePortAddresses"] == [f"{NODE_IP}/32"]
    assert config["healthzBindAddress"].startswith("127.0.0.1:")


def test_coredns_serves_the_cluster_domain_on_the_node_ip_and_forwards_nothing(
    tmp_path: Path,
) -> None:
    text = coredns.corefile(tmp_path / "kubeconfig", 1, 2)
    assert f"bind {NODE_IP}" in text and "kubernetes cluster.local" in text
    assert "forward" not in text and "proxy" not in text


def test_real_node_volumes_are_directories_of_the_node_others_keep_the_base_path() -> None:
    claim = {
        "metadata": {
            "name": "data-db-0",
            "namespace": "ns",
            "uid": "u1",
            "annotations": {"volume.kubernetes.io/selected-node": "real-1"},
        },
        "spec": {"storageClassName": "chartmatrix-local"},
    }
    real = volume_for(claim, "Delete", {"real-1": Path("/srv/volumes")})
    assert real is not None and real["spec"]["local"]["path"] == "/srv/volumes/ns/data-db-0"
    kwok = volume_for(claim, "Delete", {"other": Path("/srv/volumes")})
    assert kwok is not None and kwok["spec"]["local"]["path"] == f"{BASE_PATH}/ns/data-db-0"


def test_iptables_cleanup_finds_jumps_into_kube_and_cni_chains() -> None:
    assert netfilter.jumps_to_ours(shlex.split("-A OUTPUT -m comment --comment x -j KUBE-SERVICES"))
    assert netfilter.jumps_to_ours(shlex.split("-A PREROUTING -g CNI-HOSTPORT-DNAT"))
    assert not netfilter.jumps_to_ours(shlex.split("-A FORWARD -j ACCEPT"))
    assert not netfilter.jumps_to_ours(shlex.split("-A INPUT -m comment --comment KUBE-X -j DROP"))
    table = netfilter.ruleset(6443)
    assert f'iifname "{nodeconf.BRIDGE}" oifname != "{nodeconf.BRIDGE}"' in table
    assert "tcp dport 6443" in table


@pytest.mark.parametrize("value", ["two", "-", "real-ish"])
def test_nodes_option_takes_a_count_or_real(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cluster_main(["cluster", "up", "--nodes", value])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--nodes" in err and repr(value) in err
