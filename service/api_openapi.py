"""The OpenAPI 3.0 document served at /openapi.json: it describes exactly the routes in api.py.

tests/test_api_schema.py runs schemathesis against it, so a handler that answers
something this document does not allow fails CI.
"""

from __future__ import annotations

from typing import Any

from service.metrics import DISPOSITIONS_SET

_ERR = {"$ref": "#/components/responses/Error"}
_UNAUTH = {"$ref": "#/components/responses/Unauthorized"}
_ID = [{"name": "id", "in": "path", "required": True,
        "schema": {"type": "string", "maxLength": 200}}]


def _ok(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": "OK",
                     "content": {"application/json": {"schema": schema}}}}


_OBJ: dict[str, Any] = {"type": "object"}
_ALERT = {"type": "object", "required": ["id", "key"],
          "properties": {"id": {"type": "string"}, "key": {"type": "string"},
                         "verdict": {"type": "string"},
                         "disposition": {"type": "string", "nullable": True}}}
_ALERT_VIEW = {"allOf": [_ALERT, {"type": "object", "required": [
    "clicks", "opens", "exposed_users", "suggested_disposition", "remediation", "timeline"],
    "properties": {
        "clicks": {"type": "array", "items": _OBJ}, "opens": {"type": "array", "items": _OBJ},
        "exposed_users": {"type": "array", "items": _OBJ}, "remediation": _OBJ,
        "timeline": _OBJ, "suggested_disposition": {
            "type": "object", "required": ["disposition", "credential_submission"],
            "properties": {"disposition": {"type": "string", "enum": list(DISPOSITIONS_SET)},
                           "credential_submission": {"type": "boolean"},
                           "reason": {"type": "string"}}}}}]}
_INGEST = {"type": "object", "required": ["received", "matched", "invalid"],
           "properties": {k: {"type": "integer", "minimum": 0}
                          for k in ("received", "matched", "invalid")}}
_JOB = {"type": "object", "required": ["id", "state", "days", "scanned", "flagged",
                                       "remediated", "errors"],
        "properties": {"id": {"type": "string"},
                       "state": {"type": "string",
                                 "enum": ["running", "done", "failed", "cancelled"]},
                       "days": {"type": "integer"}, "scanned": {"type": "integer"},
                       "flagged": {"type": "integer"}, "remediated": {"type": "integer"},
                       "errors": {"type": "integer"},
                       "alerts": {"type": "array", "items": {"type": "string"}}}}
_RULE = {"type": "object", "required": ["rule", "hits", "false_positives", "remediations"],
         "properties": {"rule": {"type": "string"}, "hits": {"type": "integer"},
                        "false_positives": {"type": "integer"},
                        "remediations": {"type": "integer"},
                        "last_hit": {"type": "number", "nullable": True},
                        "false_positive_rate": {"type": "number", "nullable": True}}}
_LINES = {"text/plain": {"schema": {"type": "string"}},
          "application/x-ndjson": {"schema": {"type": "string"}}}


def _post(summary: str, ok: dict[str, Any], body: dict[str, Any] | None = None,
          params: list[dict[str, Any]] | None = None, extra: tuple[str, ...] = ()
          ) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "parameters": params or [],
                          "responses": {**ok, "400": _ERR, "401": _UNAUTH, "413": _ERR}}
    for status in extra:
        op["responses"][status] = _ERR
    if body is not None:
        op["requestBody"] = {"required": False, "content": body}
    return {"post": op}


def _get(summary: str, ok: dict[str, Any], params: list[dict[str, Any]] | None = None,
         extra: tuple[str, ...] = (), public: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "parameters": params or [],
                          "responses": {**ok, **({} if public else {"401": _UNAUTH})}}
    for status in extra:
        op["responses"][status] = _ERR
    if public:
        op["security"] = []
    return {"get": op}


def document() -> dict[str, Any]:
    json_body = {"application/json": {"schema": {"type": "object"}}}
    disposition_body = {"application/json": {"schema": {
        "type": "object", "required": ["disposition"],
        "properties": {"disposition": {"type": "string", "enum": list(DISPOSITIONS_SET)},
                       "comment": {"type": "string", "maxLength": 1000},
                       "allowlist": {"type": "boolean"}}}}}
    hunt_body = {"application/json": {"schema": {
        "type": "object", "properties": {"days": {"type": "integer", "minimum": 1,
                                                  "maximum": 90},
                                         "reason": {"type": "string"}}}}}
    fmt = [{"name": "format", "in": "query", "required": False,
            "schema": {"type": "string", "enum": ["json", "squid", "w3c"]}}]
    paging = [{"name": "limit", "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
              {"name": "offset", "in": "query", "required": False,
               "schema": {"type": "integer", "minimum": 0}}]
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Trawler", "version": "1",
                 "description": "Alerts, dispositions, who clicked / opened, rules, retro-hunt."},
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": _get("Process alive", _ok(_OBJ), public=True),
            "/readyz": _get("Store reachable and rules loaded", _ok(_OBJ), public=True,
                            extra=("503",)),
            "/metrics": _get("Prometheus metrics", {"200": {"description": "OK",
                                                            "content": text}}, public=True),
            "/v1/alerts": _get("Alerts, newest first", _ok({
                "type": "object", "required": ["alerts"],
                "properties": {"alerts": {"type": "array", "items": _ALERT}}}),
                params=paging, extra=("400",)),
            "/v1/alerts/{id}": _get("One alert with clicks, opens, remediation, timeline",
                                    _ok(_ALERT_VIEW), params=_ID, extra=("404",)),
            "/v1/alerts/{id}/disposition": _post(
                "Record a kill-chain disposition", _ok(_OBJ), disposition_body, _ID,
                ("404",)),
            "/v1/alerts/{id}/restore": _post("Put removed copies back", _ok(_OBJ), json_body,
                                             _ID, ("404", "409")),
            "/v1/alerts/{id}/remediate": _post("Remove the message again", _ok(_OBJ),
                                               json_body, _ID, ("404", "409")),
            "/v1/events/web": _post("Proxy / web-gateway events", _ok(_INGEST), _LINES, fmt),
            "/v1/events/file": _post("Endpoint file-open events (JSON lines)", _ok(_INGEST),
                                     _LINES),
            "/v1/rules": _get("Per-rule hits, false positives, remediations", _ok({
                "type": "object", "required": ["rules"],
                "properties": {"rules": {"type": "array", "items": _RULE}}})),
            "/v1/retrohunt": {**_post("Start a retro-hunt over the journal", _ok(_JOB, "202"),
                                      hunt_body, extra=("409",)),
                              **_get("Recent retro-hunt jobs", _ok({
                                  "type": "object", "required": ["jobs"],
                                  "properties": {"jobs": {"type": "array", "items": _JOB}}}))},
            "/v1/retrohunt/{id}": _get("One retro-hunt job", _ok(_JOB), params=_ID,
                                       extra=("404",)),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"],
                                  "properties": {"error": {"type": "string"}}}},
            "responses": {
                "Error": {"description": "Error", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}},
                "Unauthorized": {"description": "Missing or wrong bearer token",
                                 "content": {"application/json": {
                                     "schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        },
    }
