from flask import Blueprint

bp = Blueprint("orgs", __name__)

