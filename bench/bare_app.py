"""The baseline: a bare Flask app answering a short string, served by the same gunicorn settings.

Its throughput is what gunicorn, Flask routing and the loopback cost on this machine; the portal's
figures are read as a ratio of it (`gunicorn bench.bare_app:app`).
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "ok"
