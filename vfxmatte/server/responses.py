"""Error responses that can always be rendered, whatever a hostile client sent.

A request may carry lone surrogates (``"\\ud800"``), numbers too large for a float (``1e999``
becomes inf) or deeply nested junk. Starlette's JSONResponse fails to encode those (a 500 and a
dropped keep-alive connection), so the service renders with :class:`SafeJSONResponse` and never
echoes a client's input back in a validation error.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vfxmatte.errors import VfxMatteError
from vfxmatte.server.paths import PathNotAllowedError


def _finite(value: Any) -> Any:
    """Replace non-finite floats (not JSON) by their text, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class SafeJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped (lone surrogates included) and no NaN/inf."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            _finite(content), ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode("ascii")


def _describe(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors without the client's input: where, what and the error type only."""
    return [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors[:20]
    ]


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return SafeJSONResponse({"detail": "malformed JSON body"}, status.HTTP_400_BAD_REQUEST)
    described = _describe(errors)
    first = described[0] if described else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"] if p != "body")
    msg = first["msg"].removeprefix("Value error, ")
    return SafeJSONResponse(
        {"detail": f"{where + ': ' if where else ''}{msg}", "errors": described},
        status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def user_error(_: Request, exc: VfxMatteError) -> JSONResponse:
    code = 403 if isinstance(exc, PathNotAllowedError) else 400
    return SafeJSONResponse({"detail": exc.message, "exit_code": int(exc.exit_code)}, code)


async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    return SafeJSONResponse(
        {"detail": exc.detail}, exc.status_code, headers=getattr(exc, "headers", None)
    )


def install_handlers(app: Any) -> None:
    """Register the handlers above on a FastAPI app."""
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(VfxMatteError, user_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
