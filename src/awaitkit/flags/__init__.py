"""awaitkit.flags: the flags data set and a fast HTTP test server that injects faults.

::

    from awaitkit.flags import serving_flags

    async with serving_flags("ERROR", seed=1) as base_url:
        ...  # GET f"{base_url}/flags/br/br.gif": 418 a quarter of the time

    rules = [{"path": "/flags/*", "schedule": ["503", "reset@1000", "200"]}]
    async with serving_flags(rules=rules) as base_url:
        ...  # each path: a 503, then a reset after 1000 body bytes, then 200s

Rules (:class:`Rule`, :class:`RuleSet`, :func:`load_rules` for TOML/JSON
files) match method, path, headers and the attempt number of (client,
path); see ``awaitkit.flags._rules``.

The data set holds every ISO 3166-1 alpha-2 country: ``/flags/<cc>/<cc>.gif``
(a synthetic, deterministic image showing the code) and
``/flags/<cc>/metadata.json``.  Names are loaded on first use, so importing
this package costs nothing at CLI start; the images are loaded when a server
starts (or ``build_dataset`` is called), once per process, from the user
cache directory (``$AWAITKIT_CACHE_DIR`` wins), where the first run that
draws them leaves them.

HTTPS: ``FlagsServer(ssl=context)`` / ``serving_flags(tls=context)`` with a
context from :func:`server_context` (PEM files) or :func:`self_signed_tls`
(a CA of its own, made by ``trustme``: ``awaitkit[tls]``).
"""

from __future__ import annotations

from awaitkit._lazy import attach

TYPE_CHECKING = False  # see awaitkit._lazy
if TYPE_CHECKING:
    from awaitkit.flags._control_client import ControlClient as ControlClient
    from awaitkit.flags._dataset import (
        Resource as Resource,
        build_dataset as build_dataset,
        country_codes as country_codes,
        country_name as country_name,
        export_dataset as export_dataset,
        metadata as metadata,
    )
    from awaitkit.flags._policy import (
        Action as Action,
        Decision as Decision,
        Fault as Fault,
        Policy as Policy,
        parse_delay as parse_delay,
    )
    from awaitkit.flags._proxy_server import (
        FaultProxy as FaultProxy,
        serving_proxy as serving_proxy,
    )
    from awaitkit.flags._proxy_site import ProxyStats as ProxyStats
    from awaitkit.flags._rulefile import load_rules as load_rules
    from awaitkit.flags._rules import (
        Rule as Rule,
        RuleError as RuleError,
        RuleSet as RuleSet,
    )
    from awaitkit.flags._server import (
        FlagsServer as FlagsServer,
        FlagsURL as FlagsURL,
        serving_flags as serving_flags,
    )
    from awaitkit.flags._site import ServerStats as ServerStats
    from awaitkit.flags._tls import (
        SelfSignedTLS as SelfSignedTLS,
        self_signed_tls as self_signed_tls,
        server_context as server_context,
    )

_LAZY = {
    "ControlClient": "awaitkit.flags._control_client",
    "Action": "awaitkit.flags._policy",
    "Rule": "awaitkit.flags._rules",
    "RuleError": "awaitkit.flags._rules",
    "RuleSet": "awaitkit.flags._rules",
    "load_rules": "awaitkit.flags._rulefile",
    "Decision": "awaitkit.flags._policy",
    "Fault": "awaitkit.flags._policy",
    "FaultProxy": "awaitkit.flags._proxy_server",
    "FlagsServer": "awaitkit.flags._server",
    "FlagsURL": "awaitkit.flags._server",
    "Policy": "awaitkit.flags._policy",
    "ProxyStats": "awaitkit.flags._proxy_site",
    "Resource": "awaitkit.flags._dataset",
    "SelfSignedTLS": "awaitkit.flags._tls",
    "ServerStats": "awaitkit.flags._site",
    "build_dataset": "awaitkit.flags._dataset",
    "country_codes": "awaitkit.flags._dataset",
    "country_name": "awaitkit.flags._dataset",
    "export_dataset": "awaitkit.flags._dataset",
    "metadata": "awaitkit.flags._dataset",
    "parse_delay": "awaitkit.flags._policy",
    "self_signed_tls": "awaitkit.flags._tls",
    "server_context": "awaitkit.flags._tls",
    "serving_flags": "awaitkit.flags._server",
    "serving_proxy": "awaitkit.flags._proxy_server",
}

__all__ = [
    "Action",
    "ControlClient",
    "Decision",
    "Fault",
    "FaultProxy",
    "FlagsServer",
    "FlagsURL",
    "Policy",
    "ProxyStats",
    "Resource",
    "Rule",
    "RuleError",
    "RuleSet",
    "SelfSignedTLS",
    "ServerStats",
    "build_dataset",
    "country_codes",
    "country_name",
    "export_dataset",
    "load_rules",
    "metadata",
    "parse_delay",
    "self_signed_tls",
    "server_context",
    "serving_flags",
    "serving_proxy",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
