"""python -m destate_images (tools/images/build): build, import and show overrides."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .builder import build
from .containerd import K8S_NAMESPACE, import_archive
from .errors import ImageError
from .overrides import chart_overrides, helm_set_args
from .specs import ImageSpec, all_images, envoy_pin

REPO = Path(__file__).resolve().parents[3]


def _say(message: str) -> None:
    print(f"images: {message}", file=sys.stderr, flush=True)


def _select(names: list[str]) -> list[ImageSpec]:
    specs = all_images(REPO)
    if not names:
        return specs
    known = {spec.name: spec for spec in specs}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ImageError(f"unknown image {', '.join(unknown)} (known: {', '.join(known)})")
    return [known[name] for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/images/build", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build (or find in the cache) the images")
    build_cmd.add_argument("names", nargs="*", help="images to build (default: all)")
    import_cmd = commands.add_parser("import", help="build, then import into a containerd")
    import_cmd.add_argument("--address", required=True, type=Path, help="containerd socket")
    import_cmd.add_argument("--namespace", default=K8S_NAMESPACE)
    import_cmd.add_argument("names", nargs="*", help="images to import (default: all)")
    overrides_cmd = commands.add_parser("overrides", help="helm --set-string args of a chart")
    overrides_cmd.add_argument("chart", nargs="?", help="chart name (default: all, as a table)")
    args = parser.parse_args(argv)
    try:
        if args.command == "overrides":
            pin = envoy_pin(REPO)
            if args.chart:
                print(" ".join(helm_set_args(args.chart, pin)))
            else:
                for chart, values in chart_overrides(pin).items():
                    for path, value in values.items():
                        print(f"{chart}\t{path}={value}")
            return 0
        started = time.monotonic()
        images = build(_select(args.names), say=_say)
        for image in images:
            state = "cached" if image.cached else "built"
            print(f"{image.ref}\t{image.manifest_digest}\t{image.archive}\t{state}")
        _say(f"{len(images)} image(s) ready in {time.monotonic() - started:.1f}s")
        if args.command == "import":
            for image in images:
                import_archive(args.address, image.archive, args.namespace)
                _say(f"imported {image.ref} into {args.address} ({args.namespace})")
    except ImageError as error:
        print(f"images: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
