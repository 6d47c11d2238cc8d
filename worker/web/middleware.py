"""What wraps every request of `planworker web`: the security headers and a log line without
the link's token (Headers), and the per-address rate limit (Throttle)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.io.terminal import one_line

if TYPE_CHECKING:
    from worker.web.app import Site

log = logging.getLogger("planworker.web")

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class Headers:
    """Adds the security headers to every response, and logs each request with the lead
    page's token cut out of the path (uvicorn's own access log is off: it would log it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = list(message.get("headers", [])) + extra
                log.info("%s %s %s", scope["method"], redacted(scope["path"]), message["status"])
            await send(message)

        await self.app(scope, receive, send_with_headers)


def redacted(path: str) -> str:
    """A request path fit for the log: a link's token replaced by "…"."""
    for signed in ("/lead/", "/board/", "/ack/"):
        if path.startswith(signed):
            return f"{signed}…"
    # Control characters (a %0A in the URL) are escaped: one request, one log line.
    return one_line(path[:200])


def client_address(scope: Scope) -> str:
    """The client's address: the proxy's X-Forwarded-For when uvicorn trusts the proxy."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Throttle:
    """At most PER_ADDRESS requests per client address (the health check exempt: the
    container's probe must always get through)."""

    def __init__(self, app: ASGIApp, site: Site) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/health":
            address = client_address(scope)
            limited = self.site.too_many(
                self.site.per_address, address, f"too many requests from {address}"
            )
            if limited is not None:
                await limited(scope, receive, send)
                return
        await self.app(scope, receive, send)
