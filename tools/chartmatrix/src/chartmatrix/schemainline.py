"""Kubernetes schemas with their ``$ref``s replaced by what they point to.

jsonschema resolves a ``$ref`` through its registry on every descent; the Kubernetes
schemas are almost all references (a Pod spec reaches hundreds of definitions), so a
document's first validation spent most of its time looking them up. Here each reference
to ``_definitions.json`` is replaced by the definition itself, converted once per
Kubernetes version and shared by every kind that uses it. Validation is unchanged: a
reference node holds nothing but the ``$ref`` and annotations (``description``,
``x-kubernetes-*``), which JSON Schema does not evaluate, and the error paths and
messages jsonschema reports are about the document, not the schema. Definitions that
reach themselves (``JSONSchemaProps``) stay references, made absolute so that they still
resolve through the registry from wherever they now sit.
"""

from __future__ import annotations

from typing import Any

_LOCAL = "#/$defs/"
# where JSON Schema keeps subschemas; every other keyword's value is data or an annotation
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_SCHEMA_ONE = frozenset(
    {"items", "additionalProperties", "additionalItems", "not", "if", "then", "else"}
    | {"contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties"}
)
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})


def _map_subschemas(node: dict[str, Any], fn: Any) -> dict[str, Any]:
    """``node`` with ``fn`` applied to each of its subschemas (data left as it is)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: fn(sub) for name, sub in value.items()}
        elif key in _SCHEMA_ONE and isinstance(value, dict | list):
            out[key] = fn(value) if isinstance(value, dict) else [fn(v) for v in value]
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [fn(v) for v in value]
        else:
            out[key] = value
    return out


def _ref_target(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.split(_LOCAL, 1)[1] if isinstance(ref, str) and _LOCAL in ref else None


def _is_pure_reference(node: dict[str, Any]) -> bool:
    """Only a ``$ref`` and annotations: replacing it by its target changes no verdict."""
    return all(k in ("$ref", "description") or k.startswith("x-kubernetes-") for k in node)


def _references(node: Any) -> set[str]:
    found: set[str] = set()

    def visit(sub: Any) -> Any:
        if isinstance(sub, dict):
            target = _ref_target(sub)
            if target is not None:
                found.add(target)
            _map_subschemas(sub, visit)
        return sub

    visit(node)
    return found


def _on_cycles(graph: dict[str, set[str]]) -> set[str]:
    """Names that reach themselves (Tarjan's strongly connected components, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cyclic: set[str] = set()
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            name, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph[nxt])))
                elif nxt in on_stack:
                    low[name] = min(low[name], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[name])
            if low[name] == index[name]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == name:
                        break
                if len(component) > 1 or name in graph[name]:
                    cyclic.update(component)
    return cyclic


class Inliner:
    """Inlines the definitions of one ``_definitions.json`` (``$defs`` and ``$id``).

    Only what a schema reaches is examined, when that schema is first inlined: a run that
    validates a few kinds never walks the hundreds of definitions it does not use."""

    def __init__(self, definitions: dict[str, Any]) -> None:
        self._defs: dict[str, Any] = definitions.get("$defs") or {}
        self._absolute = f"{definitions.get('$id', '')}{_LOCAL}"
        self._examined: set[str] = set()  # definitions whose cycles are known
        self._kept: set[str] = set()  # definitions on a cycle: left as references
        self._done: dict[str, Any] = {}

    def schema(self, node: Any) -> Any:
        """``node`` with every reference to a non-recursive definition replaced by it
        (shared, not copied: the result must be treated as read-only)."""
        self._examine(_references(node))
        return self._inline(node)

    def _examine(self, roots: set[str]) -> None:
        """Find the cycles among the definitions reachable from ``roots`` not examined
        before (a cycle never joins an examined definition: all it reaches was examined
        with it)."""
        graph: dict[str, set[str]] = {}
        todo = [name for name in roots if name in self._defs and name not in self._examined]
        while todo:
            name = todo.pop()
            if name in graph:
                continue
            graph[name] = {
                target
                for target in _references(self._defs[name])
                if target in self._defs and target not in self._examined
            }
            todo.extend(graph[name] - graph.keys())
        self._kept |= _on_cycles(graph)
        self._examined |= graph.keys()

    def _inline(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        target = _ref_target(node)
        if target is not None and target in self._defs:
            if target not in self._kept and _is_pure_reference(node):
                if target not in self._done:
                    self._done[target] = self._inline(self._defs[target])
                return self._done[target]
            # kept as a reference: absolute, so it resolves from any schema it now sits in
            node = {**node, "$ref": self._absolute + target}
        return _map_subschemas(node, self._inline)
