"""The fault decision of one request, shared by the flags server and the proxy.

:class:`FaultDecider` is the base of both sites (``_site.Site`` and
``_proxy_site.ProxySite``): one rule file and one seed give the same faults
in either mode, and a change to how requests are decided is made here once.
Its state is plain attributes of the site, so a connection's no-rules fast
path stays one attribute check (``site.fast``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from awaitkit.flags._policy import Action, Fault, Policy
from awaitkit.flags._rules import RuleSet, request_path

__all__ = ["NO_FAULT", "FaultDecider"]

NO_FAULT = Action(0.0, Fault.NONE)

_MAX_CACHED_PATHS = 4096  # request targets remembered with their rule paths
_MAX_CACHED_TARGET = 512  # longer targets are decoded each time, not kept


class FaultDecider:
    """The policy and rules of one site, and how they decide a request.

    ``fast`` is True while no request can be delayed or faulted (no rates,
    no rules): connections then skip :meth:`decide`, attempt counting
    included.  The rule set tells the decider when it changes.
    """

    def __init__(self, policy: Policy, rules: RuleSet, by_rule: Counter[str]) -> None:
        self.policy = policy
        self.faultless = policy.is_faultless
        self.rules = rules
        self._by_rule = by_rule  # the site's stats.by_rule (cleared in place)
        self._paths: dict[bytes, str] = {}  # request target -> the path rules match
        self.fast = self.faultless and not rules
        rules.subscribe(self._rules_changed)

    def close(self) -> None:
        """Stop following the rule set (it may outlive this site)."""
        self.rules.unsubscribe(self._rules_changed)

    def _rules_changed(self) -> None:
        self.fast = self.faultless and not self.rules

    def decide(
        self, method: bytes, target: bytes, headers: Mapping[str, str], peer_ip: str
    ) -> Action:
        """What one request gets: the first matching rule, else the global rates.

        ``headers`` have lower-case names.  The attempt of (client, path) is
        counted for both, so the rates too are drawn per (path, attempt) and
        repeat under any concurrency.
        """
        rules = self.rules
        client = headers.get("x-client-id") or peer_ip
        paths = self._paths
        path = paths.get(target)
        if path is None:
            path = request_path(target)
            if len(target) <= _MAX_CACHED_TARGET:
                if len(paths) >= _MAX_CACHED_PATHS:
                    paths.clear()
                paths[target] = path
        attempt = rules.count(client, path)
        if rules:
            method_text = method.decode("latin-1")
            action = rules.decide(client, method_text, path, headers, attempt=attempt)
            if action is not None:
                self._by_rule[action.rule] += 1
                return action
        if self.faultless:
            return NO_FAULT
        return self.policy.decide_at(rules.key, path, attempt)
