"""Organizations: memberships, roles, invitations."""

from flask import Blueprint

bp = Blueprint("orgs", __name__)

