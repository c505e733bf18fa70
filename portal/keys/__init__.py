"""API keys: the credentials customers call the JSON API with."""

from flask import Blueprint

# The copy-button script is served from portal/keys/static (the CSP allows no inline scripts).
bp = Blueprint("keys", __name__, static_folder="static", static_url_path="/keys/static")
