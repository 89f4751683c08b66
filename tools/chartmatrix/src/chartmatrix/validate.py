"""Offline schema validation against the Kubernetes JSON schemas bundled in kubernetes-validate.

The schema files are read directly (not through ``kubernetes_validate.validate``, which
re-reads and re-compiles them for every document): ``_definitions.json`` is loaded once
per Kubernetes version and a validator is compiled once per (version, apiVersion, kind).
Validation is strict (the ``-strict`` schemas reject unknown fields) and reports every
error with its JSON path. CustomResourceDefinitions given by the user contribute their
``openAPIV3Schema``. A kind with no schema is reported: as an error when the kind exists
under another apiVersion (removed or not yet served), as a warning otherwise.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import kubernetes_validate
from referencing import Registry, Resource

from chartmatrix import fastvalid, k8syaml
from chartmatrix.errors import ChartmatrixError
from chartmatrix.findings import Finding, Severity, json_path
from chartmatrix.manifests import Manifest
from chartmatrix.schemainline import Inliner

SCHEMA_ROOT = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local-strict$")
_MAX_MESSAGE = 240


def version_key(version: str) -> tuple[int, int]:
    """(major, minor) of a Kubernetes version, to order versions."""
    match = re.match(r"^v?(\d+)\.(\d+)", str(version))
    if not match:
        raise ChartmatrixError(None, f"invalid Kubernetes version {version!r} (want e.g. 1.33)")
    return int(match.group(1)), int(match.group(2))


@cache
def bundled_versions() -> tuple[str, ...]:
    found = []
    for entry in SCHEMA_ROOT.iterdir():
        match = _DIR.match(entry.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2))))
    return tuple(f"{a}.{b}" for a, b in sorted(found))


@cache  # asked for every document validated
def schema_version(version: str) -> str:
    """The newest bundled schema version not newer than ``version``."""
    want = version_key(version)
    usable = [v for v in bundled_versions() if version_key(v) <= want]
    if not usable or want > version_key(bundled_versions()[-1]):
        raise ChartmatrixError(
            None,
            f"Kubernetes {version} has no bundled schemas "
            f"(kubernetes-validate {kubernetes_validate.__version__} has "
            f"{bundled_versions()[0]}..{bundled_versions()[-1]})",
        )
    return usable[-1]


@cache
def _definitions(version: str) -> dict[str, Any]:
    """The shared definitions of a bundled schema version (read once; never modified)."""
    file = SCHEMA_ROOT / f"v{version}.0-local-strict" / "_definitions.json"
    return json.loads(file.read_text())  # type: ignore[no-any-return]


def _gvk(api_version: str, kind: str) -> tuple[str, str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version, kind


@cache
def served_kinds(version: str) -> frozenset[tuple[str, str, str]]:
    """(group, version, kind) of every built-in kind a cluster of the bundled schema
    ``version`` serves (their definitions' x-kubernetes-group-version-kind)."""
    return frozenset(
        (str(g.get("group", "")), str(g.get("version", "")), str(g.get("kind", "")))
        for definition in _definitions(version)["$defs"].values()
        for g in definition.get("x-kubernetes-group-version-kind") or ()
        if isinstance(g, dict)
    )


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_RFC1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# how the API server checks names: a Service's is an RFC 1035 label (it starts with a
# letter), a Namespace's a DNS-1123 label, RBAC names are path segments (system:x)
_NAME_RULES: dict[str, tuple[str, re.Pattern[str], int, str]] = {
    "Service": (
        "an RFC 1035 label",
        _RFC1035_LABEL,
        63,
        "letters, digits and '-', starting with a letter and ending with a letter or digit",
    ),
    "Namespace": (
        "a DNS-1123 label",
        _DNS_LABEL,
        63,
        "letters, digits and '-', starting and ending with a letter or digit",
    ),
}
_SUBDOMAIN_RULE = (
    "a DNS-1123 subdomain",
    _DNS_SUBDOMAIN,
    253,
    "letters, digits, '-' and '.', starting and ending with a letter or digit",
)
# the controller appends 11 characters (a CronJob's Jobs: NAME-<minutes since epoch>)
_SHORTER = {"CronJob": 52}
_PATH_SEGMENT_NAMED = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


def name_problem(kind: str, name: object) -> str | None:
    """Why the API server refuses ``name`` for a built-in ``kind``, or None (also for a
    name that is not a string: the schema says so)."""
    if not isinstance(name, str) or not name:
        return None
    if kind in _PATH_SEGMENT_NAMED:
        if name in (".", "..") or "/" in name or "%" in name:
            return f"metadata.name {name!r} may not be '.' or '..' nor contain '/' or '%'"
        return None
    what, pattern, limit, allowed = _NAME_RULES.get(kind, _SUBDOMAIN_RULE)
    limit = _SHORTER.get(kind, limit)
    if len(name) > limit:
        return (
            f"metadata.name {name!r} is {len(name)} characters, over the {limit} of a {kind} name"
        )
    if not pattern.fullmatch(name):
        return f"metadata.name {name!r} is not {what}: lower-case {allowed}"
    return None


def served(kind: str, version: str) -> bool:
    """Whether a cluster of Kubernetes ``version`` serves ``group/version/Kind`` as a
    built-in API: as its discovery tells Helm on an install, where ``helm template``
    knows only group/versions."""
    api, _, name = kind.rpartition("/")
    return _gvk(api, name) in served_kinds(schema_version(version))


def _api_file_part(api_version: str) -> str:
    # rbac.authorization.k8s.io/v1 -> rbac-v1 ; apps/v1 -> apps-v1 ; v1 -> v1
    return re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)


def _json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: jsonschema.ValidationError) -> str:
    """jsonschema's message, with values spelled as in the manifest (``null``, not
    Python's ``None``)."""
    if error.validator == "type":
        return f"{_json(error.instance)} is not of type {_json(error.validator_value)}"
    if error.validator == "enum":
        return f"{_json(error.instance)} is not one of {_json(error.validator_value)}"
    if error.validator == "const":
        return f"{_json(error.instance)} was expected to be {_json(error.validator_value)}"
    return error.message


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


class Compiled(NamedTuple):
    """A schema ready to validate: jsonschema's validator, a digest of everything it
    checks (equal digests, equal verdicts) and, for the bundled Kubernetes schemas, the
    quick yes/no check of fastvalid (None where it does not compile)."""

    validator: jsonschema.protocols.Validator
    digest: str
    quick: fastvalid.Check | None = None


class _VersionSchemas:
    """The bundled schemas of one Kubernetes minor version."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.dir = SCHEMA_ROOT / f"v{version}.0-local-strict"
        definitions = _definitions(version)
        self.definitions = definitions
        self.registry: Registry = Resource.from_contents(definitions) @ Registry()
        self.inliner = Inliner(definitions)
        self.fast = fastvalid.Compiler(definitions)
        self.validators: dict[tuple[str, str], Compiled | None] = {}

    def validator(self, api_version: str, kind: str) -> Compiled | None:
        """The kind's schema, compiled; None when this version does not serve it (a
        custom resource of a group named like a built-in one included)."""
        key = (api_version, kind)
        if key not in self.validators and _gvk(api_version, kind) not in served_kinds(self.version):
            self.validators[key] = None
        if key not in self.validators:
            file = self.dir / f"{kind.lower()}-{_api_file_part(api_version)}.json"
            if file.is_file():
                schema = json.loads(file.read_text())
                registry = Resource.from_contents(schema) @ self.registry
                inlined = self.inliner.schema(schema)
                validator = jsonschema.Draft202012Validator(inlined, registry=registry)
                try:
                    quick: fastvalid.Check | None = self.fast.compile(inlined)
                except fastvalid.Unsupported:
                    quick = None
                self.validators[key] = Compiled(validator, self._closure_digest(schema), quick)
            else:
                self.validators[key] = None
        return self.validators[key]

    def _closure_digest(self, schema: dict[str, Any]) -> str:
        """sha256 of the schema and every definition it reaches: equal digests in two
        Kubernetes versions mean equal verdicts, so a document is validated once."""
        defs = self.definitions["$defs"]
        seen: dict[str, Any] = {}
        stack = [schema]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and "#/$defs/" in ref:
                    name = ref.split("#/$defs/", 1)[1]
                    if name not in seen and name in defs:
                        seen[name] = defs[name]
                        stack.append(defs[name])
                stack.extend(v for k, v in node.items() if k != "description")
            elif isinstance(node, list):
                stack.extend(node)
        blob = json.dumps([schema, seen], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def _crd_schema(schema: dict[str, Any], *, root: bool) -> dict[str, Any]:
    """OpenAPI v3 (structural) schema -> JSON schema; objects reject unknown fields."""
    out = copy.deepcopy(schema)

    def walk(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        node = {k: v for k, v in node.items() if k != "x-kubernetes-validations"}
        if node.pop("x-kubernetes-int-or-string", False):
            node.pop("type", None)
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if node.pop("nullable", False):
            if isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
            elif isinstance(node.get("anyOf"), list):  # int-or-string
                node["anyOf"] = [*node["anyOf"], {"type": "null"}]
        for key in ("properties", "patternProperties", "definitions"):
            if isinstance(node.get(key), dict):
                node[key] = {k: walk(v) for k, v in node[key].items()}
        for key in ("items", "additionalProperties", "not"):
            if isinstance(node.get(key), dict):
                node[key] = walk(node[key])
        for key in ("allOf", "anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                node[key] = [walk(v) for v in node[key]]
        preserve = node.pop("x-kubernetes-preserve-unknown-fields", False)
        node.pop("x-kubernetes-embedded-resource", None)
        if "properties" in node and "additionalProperties" not in node and not preserve:
            node["additionalProperties"] = False
        return node

    out = walk(out)
    if root:
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = {"type": "object"}
        out.setdefault("type", "object")
    return out


def _allows_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return (isinstance(kind, list) and "null" in kind) or {"type": "null"} in (
        schema.get("anyOf") or []
    )


def as_admitted(value: Any, schema: Any) -> Any:
    """A custom resource as the API server validates it, after its defaulting: a field
    set to null that its CRD does not declare nullable is dropped, an absent field (or
    such a null) with a ``default`` gets it, in every object present. A copy where
    anything changed."""
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    properties = schema.get("properties") or {}
    more = schema.get("additionalProperties")
    out: dict[str, Any] = {}
    for key, item in value.items():
        sub = properties.get(key, more if isinstance(more, dict) else None)
        if not isinstance(sub, dict):
            out[key] = item
        elif item is None and not _allows_null(sub):
            pass  # pruned, then defaulted below when the field has a default
        elif isinstance(item, list) and isinstance(sub.get("items"), dict):
            out[key] = [as_admitted(x, sub["items"]) for x in item]
        else:
            out[key] = as_admitted(item, sub)
    for key, sub in properties.items():
        if key not in out and isinstance(sub, dict) and "default" in sub:
            out[key] = as_admitted(copy.deepcopy(sub["default"]), sub)
    return out


def _crd_versions(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema for every version of one CRD object."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    spec = doc.get("spec") or {}
    if not isinstance(spec, dict):
        return out
    group = spec.get("group")
    kind = (spec.get("names") or {}).get("kind")
    for version in spec.get("versions") or []:
        if not isinstance(version, dict):
            continue
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {}
        if group and kind and version.get("name"):
            out[(f"{group}/{version['name']}", kind)] = _crd_schema(schema, root=True)
    return out


# cached verdicts, least recently used out first: a document that differs in every case
# (a StatefulSet with the case's replicas) adds one per case and version, so an unbounded
# cache grew with the run; 50,000 is about 8 MB and far more than any case reuses
VERDICTS_KEPT = 50_000

_DIGESTS: dict[int, tuple[dict[str, Any], bytes]] = {}
_MAX_DIGESTS = 512  # a case's documents; more would hold many cases' manifests alive


def document_digest(obj: dict[str, Any]) -> bytes:
    """sha256 of the document's canonical JSON (sorted keys, no spaces).

    A document validated for several Kubernetes versions is serialized once: the last
    few hundred digests are kept by object identity (the entry holds the object, so
    its id cannot be reused while cached)."""
    entry = _DIGESTS.get(id(obj))
    if entry is not None and entry[0] is obj:
        return entry[1]
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(text.encode()).digest()
    if len(_DIGESTS) >= _MAX_DIGESTS:
        _DIGESTS.clear()
    _DIGESTS[id(obj)] = (obj, digest)
    return digest


RenderedCrds = dict[tuple[str, str], tuple[str, dict[str, Any]]]
_RENDERED_CRDS: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}


def rendered_crds(manifests: Iterable[Manifest]) -> RenderedCrds:
    """The CRDs a render itself installs: (apiVersion, kind) -> (digest, JSON schema).

    Each distinct CRD is converted once per process (charts render the same CRDs in
    every case)."""
    out: RenderedCrds = {}
    for m in manifests:
        if m.kind != "CustomResourceDefinition":
            continue
        digest = document_digest(m.obj).hex()
        if digest not in _RENDERED_CRDS:
            _RENDERED_CRDS[digest] = _crd_versions(m.obj)
        for key, schema in _RENDERED_CRDS[digest].items():
            out[key] = (f"rendered:{digest}:{key[0]}/{key[1]}", schema)
    return out


def load_crds(files: Iterable[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema, from CRD YAML files (multi-document allowed)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for file in files:
        try:
            text = Path(file).read_text(encoding="utf-8")
            docs = k8syaml.load_all(text)  # as the API server reads it (`- =` in enums)
        except FileNotFoundError:
            raise ChartmatrixError(file, "CRD file not found") from None
        except k8syaml.YamlError as exc:
            raise ChartmatrixError(file, f"invalid YAML: {exc}") from None
        found = 0
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            versions = _crd_versions(doc)
            out.update(versions)
            found += len(versions)
        if not found:
            raise ChartmatrixError(file, "no CustomResourceDefinition with a schema found")
    return out


class SchemaValidator:
    """Validates manifests for any bundled Kubernetes version; caches all compiled schemas."""

    def __init__(self, crd_files: Iterable[Path] = ()) -> None:
        self._versions: dict[str, _VersionSchemas] = {}
        self._global_crds = tuple(Path(f) for f in crd_files)
        self._crd_files: dict[Path, dict[tuple[str, str], dict[str, Any]]] = {}
        self._crd_validators: dict[tuple[Path, str, str], jsonschema.protocols.Validator] = {}
        self._rendered_validators: dict[str, jsonschema.protocols.Validator] = {}
        # (schema closure digest, sha256 of the document's canonical JSON) ->
        # [(path, message)]: identical documents in many cases and versions are
        # validated once per schema
        self._verdicts: dict[tuple[str, bytes], tuple[tuple[str, str], ...]] = {}
        for file in self._global_crds:
            self._crds_of(file)

    def forget_verdicts(self) -> None:
        """Drop the cached verdicts (compiled validators stay): ``chartmatrix bench``
        times a warm run as if its documents were new."""
        self._verdicts.clear()

    def _crds_of(self, file: Path) -> dict[tuple[str, str], dict[str, Any]]:
        if file not in self._crd_files:
            self._crd_files[file] = load_crds([file])
        return self._crd_files[file]

    def _schemas(self, version: str) -> _VersionSchemas:
        resolved = schema_version(version)
        if resolved not in self._versions:
            self._versions[resolved] = _VersionSchemas(resolved)
        return self._versions[resolved]

    def _crd_validator(self, api: str, kind: str, crds: Sequence[Path]) -> Compiled | None:
        """The last of ``--crd`` files then ``crds`` that defines (api, kind)."""
        for file in reversed((*self._global_crds, *crds)):
            schema = self._crds_of(file).get((api, kind))
            if schema is None:
                continue
            key = (file, api, kind)
            if key not in self._crd_validators:
                self._crd_validators[key] = jsonschema.Draft7Validator(schema)
            return Compiled(self._crd_validators[key], f"crd:{file}:{api}/{kind}")
        return None

    def _rendered_validator(
        self, api: str, kind: str, rendered: RenderedCrds | None
    ) -> Compiled | None:
        found = (rendered or {}).get((api, kind))
        if found is None:
            return None
        digest, schema = found
        if digest not in self._rendered_validators:
            self._rendered_validators[digest] = jsonschema.Draft7Validator(schema)
        return Compiled(self._rendered_validators[digest], digest)

    def validate(
        self,
        manifest: Manifest,
        version: str,
        crds: Sequence[Path] = (),
        rendered: RenderedCrds | None = None,
    ) -> list[Finding]:
        """Every schema error of ``manifest`` for Kubernetes ``version`` (``crds``: CRD
        files for this case, after the global ones; ``rendered``: the CRDs of the render
        itself, used when no file defines the kind)."""
        api, kind = manifest.api_version, manifest.kind
        resource = manifest.ref
        if not api or not kind:
            return [
                Finding(
                    "schema",
                    "schema/no-kind",
                    Severity.ERROR,
                    "document has no apiVersion or kind",
                    resource=manifest.source,
                    kube_version=version,
                )
            ]
        meta = manifest.obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        if not meta.get("name") and not meta.get("generateName") and not kind.endswith("List"):
            return [
                Finding(
                    "schema",
                    "schema/no-name",
                    Severity.ERROR,
                    f"{api} {kind} has no metadata.name (nor generateName): the API server "
                    "refuses it",
                    resource=manifest.source,
                    kube_version=version,
                )
            ]
        schemas = self._schemas(version)
        built_in = schemas.validator(api, kind)
        compiled = (
            built_in
            or self._crd_validator(api, kind, crds)
            or self._rendered_validator(api, kind, rendered)
        )
        if compiled is None:
            return [self._unknown(schemas, api, kind, resource, version)]
        bad_name = name_problem(kind, meta.get("name")) if built_in else None
        named = (
            [
                Finding(
                    "schema",
                    "schema/invalid",
                    Severity.ERROR,
                    f"{bad_name}: the API server refuses it",
                    resource=resource,
                    path="metadata.name",
                    kube_version=version,
                )
            ]
            if bad_name
            else []
        )
        validator, digest, quick = compiled
        obj = manifest.obj if built_in else as_admitted(manifest.obj, validator.schema)
        key = (digest, document_digest(manifest.obj))
        verdict = self._verdicts.pop(key, None)
        if verdict is None:
            # a document the quick check passes has no errors; jsonschema words the rest
            verdict = (
                ()
                if quick is not None and quick(obj)
                else tuple(
                    sorted(
                        (json_path(e.absolute_path), _short(_describe(e)))
                        for e in validator.iter_errors(obj)
                    )
                )
            )
            if len(self._verdicts) >= VERDICTS_KEPT:
                del self._verdicts[next(iter(self._verdicts))]
        self._verdicts[key] = verdict  # (again) the most recently used
        return named + [
            Finding(
                "schema",
                "schema/invalid",
                Severity.ERROR,
                message,
                resource=resource,
                path=path,
                kube_version=version,
            )
            for path, message in verdict
        ]

    def _unknown(
        self, schemas: _VersionSchemas, api: str, kind: str, resource: str, version: str
    ) -> Finding:
        group = _gvk(api, kind)[0]
        serving = sorted(
            (g, f"{g}/{v}" if g else v) for g, v, k in served_kinds(schemas.version) if k == kind
        )
        others = [name for g, name in serving if g == group]
        if others:
            return Finding(
                "schema",
                "schema/api-not-served",
                Severity.ERROR,
                f"{api} {kind} is not served by Kubernetes {version} "
                f"(it serves {', '.join(others)})",
                resource=resource,
                kube_version=version,
            )
        if "." not in group:
            # a CRD's group has a dot: one without (core, apps, extensions, policy, batch)
            # is Kubernetes' own, and a kind it no longer serves there is refused
            elsewhere = sorted(name for _, name in serving)
            where = (
                f"it serves {kind} as {', '.join(elsewhere)}"
                if elsewhere
                else f"it serves no {kind} any more"
            )
            return Finding(
                "schema",
                "schema/api-not-served",
                Severity.ERROR,
                f"{api} {kind} is not served by Kubernetes {version} ({where}; a group "
                "without a dot is Kubernetes' own, never a CRD's)",
                resource=resource,
                kube_version=version,
            )
        return Finding(
            "schema",
            "schema/unknown-kind",
            Severity.WARNING,
            f"no schema for {api} {kind}: not a built-in kind and no CRD in the render; give "
            "its CRD (spec `crds:` or --crd FILE) to validate it, or suppress "
            "schema/unknown-kind",
            resource=resource,
            kube_version=version,
        )
