"""A yes/no check of a document against a Kubernetes schema, compiled to closures.

jsonschema walks a schema keyword by keyword and builds an evaluation context at every
step, which makes it the largest cost of a case once renders are fast. Almost every
rendered document is valid, and a valid one needs no error messages: this module
compiles the few keywords the Kubernetes schemas use (``type``, ``enum`` of strings,
``properties``, ``additionalProperties``, ``required``, ``items``, ``oneOf`` and
``$ref`` to the shared definitions) into plain Python functions that only answer "valid
or not". A document they pass has no errors; one they fail goes to jsonschema, whose
messages are the verdict. A schema with any other validating keyword is not compiled
(:class:`Unsupported`) and always goes to jsonschema.

Types follow jsonschema's draft 2020-12 checker (an integer may be a float with no
fraction; a bool is neither integer nor number); ``format`` is an annotation there, as
here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from jsonschema import Draft202012Validator

Check = Callable[[Any], bool]

_LOCAL = "#/$defs/"
# keywords that never change a verdict
_ANNOTATIONS = frozenset(
    {"description", "title", "format", "default", "example", "examples", "$schema", "$id"}
    | {"deprecated", "readOnly", "writeOnly", "$comment"}
)
_TYPES = Draft202012Validator.TYPE_CHECKER


class Unsupported(Exception):
    """The schema uses a keyword this compiler does not know: use jsonschema."""


def _type_check(wanted: str | list[str]) -> Check:
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    for name in names:
        if not isinstance(name, str):
            raise Unsupported(f"type {name!r}")
    is_type = _TYPES.is_type
    if len(names) == 1:
        only = names[0]
        return lambda value: is_type(value, only)
    return lambda value: any(is_type(value, name) for name in names)


class Compiler:
    """Compiles schemas whose references point into one ``_definitions.json``."""

    def __init__(self, definitions: dict[str, Any]) -> None:
        self._defs: dict[str, Any] = definitions.get("$defs") or {}
        self._absolute = f"{definitions.get('$id', '')}{_LOCAL}"
        self._compiled: dict[str, Check] = {}

    def compile(self, schema: Any, *, in_definitions: bool = False) -> Check:
        """A function telling whether a document is valid; raises :class:`Unsupported`.
        ``in_definitions``: ``schema`` is part of ``_definitions.json``, where a local
        ``#/$defs/...`` reference means that file."""
        sub = partial(self.compile, in_definitions=in_definitions)
        if schema is True or schema == {}:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        checks: list[Check] = []
        object_checks: list[Callable[[dict[str, Any]], bool]] = []
        for key, value in schema.items():
            if key in _ANNOTATIONS or key.startswith("x-kubernetes-"):
                continue
            if key == "type":
                checks.append(_type_check(value))
            elif key == "enum":
                checks.append(self._enum(value))
            elif key == "$ref":
                checks.append(self._reference(value, in_definitions))
            elif key == "oneOf":
                checks.append(self._one_of(value, sub))
            elif key == "items":
                checks.append(self._items(value, sub))
            elif key == "required":
                object_checks.append(self._required(value))
            elif key == "properties" or key == "additionalProperties":
                continue  # together, below
            else:
                raise Unsupported(key)
        if "properties" in schema or "additionalProperties" in schema:
            object_checks.append(
                self._object(
                    schema.get("properties") or {}, schema.get("additionalProperties"), sub
                )
            )
        if object_checks:
            checks.append(
                lambda value: not isinstance(value, dict) or all(c(value) for c in object_checks)
            )
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    def _enum(self, options: Any) -> Check:
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise Unsupported("enum of anything but strings")
        allowed = frozenset(options)
        return lambda value: isinstance(value, str) and value in allowed

    def _reference(self, ref: Any, in_definitions: bool) -> Check:
        if isinstance(ref, str) and ref.startswith(self._absolute):
            name = ref[len(self._absolute) :]
        elif isinstance(ref, str) and in_definitions and ref.startswith(_LOCAL):
            name = ref[len(_LOCAL) :]
        else:
            raise Unsupported(f"$ref {ref!r}")
        if name not in self._defs:
            raise Unsupported(f"$ref {ref!r}")
        compiled = self._compiled
        if name not in compiled:
            before = set(compiled)
            # a definition that refers to itself finds this stand-in while it compiles
            compiled[name] = lambda value: compiled[name](value)
            try:
                compiled[name] = self.compile(self._defs[name], in_definitions=True)
            except Unsupported:
                for done in set(compiled) - before:  # they may lean on the stand-in
                    del compiled[done]
                raise
        return lambda value: compiled[name](value)

    def _one_of(self, options: Any, sub: Callable[[Any], Check]) -> Check:
        if not isinstance(options, list) or not options:
            raise Unsupported("oneOf")
        subs = [sub(option) for option in options]
        return lambda value: sum(1 for sub in subs if sub(value)) == 1

    def _items(self, items: Any, sub: Callable[[Any], Check]) -> Check:
        if not isinstance(items, dict | bool):
            raise Unsupported("items as a list")
        each = sub(items)
        return lambda value: not isinstance(value, list) or all(each(v) for v in value)

    def _required(self, names: Any) -> Callable[[dict[str, Any]], bool]:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Unsupported("required")
        return lambda value: all(name in value for name in names)

    def _object(
        self, properties: Any, additional: Any, sub: Callable[[Any], Check]
    ) -> Callable[[dict[str, Any]], bool]:
        if not isinstance(properties, dict):
            raise Unsupported("properties")
        known = {name: sub(schema) for name, schema in properties.items()}
        if additional is None or additional is True:
            rest: Check | None = None
        else:
            rest = sub(additional)

        def check(value: dict[str, Any]) -> bool:
            for key, item in value.items():
                one = known.get(key)
                if one is not None:
                    if not one(item):
                        return False
                elif rest is not None and not rest(item):
                    return False
            return True

        return check
