"""Swagger UI and Redoc, served from vendored assets."""

from flask import render_template

from portal.api import docs_bp
from portal.extensions import talisman

# Both viewers inject inline styles (Redoc also spawns a blob: worker), so their pages get a looser
# style policy than the rest of the portal; scripts stay 'self' + nonce.
DOCS_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "worker-src": "'self' blob:",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
}


@docs_bp.get("/docs")
@talisman(content_security_policy=DOCS_CSP, content_security_policy_nonce_in=["script-src"])
def swagger():
    return render_template("api/swagger.html")


@docs_bp.get("/redoc")
@talisman(content_security_policy=DOCS_CSP, content_security_policy_nonce_in=["script-src"])
def redoc():
    return render_template("api/redoc.html")
