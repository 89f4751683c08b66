"""State rules: each has an id (also its suppression key), a severity and a message.

Rules are plain functions registered with :func:`rule`; :func:`run_rules` runs them all
over one case's render. Severity ``error`` fails a run; ``warning`` fails only with
``--strict``. A spec suppresses a rule with ``suppress: [<rule id>]`` (optionally limited
to case ids and resources by glob).
"""

from __future__ import annotations

from chartmatrix.rules import (  # noqa: F401  (registration by import)
    config,
    connection,
    hardening,
    persistence,
    references,
    selectors,
    session,
    topology,
    upgrade,
)
from chartmatrix.rules.base import RULES, Rule, RuleContext, Violation, rule, run_rules

__all__ = ["RULES", "Rule", "RuleContext", "Violation", "rule", "run_rules"]
