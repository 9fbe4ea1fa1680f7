"""Run a test module on both event loops the flags server meets.

A module opts in with ``anyio_backend = both_loops`` (a module-level name
overrides the session's ``anyio_backend`` fixture).
"""

from __future__ import annotations

import pytest
import uvloop


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"debug": True}), id="asyncio-debug"),
        # The CLI serves on uvloop, whose transports differ in the details.
        pytest.param(("asyncio", {"loop_factory": uvloop.new_event_loop}), id="uvloop"),
    ]
)
def both_loops(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """Both event loops: stdlib asyncio in debug mode, and uvloop."""
    return request.param  # type: ignore[no-any-return]
