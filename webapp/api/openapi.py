"""GET /api/v1/openapi.json: the API's OpenAPI 3.1 description, built from what each route
declares with ``@operation`` (webapp.api.params) and ``@admin_required``
(webapp.api.auth), its models' JSON schemas from pydantic. Nothing is written by hand: a
route without a declaration fails the build of the document (and tests/webapp/test_openapi).
"""

from __future__ import annotations

import re
from functools import cache

from flask import Blueprint, Flask, jsonify
from pydantic import BaseModel

from webapp.api import api
from webapp.api.answers import Error
from webapp.api.auth import ADMIN_ANSWERS, COOKIE, LISTENER_ANSWERS
from webapp.api.params import Operation

REF = "#/components/schemas/{model}"
ERROR_ANSWERS = {
    400: "A parameter or the JSON is malformed; the errors name the fields.",
    413: "The body is too large.",
    414: "The URL is too long (the app's limit, for every route).",
    415: "The body is not sent as application/json.",
}


class Document:
    """The document under construction: paths, and the schemas they refer to."""

    def __init__(self):
        self.schemas: dict[str, dict] = {}
        self.paths: dict[str, dict] = {}

    def ref(self, model: type[BaseModel], mode: str = "validation") -> dict:
        schema = model.model_json_schema(ref_template=REF, mode=mode)
        for name, found in {**schema.pop("$defs", {}), model.__name__: schema}.items():
            if self.schemas.setdefault(name, found) != found:
                raise TypeError(f"two different models are both named {name}")
        return {"$ref": REF.format(model=model.__name__)}

    def parameters(self, model: type[BaseModel] | None, where: str) -> list[dict]:
        if model is None:
            return []
        schema = model.model_json_schema(ref_template=REF)
        self.schemas.update(schema.pop("$defs", {}))
        required = set(schema.get("required", ()))
        found = []
        for name, prop in schema["properties"].items():
            prop = {k: v for k, v in prop.items() if k != "title"}
            parameter = {"name": name, "in": where, "required": where == "path" or name in required}
            if "description" in prop:
                parameter["description"] = prop.pop("description")
            found.append({**parameter, "schema": prop})
        return found

    def answer(self, status: int, declared) -> dict:
        description, model = declared if isinstance(declared, tuple) else (declared, None)
        if status >= 400:
            model = model or Error
        answer = {"description": description}
        if status == 429:
            answer["headers"] = {
                "Retry-After": {
                    "description": "Whole seconds until a request would pass.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        if model is not None:
            answer["content"] = {"application/json": {"schema": self.ref(model, "serialization")}}
        return answer

    def operation(self, op: Operation, admin: str | None, listener: str | None) -> dict:
        answers = dict(op.answers)
        answers.setdefault(414, ERROR_ANSWERS[414])
        if op.path or op.query or op.body:
            answers.setdefault(400, ERROR_ANSWERS[400])
        if op.body:
            answers.setdefault(413, ERROR_ANSWERS[413])
            answers.setdefault(415, ERROR_ANSWERS[415])
            answers.setdefault(op.invalid.status, "The body breaks its schema; see errors.")
        if admin:
            answers |= {s: d for s, d in ADMIN_ANSWERS.items() if s not in answers}
        if listener:
            answers |= {s: d for s, d in LISTENER_ANSWERS.items() if s not in answers}
        described = {"summary": op.summary}
        if op.description:
            described["description"] = op.description
        parameters = self.parameters(op.path, "path") + self.parameters(op.query, "query")
        if parameters:
            described["parameters"] = parameters
        if op.body:
            described["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": self.ref(op.body)}},
            }
        if admin:
            described["security"] = [{"adminToken": []}]
            if admin == "operator":
                described["description"] = (
                    f"{op.description or ''} Open to the operator role as well as admin."
                ).strip()
        if listener:
            # token mode; in open mode (RECSYS_AUTH_MODE=open) no token is needed
            described["security"] = [{"bearerToken": []}, {"playerCookie": []}]
        described["responses"] = {
            str(status): self.answer(status, answers[status]) for status in sorted(answers)
        }
        return described


def openapi_path(rule: str) -> str:
    """``/recs/<user_id>`` as ``/recs/{user_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule)


@cache
def spec() -> dict:
    """The document of the API blueprint's routes (the same for every app that has it)."""
    return build(api)


def build(blueprint: Blueprint) -> dict:
    """The OpenAPI document of ``blueprint``'s routes; TypeError for an undeclared one."""
    app = Flask(__name__)  # only resolves the blueprint's rules
    app.register_blueprint(blueprint)
    document = Document()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in ("static", f"{blueprint.name}.openapi"):
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "operation"):
            raise TypeError(f"{rule.endpoint} ({rule.rule}) declares no @operation")
        admin = getattr(view, "admin_required", None)
        listener = getattr(view, "listener_required", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = document.paths.setdefault(openapi_path(rule.rule), {})
            path[method.lower()] = document.operation(view.operation, admin, listener)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Music recommendation warehouse API",
            "version": "1",
            "description": (
                "Listening events in, recommendations out. Every error is JSON:"
                ' `{"error": code, "message": sentence, "errors": [{"field", "reason"}]}`.'
                " Listener endpoints need `Authorization: Bearer <JWT>` whose subject is the"
                " listener (or the player's sign-in cookie), unless the server runs with"
                " RECSYS_AUTH_MODE=open; admin endpoints need an admin token or a JWT with a"
                " role (docs/security.md)."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": document.paths,
        "components": {
            "schemas": dict(sorted(document.schemas.items())),
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer"},
                "bearerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "playerCookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
            },
        },
    }


@api.get("/openapi.json")
def openapi():
    return jsonify(spec())
