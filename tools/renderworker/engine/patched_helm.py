"""Write a copy of Helm's module whose engine keeps parse trees, and a go.mod using it.

Usage: patched_helm.py HELM_DIR WORKER_DIR OUT_DIR

HELM_DIR is the pinned Helm module in the Go module cache (read only, and Go refuses
overlays of it). OUT_DIR receives:
  helm/    the module without its tests, its pkg/engine/engine.go calling parseTemplates
           instead of its own parse loop, and parsecache.go (beside this file) added;
           its manifest sorter calling unmarshalHead instead of yaml.Unmarshal, and
           headcache.go added to the sorter's package;
  go.mod   WORKER_DIR's go.mod with `replace MODULE => OUT_DIR/helm`, and its go.sum:
           build the worker with `go build -modfile OUT_DIR/go.mod`.
The module cache and the repository stay untouched. If the loop or the sorter's parse is
not found exactly once (a Helm version that changed it), nothing is built on it and the
exit status is 1: bootstrap then builds no worker and chartmatrix renders with helm.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

# Helm's loop in engine.render, the same in v3.22 and v4.3 (tabs as in the source).
PARSE_LOOP = (
    "\tfor _, filename := range keys {\n"
    "\t\tr := tpls[filename]\n"
    "\t\tif _, err := t.New(filename).Parse(r.tpl); err != nil {\n"
    "\t\t\treturn map[string]string{}, cleanupParseError(filename, err)\n"
    "\t\t}\n"
    "\t}\n"
)
CALL = (
    "\tif err := parseTemplates(t, keys, tpls); err != nil {\n"
    "\t\treturn map[string]string{}, err\n"
    "\t}\n"
)
PARSECACHE = Path(__file__).resolve().with_name("parsecache.go")
# The manifest sorter's parse of each manifest, the same in v3.22 and v4.3; its file is
# pkg/releaseutil (v3) or pkg/release/v1/util (v4).
SORTERS = ("pkg/releaseutil/manifest_sorter.go", "pkg/release/v1/util/manifest_sorter.go")
HEAD_PARSE = "\t\tif err := yaml.Unmarshal([]byte(m), &entry); err != nil {\n"
HEAD_CALL = "\t\tif err := unmarshalHead(m, &entry); err != nil {\n"
# the sorter's yaml import has no other use (Go refuses an unused import)
HEAD_IMPORT_KEPT = "\n// the parse moved to zz_destate_headcache.go\nvar _ = yaml.Unmarshal\n"
HEADCACHE = Path(__file__).resolve().with_name("headcache.go")


class Refused(Exception):
    """Why the patched module cannot be written."""


def copy_module(src: Path, dst: Path) -> None:
    """The module's files without tests, writable (the cache's copies are read only)."""
    for folder, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d != "testdata"]
        target = dst / Path(folder).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            if not name.endswith("_test.go"):
                shutil.copyfile(Path(folder) / name, target / name)


def module_path(go_mod: str) -> str:
    for line in go_mod.splitlines():
        if line.startswith("module "):
            return line.split()[1]
    raise Refused("its go.mod names no module")


def write(helm_dir: Path, worker_dir: Path, out: Path) -> None:
    engine = helm_dir / "pkg" / "engine" / "engine.go"
    try:
        source = engine.read_text()
        module = module_path((helm_dir / "go.mod").read_text())
        worker_mod = (worker_dir / "go.mod").read_text()
        worker_sum = (worker_dir / "go.sum").read_text()
    except OSError as e:
        raise Refused(f"cannot read {e.filename}: {e.strerror}") from e
    _once(PARSE_LOOP, source, engine, "parse loop")
    sorters = [s for s in SORTERS if (helm_dir / s).is_file()]
    if len(sorters) != 1:
        raise Refused(f"Helm's manifest sorter is not at one of {', '.join(SORTERS)}")
    sorter = Path(sorters[0])
    sorter_source = (helm_dir / sorter).read_text()
    _once(HEAD_PARSE, sorter_source, helm_dir / sorter, "manifest parse")
    package = re.search(r"^package (\w+)$", sorter_source, re.MULTILINE)
    if package is None:
        raise Refused(f"{helm_dir / sorter} has no package clause")
    copy = out / "helm"
    if copy.exists():
        shutil.rmtree(copy)
    copy_module(helm_dir, copy)
    (copy / "pkg" / "engine" / "engine.go").write_text(source.replace(PARSE_LOOP, CALL))
    shutil.copyfile(PARSECACHE, copy / "pkg" / "engine" / "zz_destate_parsecache.go")
    (copy / sorter).write_text(sorter_source.replace(HEAD_PARSE, HEAD_CALL) + HEAD_IMPORT_KEPT)
    head_cache = re.sub(
        r"^package \w+$", f"package {package[1]}", HEADCACHE.read_text(), count=1, flags=re.M
    )
    (copy / sorter.parent / "zz_destate_headcache.go").write_text(head_cache)
    (out / "go.mod").write_text(f"{worker_mod.rstrip()}\n\nreplace {module} => {copy}\n")
    (out / "go.sum").write_text(worker_sum)


def _once(text: str, source: str, file: Path, what: str) -> None:
    found = source.count(text)
    if found != 1:
        raise Refused(
            f"Helm's {what} occurs {found} times in {file}, expected once: "
            "this Helm version needs tools/renderworker/engine updated"
        )


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        write(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    except Refused as e:
        print(f"patched_helm.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
