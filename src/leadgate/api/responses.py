"""The app's JSON response: rendered with orjson (fast; knows datetimes and dataclasses).

It derives from JSONResponse so FastAPI documents each route's response model rather than
a bare string.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi.responses import JSONResponse


class JsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
        except orjson.JSONEncodeError:
            # orjson stops at 64-bit integers; a touchpoint property may hold a bigger one
            # (PostgreSQL hands 1e20 back as an integer). The standard library has no limit.
            return json.dumps(content, default=str, ensure_ascii=False).encode()
