"""Themes: each organization's colours, fonts, logos and custom CSS, drafted, previewed, published as versions."""

from flask import Blueprint

bp = Blueprint("themes", __name__)
