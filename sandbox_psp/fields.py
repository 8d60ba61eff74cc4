"""Card fields (`/v1/js/fields.v1.js`, `/fields/v1/…`): the PSP's script on the platform's own
page mounts card number, expiry and CVC as separate iframes from this origin; the number frame
collects its siblings' values (postMessage, same origin only), makes a single-use token here and
hands the platform's page only the token and display data (Stripe Elements / Braintree Hosted
Fields in miniature).

The library is versioned and never changed in place (a new version gets a new file name), so
the platform pins its SRI hash. The frames may be framed only by the platform's origin.
"""
from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_from_directory,
)

from .errors import ApiError
from .models import atomic
from .tokens import create

bp = Blueprint("fields", __name__)
FIELDS = {"number": ("cc-number", "numeric", "1234 1234 1234 1234"),
          "expiry": ("cc-exp", "numeric", "MM / YY"),
          "cvc": ("cc-csc", "numeric", "CVC")}
LIBRARY_VERSIONS = ("fields.v1.js",)


@bp.get("/v1/js/<name>")
def library(name):
    """The versioned library; cross-origin readable, so the platform's SRI check can read it."""
    if name not in LIBRARY_VERSIONS:
        abort(404)
    response = send_from_directory(current_app.static_folder, f"js/v1/{name}", max_age=3600)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@bp.get("/fields/v1/<field>")
def frame(field):
    """One field's frame: a single input; its value leaves only to sibling frames of this
    origin and, for the number frame, to the token endpoint below."""
    if field not in FIELDS:
        abort(404)
    autocomplete, inputmode, placeholder = FIELDS[field]
    platform = current_app.config["SANDBOX_PLATFORM_ORIGIN"]
    response = current_app.make_response(render_template(
        "field.html", field=field, autocomplete=autocomplete, inputmode=inputmode,
        placeholder=placeholder, label=request.args.get("label", field)[:60],
        channel=request.args.get("channel", "")[:64], key=request.args.get("key", "")[:100],
        platform_origin=platform))
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"base-uri 'none'; object-src 'none'; form-action 'none'; frame-ancestors {platform}")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.post("/fields/v1/tokens")
def make_token():
    """Tokenize a typed card; only this origin's own frames may call it (the card never
    crosses to another origin in a browser)."""
    own = request.host_url.rstrip("/")
    same_origin = request.headers.get("Sec-Fetch-Site") == "same-origin"
    if request.headers.get("Origin") != own and not same_origin:
        raise ApiError(403, "invalid_request_error", "cross_origin",
                       "Card tokens are made only by the card fields.")
    body = request.get_json(silent=True) or {}
    with atomic():
        token = create(str(body.get("key", "")), str(body.get("number", "")),
                       str(body.get("expiry", "")), str(body.get("cvc", "")))
        answer = token.to_dict()
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response
