"""What makes a workload pick up a change to a ConfigMap or Secret it uses.

Used by ``config/checksum-annotation``. An object a pod template uses is *covered* when

1. **a config reloader handles it**: stakater Reloader annotations on the workload or its
   pod template (``reloader.stakater.com/auto``, ``configmap.reloader.stakater.com/auto``,
   ``secret.reloader.stakater.com/auto``: "true"; ``configmap.reloader.stakater.com/reload``
   or ``secret.reloader.stakater.com/reload`` listing its name;
   ``reloader.stakater.com/search: "true"`` with the object annotated
   ``reloader.stakater.com/match: "true"``), ``wave.pusher.com/update-on-config-change:
   "true"``, or a **reloader sidecar**: a container (or restartable init container) whose
   name or image is ``configmap-reload``, ``config-reloader``,
   ``prometheus-config-reloader``, ``k8s-sidecar``, ``reloader``... It covers the objects
   of the volumes it mounts, or every ConfigMap/Secret volume of the pod when it mounts
   none of them (it watches through the API). A sidecar sees files only: an object read
   through ``env``/``envFrom`` still needs the pods to roll;
2. **it does not change in place**: ``immutable: true``, or a name ending in a content
   hash (8+ hex digits, or kustomize's 10-character suffix): a change renames it, which
   rolls the pods by itself; or ``helm.sh/resource-policy: keep``: state that outlives the
   release, such as credentials generated once and reused through ``lookup``, not
   configuration rendered from values; or no ``data``, ``stringData`` or ``binaryData``
   at all: a controller or the app fills it at run time (a webhook's certificate), and
   nothing the chart renders can change it;
3. **a checksum annotation covers it**. Checksum annotations are the pod template's keys
   ``checksum/<x>``, keys whose name has a word ``checksum`` or ``hash``
   (``example.com/config-hash``), and ``rollme`` (Helm's random-value idiom: every
   upgrade rolls). One covers the object when

   a. its value is the object's hash (:func:`chartmatrix.rules.config.canonical_hash` of
      ``.data``, or of ``.stringData``), or the sha256 of one of its values (of a
      Secret's ``.data`` value, encoded or decoded), or of its template's rendered text
      (``include (print $.Template.BasePath "/secret.yaml") . | sha256sum``), or ``<x>``
      is the object's name; or
   b. by its words: ``<x>`` is split at ``-_./`` into lower-case words, a plural ``s``
      dropped, the words ``checksum``/``hash``/``sha256``... removed. *Kind words* say
      what kind was hashed: ConfigMap (``config``, ``configmap``, ``cm``,
      ``configuration``, ``conf``, ``cfg``, ``settings``, ``properties``, ``files``),
      Secret (``secret``, ``credentials``, ``creds``, ``auth``, ``password``, ``tls``,
      ``cert``, ``certificate``, ``keys``, ``token``). *Everything words* (``values``,
      ``env``, ``environment``, ``all``, ``data``, ``rollme``) without a kind word, or no
      word at all: it covers every object. The other words are *specific*. An annotation
      that names only the other kind never covers the object (``checksum/config`` does not
      cover a Secret).
      Otherwise it covers the object when it has no specific word (``checksum/secret``
      covers every Secret), when all its specific words occur in the object's name
      (``checksum/nginx-config`` covers ConfigMap ``x-nginx-conf``, not ``x-app``), or,
      when its specific words occur in the name of none of the pod's objects (it hashes
      something we cannot identify, such as a template file), when it names the object's
      kind (``checksum/main-config`` covers the pod's ConfigMaps).

An application that reloads its files itself cannot be told from the render: there the
finding stands, and the chart suppresses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chartmatrix.rules.pods import PodTemplate

RELOADER_AUTO = "reloader.stakater.com/auto"
RELOADER_SEARCH = "reloader.stakater.com/search"
RELOADER_MATCH = "reloader.stakater.com/match"
WAVE = "wave.pusher.com/update-on-config-change"
_SIDECAR = re.compile(r"config-?map-?reload|config-?reload|k8s-sidecar|reloader", re.IGNORECASE)
_HASH_SUFFIX = re.compile(r"-(?:[0-9a-f]{8,64}|[bcdfghkmt2-9]{10})$")
_SPLIT = re.compile(r"[^a-z0-9]+")


def _word(token: str) -> str:
    return token[:-1] if len(token) > 3 and token.endswith("s") else token


def words(text: str) -> set[str]:
    return {_word(t) for t in _SPLIT.split(text.lower()) if t}


_NOISE = words("checksum checksums hash hashes sha sha1 sha256 md5 digest")
KIND_WORDS = {
    "ConfigMap": words("config configs configmap configmaps cm cms configuration conf cfg")
    | words("settings properties files"),
    "Secret": words("secret secrets credentials creds auth password passwords tls cert certs")
    | words("certificate certificates keys token tokens"),
}
_EVERYTHING = words("values env environment all data rollme")
_ALL_KIND_WORDS = set().union(*KIND_WORDS.values())


def _true(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _names(value: Any) -> set[str]:
    return {n.strip() for n in str(value or "").split(",") if n.strip()}


@dataclass(frozen=True)
class Target:
    kind: str  # ConfigMap | Secret
    name: str
    obj: dict[str, Any]
    hashes: frozenset[str]
    volume: str | None  # the pod volume it comes through, None when only through env


def reloader_covers(pod: PodTemplate, target: Target) -> str | None:
    """The reloader (annotation or sidecar) that handles changes to ``target``, if any."""
    ann = {**(pod.owner.metadata.get("annotations") or {}), **pod.annotations}
    prefix = target.kind.lower()
    if _true(ann.get(RELOADER_AUTO)) or _true(ann.get(f"{prefix}.{RELOADER_AUTO}")):
        return RELOADER_AUTO
    key = f"{prefix}.reloader.stakater.com/reload"
    if target.name in _names(ann.get(key)):
        return key
    meta = target.obj.get("metadata") or {}
    if _true(ann.get(RELOADER_SEARCH)) and _true(
        (meta.get("annotations") or {}).get(RELOADER_MATCH)
    ):
        return RELOADER_SEARCH
    if _true(ann.get(WAVE)):
        return WAVE
    if target.volume is None:
        return None
    object_volumes = {v.get("name") for v in pod.spec.get("volumes") or [] if _object_volume(v)}
    for path, c in pod.containers():
        init = ".initContainers[" in path
        if init and c.get("restartPolicy") != "Always":
            continue
        image = str(c.get("image") or "").rsplit("/", 1)[-1].split(":")[0].split("@")[0]
        if not (_SIDECAR.search(str(c.get("name") or "")) or _SIDECAR.search(image)):
            continue
        mounts = {m.get("name") for m in c.get("volumeMounts") or [] if isinstance(m, dict)}
        if target.volume in mounts or not (mounts & object_volumes):
            return f"sidecar {c.get('name')}"
    return None


def _object_volume(vol: Any) -> bool:
    return isinstance(vol, dict) and any(k in vol for k in ("configMap", "secret", "projected"))


def unchanging(target: Target) -> bool:
    """Immutable, content-named, kept across releases (see the module docstring), or
    rendered without any data: its content comes from a controller or the app at run
    time, and nothing the chart renders can change it."""
    meta = target.obj.get("metadata") or {}
    kept = str((meta.get("annotations") or {}).get("helm.sh/resource-policy", "")) == "keep"
    empty = not any(target.obj.get(k) for k in ("data", "stringData", "binaryData"))
    return (
        kept
        or empty
        or target.obj.get("immutable") is True
        or bool(_HASH_SUFFIX.search(target.name))
    )


@dataclass(frozen=True)
class Checksum:
    key: str
    value: str
    suffix: str  # what the key names (after checksum/), lower case
    words: frozenset[str]

    @property
    def kinds(self) -> set[str]:
        return {k for k, kw in KIND_WORDS.items() if self.words & kw}

    @property
    def specific(self) -> set[str]:
        return set(self.words) - _ALL_KIND_WORDS - _EVERYTHING

    @property
    def everything(self) -> bool:
        return not self.words or bool(self.words & _EVERYTHING and not self.kinds)


def checksums(annotations: dict[str, Any]) -> list[Checksum]:
    out = []
    for key, value in annotations.items():
        key = str(key)
        name = key.rpartition("/")[2]
        if key.startswith("checksum/"):
            suffix = key[len("checksum/") :]
        elif name == "rollme" or words(name) & words("checksum hash"):
            suffix = name
        else:
            continue
        out.append(Checksum(key, str(value), suffix.lower(), frozenset(words(suffix) - _NOISE)))
    return out


def checksum_covers(
    c: Checksum, target: Target, names_specific: Callable[[Checksum], bool]
) -> bool:
    """Whether ``c`` covers ``target``; ``names_specific(c)`` tells whether c's specific
    words occur in the name of some object the pod uses."""
    if c.value in target.hashes or c.suffix == target.name.lower() or c.everything:
        return True
    if c.kinds and target.kind not in c.kinds:
        return False
    specific = c.specific
    if not specific:
        return bool(c.kinds)
    if specific <= words(target.name) or _squashed(c.suffix) in words(target.name):
        return True  # checksum/install_info for ...-installinfo too
    return bool(c.kinds) and not names_specific(c)


def _squashed(text: str) -> str:
    """A key's words run together (``install_info`` -> ``installinfo``)."""
    return _SPLIT.sub("", text.lower())
