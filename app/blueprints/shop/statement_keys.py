"""The public keys that verify seller statements, published for anyone (docs/statements.md)."""
from __future__ import annotations

from flask import Response, jsonify

from app.blueprints.shop.routes import bp
from app.services import statement_keys
from app.services.money.statement_issue import public_key_document


@bp.get("/.well-known/holdfast-statement-keys.json")
def statement_keys_json():
    """Current and retired Ed25519 public keys, with their ids."""
    response = jsonify(public_key_document())
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/statements/public-key.pem")
def statement_public_key():
    """The same keys as PEM blocks (what `app/statement_verify.py` reads)."""
    return Response(statement_keys.public_pem(), mimetype="application/x-pem-file",
                    headers={"Cache-Control": "public, max-age=3600"})
