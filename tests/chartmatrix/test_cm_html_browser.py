"""The HTML report opened in a real headless Chromium (Debian's ``chromium``)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from chartmatrix.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _ActiveCells(HTMLParser):
    """(data-cell, class of its <td>) of every button whose class list holds ``active``."""

    def __init__(self) -> None:
        super().__init__()
        self.td_class = ""
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "td":
            self.td_class = attr.get("class") or ""
        elif tag == "button" and "active" in (attr.get("class") or "").split():
            self.found.append((attr.get("data-cell") or "", self.td_class))


def active_cells(dom: str) -> list[tuple[str, str]]:
    parser = _ActiveCells()
    parser.feed(dom)
    return parser.found


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_html_grid_renders_in_headless_chromium(
    kv_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "report.html"
    code = main(
        [
            "run",
            "--no-progress",
            str(kv_chart),
            "--axis",
            "replicas=1,3",
            "--axis",
            "pdb=true,false",
            "--html",
            str(html),
        ]
    )
    capsys.readouterr()
    assert code == 1  # replicas=3 without a PDB fails topology/pdb
    assert CHROMIUM is not None
    common = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    # the DOM after scripts ran, with the failing cell opened through the URL fragment
    url = html.as_uri() + "#c0-3-rules"
    dom = subprocess.run(
        [*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    # the script marked exactly the cell the fragment names, and that cell is a failure
    assert active_cells(dom) == [("c0-3-rules", "cell fail")]
    panel = dom.split('id="panel"', 1)[1].split("</div>", 1)[0]
    assert "replicas:3+pdb:false" in panel and "topology/pdb" in panel
    shot = tmp_path / "report.png"
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1000,800", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
