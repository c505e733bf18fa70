"""The run page reads at a glance: a status word on its own colour, durations in minutes and seconds."""

from __future__ import annotations

import copy

import pytest

from portal.web import duration
from portal.workflows.definition import STARTERS

from .test_runs import _create, _execute


@pytest.mark.parametrize(
    ("ms", "reads"),
    [(None, ""), (850, "850 ms"), (4_200, "4.2 s"), (792_382, "13 min 12 s"), (120_000, "2 min"), (7_500_000, "2 h 5 min")],
)
def test_a_duration_reads_as_a_person_would_say_it(ms, reads):
    assert duration(ms) == reads


def test_a_succeeded_run_shows_its_word_on_the_success_colour(app, client, login_as, org, admin, wait_for_jobs):
    login_as(admin)
    wf_id = _create(client, org, copy.deepcopy(STARTERS["greeting"]))
    job_id = _execute(client, org, wf_id, {"name": "Ada"})
    wait_for_jobs()
    page = client.get(f"/o/{org.slug}/runs/{job_id}").get_data(as_text=True)
    assert 'class="badge status-succeeded"' in page
    assert ">succeeded</strong>" in page  # the word, not colour alone
    css = client.get("/static/css/portal.css").get_data(as_text=True)
    assert ".badge.status-succeeded" in css and ".badge.status-failed" in css
