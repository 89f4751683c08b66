"""Every chart carries the metadata its users look for (Artifact Hub, `helm show chart`):
home, sources, maintainers, an icon, kubeVersion, license, links, images and the changes
of its current version, which are its CHANGELOG.md entry. Run over the library and every
consumer chart found under charts/ (a new chart is checked without a list)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartmatrix.semver import satisfies
from destate_tools.charts import consumer_charts

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "library-chart"
CHART_DIRS = [LIBRARY, *(REPO / "charts" / name for name in consumer_charts())]
IDS = [d.relative_to(REPO).as_posix() for d in CHART_DIRS]
# the project's home on GitHub: links into it must name files of this checkout
GITHUB = "https://github.com/destate/destate"
RAW = "https://raw.githubusercontent.com/destate/destate/main/"
# Keep a Changelog's sections, which are also Artifact Hub's change kinds
CHANGE_KINDS = ("added", "changed", "deprecated", "removed", "fixed", "security")
# the categories Artifact Hub accepts (its Helm annotations documentation)
ARTIFACT_HUB_CATEGORIES = (
    "ai-machine-learning",
    "database",
    "integration-delivery",
    "monitoring-logging",
    "networking",
    "security",
    "storage",
    "streaming-messaging",
    "skip-prediction",
)


def chart_yaml(chart_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((chart_dir / "Chart.yaml").read_text())


def annotation(chart_dir: Path, key: str) -> Any:
    """An Artifact Hub annotation, parsed (they hold YAML inside a string)."""
    text = chart_yaml(chart_dir).get("annotations", {}).get(key)
    assert text, f"{chart_dir.name}/Chart.yaml lacks annotation {key}"
    return yaml.safe_load(text)


def changelog_entry(text: str, version: str) -> list[dict[str, str]]:
    """The bullets of `## [version]`, each with its `### Kind`; wrapped lines joined."""
    section = re.search(rf"^## \[{re.escape(version)}\][^\n]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"no '## [{version}]' entry"
    changes: list[dict[str, str]] = []
    kind = ""
    for line in section.group(1).splitlines():
        if line.startswith("### "):
            kind = line.removeprefix("### ").strip().lower()
        elif line.startswith("- "):
            changes.append({"kind": kind, "description": line[2:].strip()})
        elif line.startswith("  ") and line.strip() and changes:
            changes[-1]["description"] += " " + line.strip()
    return changes


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def repository_path(url: str) -> tuple[Path, str] | None:
    """The checkout path (and #fragment) a URL into the project's repository names."""
    match = re.fullmatch(rf"{re.escape(GITHUB)}/(?:tree|blob)/main/([^#]+)(?:#(.*))?", url)
    if match:
        return REPO / match.group(1), match.group(2) or ""
    if url.startswith(RAW):
        return REPO / url.removeprefix(RAW), ""
    return None


def every_url(meta: dict[str, Any], chart_dir: Path) -> list[str]:
    urls = [meta["home"], meta["icon"], *meta["sources"]]
    urls += [m["url"] for m in meta["maintainers"] if "url" in m]
    if "artifacthub.io/links" in meta.get("annotations", {}):
        urls += [link["url"] for link in annotation(chart_dir, "artifacthub.io/links")]
    return urls


@pytest.mark.parametrize("chart_dir", CHART_DIRS, ids=IDS)
def test_home_sources_and_maintainers(chart_dir: Path) -> None:
    meta = chart_yaml(chart_dir)
    assert meta.get("home", "").startswith(GITHUB), f"{chart_dir.name}: home"
    assert meta.get("sources"), f"{chart_dir.name}: no sources"
    # the first source is the chart's own directory in the repository
    own = repository_path(meta["sources"][0])
    assert own is not None and own[0] == chart_dir, f"{chart_dir.name}: {meta['sources'][0]}"
    assert meta.get("maintainers"), f"{chart_dir.name}: no maintainers"
    for maintainer in meta["maintainers"]:
        assert maintainer.get("name") and (maintainer.get("url") or maintainer.get("email"))


@pytest.mark.parametrize("chart_dir", CHART_DIRS, ids=IDS)
def test_every_link_is_https_and_names_a_file_of_this_repository(chart_dir: Path) -> None:
    meta = chart_yaml(chart_dir)
    for url in every_url(meta, chart_dir):
        assert url.startswith("https://"), f"{chart_dir.name}: {url}"
        target = repository_path(url)
        if target is None:
            continue
        path, fragment = target
        assert path.exists(), f"{chart_dir.name}: {url} names no file of this repository"
        if fragment:
            headings = re.findall(r"^#+ (.+)$", path.read_text(), re.M)
            anchors = {github_anchor(h) for h in headings}
            assert fragment in anchors, f"{chart_dir.name}: {url}: no heading #{fragment}"


@pytest.mark.parametrize("chart_dir", CHART_DIRS, ids=IDS)
def test_icon_is_the_projects_svg(chart_dir: Path) -> None:
    icon = chart_yaml(chart_dir).get("icon", "")
    # Artifact Hub fetches the icon itself: an https URL of a file in this repository
    assert icon.startswith(RAW) and icon.endswith(".svg"), f"{chart_dir.name}: icon {icon!r}"
    svg = ET.parse(REPO / icon.removeprefix(RAW)).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.get("viewBox"), "an icon without a viewBox does not scale"


@pytest.mark.parametrize("chart_dir", CHART_DIRS, ids=IDS)
def test_kube_version_admits_every_tested_kubernetes(chart_dir: Path) -> None:
    kube_version = chart_yaml(chart_dir).get("kubeVersion")
    assert kube_version, f"{chart_dir.name}: no kubeVersion"
    # a consumer promises no Kubernetes its library does not support
    assert kube_version == chart_yaml(LIBRARY)["kubeVersion"], chart_dir.name
    spec_dir = "library" if chart_dir == LIBRARY else chart_dir.name
    spec = yaml.safe_load((REPO / "chart_tests" / spec_dir / "matrix.yaml").read_text())
    tested = spec["kubernetes"]["versions"]
    assert tested
    for version in tested:
        assert satisfies(f"{version}.0", kube_version), f"{chart_dir.name}: {version}"


def test_every_chart_has_the_same_spdx_license() -> None:
    licenses = {
        d.name: chart_yaml(d).get("annotations", {}).get("artifacthub.io/license")
        for d in CHART_DIRS
    }
    assert len(set(licenses.values())) == 1, licenses
    (spdx,) = set(licenses.values())
    assert spdx and re.fullmatch(r"[A-Za-z0-9.+-]+", spdx), licenses


@pytest.mark.parametrize("chart_dir", CHART_DIRS, ids=IDS)
def test_changes_are_the_changelog_entry_of_the_current_version(chart_dir: Path) -> None:
    version = chart_yaml(chart_dir)["version"]
    entry = changelog_entry((chart_dir / "CHANGELOG.md").read_text(), version)
    assert entry, f"{chart_dir.name}/CHANGELOG.md: [{version}] lists no change"
    assert {c["kind"] for c in entry} <= set(CHANGE_KINDS), entry
    changes = annotation(chart_dir, "artifacthub.io/changes")
    assert changes == entry, (
        f"{chart_dir.name}: artifacthub.io/changes must be CHANGELOG.md's [{version}] entry"
    )


@pytest.mark.parametrize("chart", consumer_charts())
def test_category_is_one_artifact_hub_knows(chart: str) -> None:
    category = (
        chart_yaml(REPO / "charts" / chart).get("annotations", {}).get("artifacthub.io/category")
    )
    assert category in ARTIFACT_HUB_CATEGORIES, f"{chart}: category {category!r}"


@pytest.mark.parametrize("chart", consumer_charts())
def test_images_annotation_names_pinned_images(chart: str) -> None:
    """Shape only; test_charts_common checks the list against the rendered images."""
    images = annotation(REPO / "charts" / chart, "artifacthub.io/images")
    assert images, chart
    for image in images:
        assert set(image) == {"name", "image"}, image
        # registry/repository:tag, fully qualified as Artifact Hub's scanner wants it
        assert re.fullmatch(r"[a-z0-9.-]+\.[a-z]+/[a-z0-9./_-]+:[\w.-]+", image["image"]), image
