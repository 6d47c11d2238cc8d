"""`planworker web`'s application served by uvicorn in a thread on a free loopback port, over a
test's database: what tests/test_web*.py open pages of and post forms to."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
import uvicorn

from tests.conftest import Cli
from worker.cli.app import App, utc_now
from worker.web.app import create_app


@contextmanager
def web_app(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    settings: Callable[[str], dict[str, str]],
    clock: Callable[[], datetime] = utc_now,
) -> Iterator[str]:
    """The app running; yields its base URL. `settings(base_url)` gives the environment
    settings to add to `cli`'s (the base URL is known only once the port is chosen)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    cli.env.update(settings(base_url))
    # The server reads its settings from the environment, as `planworker web` would.
    for name, value in cli.environment().items():
        monkeypatch.setenv(name, value)
    site = create_app(App(None), clock=clock)
    server = uvicorn.Server(uvicorn.Config(site, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.05)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
