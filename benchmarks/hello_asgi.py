"""The baselines: the cheapest responses an ASGI server can give, under the same uvicorn settings as
the app (uvloop, httptools, no access log). `raw` is a bare ASGI callable; `starlette` is one route."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

BODY = b"hello, world"


async def raw(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


async def _hello(_request: object) -> PlainTextResponse:
    return PlainTextResponse("hello, world")


starlette = Starlette(routes=[Route("/", _hello)])
