"""Support fixtures: an org with a customer and an admin, another org, and platform support agents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from tests.factories import OrgFactory, UserFactory, member
from tests.infra.conftest import aws_env, make_app, s3_bucket, s3_server  # noqa: F401  (moto's S3 server, reused)

# hypothesis keeps caches on disk: under tests/artifacts (git-ignored), not at the checkout's root.
set_hypothesis_home_dir(str(Path(__file__).resolve().parent.parent / "artifacts" / "hypothesis"))

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class Desk:
    org: object
    customer: object
    colleague: object
    admin: object
    other_org: object
    outsider: object
    agent: object
    agent2: object


@pytest.fixture
def desk(app) -> Desk:
    org = OrgFactory(name="Acme", slug="acme")
    customer = member(org, "user", email="carol@acme.test", name="Carol Customer")
    colleague = member(org, "user", email="colin@acme.test", name="Colin")
    admin = member(org, "org_admin", email="ada@acme.test", name="Ada Admin")
    other = OrgFactory(name="Bravo", slug="bravo")
    outsider = member(other, "org_admin", email="mallory@bravo.test", name="Mallory")
    agent = UserFactory(email="agent@vetrai.test", name="Agnes Agent", platform_role="support_agent")
    agent2 = UserFactory(email="agent2@vetrai.test", name="Bert Agent", platform_role="support_agent")
    return Desk(org, customer, colleague, admin, other, outsider, agent, agent2)
