"""``checksumConvention``: how strictly the config/checksum-* rules judge a chart.

Set per spec (``checksumConvention:`` in matrix.yaml) or for the whole project
(``checksumConvention:`` in chartmatrix.yaml, ``[tool.chartmatrix]`` in pyproject.toml);
the spec wins, and with neither the convention is ``presence``.
"""

from __future__ import annotations

from chartmatrix.errors import ChartmatrixError

DEFAULT = "presence"
# name -> what it means (README's table says the same)
CONVENTIONS = {
    "presence": "a ConfigMap/Secret a rolling pod uses and nothing covers is a warning",
    "strict": "a ConfigMap/Secret a rolling pod uses and nothing covers is an error",
    "data-hash": "strict, and checksum/config (checksum/secret) must equal the SHA-256 of "
    "toJson of a used ConfigMap's (Secret's) .data",
}
RENAMED = {"destate": "data-hash"}  # chartmatrix 0.1 names, still accepted


def parse_convention(value: object, where: str) -> tuple[str, str | None]:
    """``value`` as a convention name, plus a deprecation note for an old name (or None).
    ``where`` names the setting in messages (``spec.yaml: checksumConvention``)."""
    if value in CONVENTIONS:
        return str(value), None
    if isinstance(value, str) and value in RENAMED:
        new = RENAMED[value]
        return new, (
            f"{where}: {value!r} is deprecated; it is now called {new!r} (same meaning: "
            f"{CONVENTIONS[new]})"
        )
    raise ChartmatrixError(
        where, f"unknown checksum convention {value!r} (known: {', '.join(CONVENTIONS)})"
    )
