"""``--html FILE``: one self-contained page, a grid of cases by checks per chart.

Every cell is a button; clicking it (or opening ``page.html#<cell id>``) shows that
cell's findings or golden diff in the panel under the grid. No external resources.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

from chartmatrix.report.output import write_pieces
from chartmatrix.runner import CHECKS

_SYMBOL = {"pass": "✓", "warn": "!", "fail": "✗", "skip": "\u2013"}

_CSS = """
body{font:14px system-ui,sans-serif;margin:24px;color:#1d232a}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.sum{padding:8px 12px;border-radius:6px;display:inline-block}
.ok{background:#dcf5e3}.bad{background:#fde0e0}
table{border-collapse:collapse;margin-top:8px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
th{background:#f3f5f7}
td.cell{padding:0}
td.cell button{width:100%;min-width:64px;border:0;padding:6px 10px;font:inherit;cursor:pointer}
.pass button{background:#dcf5e3}.warn button{background:#fff3c4}
.fail button{background:#fde0e0}.skip button{background:#f6f8fa;color:#8c959f}
button.active{outline:3px solid #0969da;outline-offset:-3px}
.layout{display:flex;gap:24px;align-items:flex-start}
.grid{flex:0 0 auto}
#panel{position:sticky;top:12px;flex:1 1 0;min-width:320px;max-height:94vh;overflow:auto;
border:1px solid #d0d7de;border-radius:6px;padding:12px;min-height:40px;margin-top:16px}
.detail{display:none}
pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px}
.add{color:#116329}.del{color:#a40e26}.hunk{color:#8250df}
li.error{color:#a40e26}li.warning{color:#7d4e00}
code{font-size:12px}.note{color:#57606a}
"""

_JS = """
function show(id){
  document.querySelectorAll('button.active').forEach(b=>b.classList.remove('active'));
  const src=document.getElementById(id); if(!src) return;
  document.getElementById('panel').innerHTML=src.innerHTML;
  const b=document.querySelector('button[data-cell="'+id+'"]'); if(b) b.classList.add('active');
}
document.addEventListener('click',e=>{
  const b=e.target.closest('button[data-cell]'); if(!b) return;
  history.replaceState(null,'','#'+b.dataset.cell); show(b.dataset.cell);
});
window.addEventListener('load',()=>{ if(location.hash) show(location.hash.slice(1)); });
"""


def _diff(text: str) -> str:
    lines = []
    for line in text.splitlines():
        cls = ""
        if line.startswith("+") and not line.startswith("+++"):
            cls = "add"
        elif line.startswith("-") and not line.startswith("---"):
            cls = "del"
        elif line.startswith("@@"):
            cls = "hunk"
        lines.append(f'<span class="{cls}">{escape(line)}</span>' if cls else escape(line))
    return "<pre>" + "\n".join(lines) + "</pre>"


def _detail(chart: str, case: str, check: str, status: str, info: dict) -> str:
    parts = [f"<h3>{escape(chart)} · <code>{escape(case)}</code> · {check}: {status}</h3>"]
    if info.get("note"):
        parts.append(f"<p class='note'>{escape(info['note'])}</p>")
    if info["findings"]:
        items = []
        for f in info["findings"]:
            where = " ".join(x for x in (f["resource"], f["path"]) if x)
            version = f" [k8s {f['kube_version']}]" if f["kube_version"] else ""
            items.append(
                f'<li class="{f["severity"]}"><b>{escape(f["rule"])}</b>{escape(version)} '
                f"<code>{escape(where)}</code><br>{escape(f['message'])}</li>"
            )
        parts.append("<ul>" + "".join(items) + "</ul>")
    if info["diff"]:
        parts.append(_diff(info["diff"]))
    if not info["findings"] and not info["diff"]:
        parts.append("<p>No problems.</p>" if status != "skip" else "<p>Not run.</p>")
    return "".join(parts)


def html_pieces(data: dict[str, Any]) -> Iterator[str]:
    """The page of a report's plain data (a run's, or a merge of its shards'), in
    pieces: the grid, then each cell's details (the cases are read twice, not held)."""
    yield (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>chartmatrix report</title>"
        f"<style>{_CSS}</style></head><body><h1>chartmatrix report</h1>"
        '<div class="layout"><div class="grid">'
    )
    verdict = "ok" if data["ok"] else "bad"
    yield (
        f'<p class="sum {verdict}">{data["cases"]} cases, {data["failed"]} failed, '
        f"{data['seconds']} s{' (strict)' if data['strict'] else ''}</p>"
    )
    for ci, chart in enumerate(data["charts"]):
        yield f"<h2>{escape(chart['name'])} <small>{escape(chart['chart'])}</small></h2>"
        for f in chart["findings"]:
            yield f"<p class='sum bad'>{escape(f['severity'])}: {escape(f['message'])}</p>"
        head = "".join(f"<th>{c}</th>" for c in CHECKS)
        yield f"<table><tr><th>case</th>{head}<th>objects</th></tr>"
        for ki, case in enumerate(chart["cases"]):
            cells = []
            for check in CHECKS:
                status = case["status"][check]
                cells.append(
                    f'<td class="cell {status}"><button data-cell="c{ci}-{ki}-{check}" '
                    f'title="{check}: {status}">{_SYMBOL[status]}</button></td>'
                )
            label = escape(case["id"]) + (" <i>(must fail)</i>" if case["expect_failure"] else "")
            cells.append(f"<td>{case['manifests']}</td>")
            yield f"<tr><td><code>{label}</code></td>{''.join(cells)}</tr>"
        yield "</table>"
    yield '</div><div id="panel"><p>Click a cell to see its errors or diff.</p></div></div>'
    for ci, chart in enumerate(data["charts"]):
        for ki, case in enumerate(chart["cases"]):
            for check in CHECKS:
                status = case["status"][check]
                yield (
                    f'<div class="detail" id="c{ci}-{ki}-{check}">'
                    f"{_detail(chart['name'], case['id'], check, status, case['checks'][check])}"
                    "</div>"
                )
    yield f"<script>{_JS}</script></body></html>\n"


def render_html_data(data: dict[str, Any]) -> str:
    """The whole page as one string."""
    return "".join(html_pieces(data))


def write_html_data(data: dict[str, Any], file: Path) -> None:
    write_pieces(file, html_pieces(data))
