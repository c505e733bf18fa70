"""Workflows: LangGraph graphs defined in the portal, run on the job runner with live progress."""

from flask import Blueprint

bp = Blueprint("workflows", __name__)
