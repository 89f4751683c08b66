"""Every ConfigMap, Secret and PVC a pod uses exists at install time.

An object exists when the render contains it, the spec declares it under ``external``,
or the render makes it exist (see :mod:`chartmatrix.rules.creators`): then there is no
finding, nor when a pod of the render that may create such objects names it (a hook Job
running ``--secret-name=x``). Severity otherwise:

* ``optional: true`` references (volumes, projected sources, ``envFrom``, ``env``) are
  never findings: the pod starts without them;
* a warning when something may create it but offline we cannot tell (a Job whose
  ServiceAccount may create Secrets, a custom resource whose operator may); the message
  names the candidate;
* a warning for a missing ``imagePullSecrets`` entry: the kubelet pulls without it;
* an error when nothing in the render can create it: the pod never starts
  (``CreateContainerConfigError``) until someone else does. Charts that take a
  user-supplied object (``existingSecret``) render such a reference only when the user
  sets it, so with a chart's defaults this is a real defect, and a case that sets it
  declares the object under ``external``.
"""

from __future__ import annotations

from collections.abc import Iterator

from chartmatrix.findings import Severity
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.creators import creators, made_by
from chartmatrix.rules.pods import pod_templates, references

RULE = "refs/exists"


@rule(
    RULE,
    Severity.ERROR,
    "every ConfigMap/Secret/PVC a pod uses is rendered, made by the render (Certificate, "
    "a Job allowed to create it) or declared under external",
)
def references_exist(ctx: RuleContext) -> Iterator[Violation]:
    for pod in pod_templates(ctx.manifests):
        for ref in references(pod):
            if ref.optional:
                continue
            if not ref.name:
                yield Violation(f"{ref.kind} reference has an empty name", pod.owner.ref, ref.path)
                continue
            if ctx.find(ref.kind, ref.name) or ctx.is_external(ref.kind, ref.name):
                continue
            if made_by(ctx, ref.kind, ref.name):
                continue
            declare = (
                f"declare it under external.{ref.kind}: [{ref.name}] in the matrix spec "
                f"or suppress {RULE}"
            )
            candidates = creators(ctx, ref.kind, ref.name, pod.owner)
            if any(c.named for c in candidates):
                continue
            what = "imagePullSecret" if not ref.mounted else ref.kind
            if candidates:
                first = candidates[0]
                more = f" (or {len(candidates) - 1} more)" if len(candidates) > 1 else ""
                yield Violation(
                    f"{what} {ref.name!r} is not in the render; probably created by "
                    f"{first.ref}{first.why}{more}, which cannot be checked offline: if so, "
                    f"{declare}",
                    pod.owner.ref,
                    ref.path,
                    Severity.WARNING,
                )
            elif not ref.mounted:
                yield Violation(
                    f"imagePullSecret {ref.name!r} is not in the render and no object in the "
                    "render creates it: the kubelet pulls without it (private images fail); "
                    f"render it, or {declare}",
                    pod.owner.ref,
                    ref.path,
                    Severity.WARNING,
                )
            else:
                optional = "" if ref.kind == "PersistentVolumeClaim" else " mark it optional,"
                yield Violation(
                    f"{ref.kind} {ref.name!r} is not in the render and no object in the render "
                    f"creates it: the pod cannot start until it exists; render it,{optional} or "
                    f"{declare} if it is created outside the chart",
                    pod.owner.ref,
                    ref.path,
                )
