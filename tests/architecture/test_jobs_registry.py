"""Every job the app can run resolves from the dotted path RQ stores for it, and every periodic job is a
registered job: a renamed or unregistered task fails here, not at run time in a worker."""

from __future__ import annotations

from werkzeug.utils import import_string

from portal import create_app
from portal.infra import jobs, periodic

APP = create_app({"TESTING": True})


def test_every_registered_job_resolves_from_its_dotted_path():
    registry = jobs.registered(APP)
    assert registry, "no job is registered"
    for path, fn in registry.items():
        assert import_string(path) is fn, f"{path} does not resolve to the registered function"


def test_every_periodic_job_is_a_registered_job():
    registry = jobs.registered(APP)
    for fn, seconds in periodic.schedule(APP).items():
        assert jobs.job_path(fn) in registry, f"{fn.__qualname__} runs every {seconds} s but is not a registered job"
        assert seconds > 0
