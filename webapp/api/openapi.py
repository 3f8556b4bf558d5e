"""GET /api/v1/openapi.json: the API's OpenAPI 3.1 description (webapp/openapi.yaml)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from flask import jsonify

from webapp.api import api

SPEC = Path(__file__).resolve().parent.parent / "openapi.yaml"


@cache
def spec() -> dict:
    return yaml.safe_load(SPEC.read_text())


@api.get("/openapi.json")
def openapi():
    return jsonify(spec())
