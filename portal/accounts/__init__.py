"""Accounts: users, sign-up, email verification, login, password reset, profile."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

