"""Seed the benchmark database: one org with N members plus its org_admin, and two neighbour orgs.

Run by bench/run.py in a subprocess whose environment points DATABASE_URL at the throw-away bench
database (the app reads its config at create_app time). Prints one JSON line: slug, admin email, password.

Every account shares one precomputed scrypt hash: hashing a thousand passwords would take longer
than the benchmark itself, and only the admin ever logs in.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_EMAIL = "admin@bench.test"
ADMIN_PASSWORD = "bench-admin-pass-7431"
ORG_SLUG = "bench-org"

FIRST = (
    "Ada Alan Anna Ben Carla Chen Dana Diego Elena Emil Fatima Farid Grace Hugo Ines Ivan Jana Jonas Kai Lena "
    "Liam Maya Marco Nina Noah Olga Omar Pia Paul Quinn Rosa Ravi Sara Sven Tara Theo Uma Vera Wen Yara Zoe"
).split()
LAST = (
    "Anderson Baker Carlsson Dubois Eriksen Fischer Garcia Hansen Ito Johnson Kowalski Larsen Meyer Novak "
    "Olsen Petrov Quist Rossi Schmidt Tanaka Ueda Varga Wilson Xu Young Zimmer Andersson Jensen Nilsson Peterson"
).split()


def _people(rng: random.Random, count: int, domain: str) -> list[tuple[str, str]]:
    people = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        people.append((f"{first} {last}", f"{first}.{last}.{i}@{domain}".lower()))
    return people


def seed(members: int, neighbours: int) -> dict:
    from portal import create_app
    from portal.accounts.models import User
    from portal.accounts.passwords import hash_password
    from portal.extensions import db
    from portal.models import utcnow
    from portal.orgs.models import Invitation, Membership, Organization

    app = create_app()
    rng = random.Random(20240601)
    shared_hash = hash_password(ADMIN_PASSWORD)
    now = utcnow()
    with app.app_context():
        admin = User(email=ADMIN_EMAIL, name="Bench Admin", password_hash=shared_hash, email_verified_at=now)
        db.session.add(admin)
        orgs = []
        for slug, name, count in ((ORG_SLUG, "Bench Org", members), ("bench-north", "North Co", neighbours),
                                  ("bench-south", "South Co", neighbours)):
            org = Organization(slug=slug, name=name)
            db.session.add(org)
            orgs.append((org, count))
        db.session.flush()
        db.session.add(Membership(org_id=orgs[0][0].id, user_id=admin.id, role="org_admin"))
        for org, count in orgs:
            users = [
                User(email=email, name=name, password_hash=shared_hash, email_verified_at=now)
                for name, email in _people(rng, count, f"{org.slug}.bench.test")
            ]
            db.session.add_all(users)
            db.session.flush()
            roles = rng.choices(("user", "billing_admin", "org_admin"), weights=(90, 7, 3), k=len(users))
            db.session.add_all(
                Membership(org_id=org.id, user_id=u.id, role=r, created_at=now - timedelta(days=rng.randint(0, 900)))
                for u, r in zip(users, roles, strict=True)
            )
            db.session.add_all(
                Invitation(org_id=org.id, email=f"invitee{i}@{org.slug}.bench.test", role="user",
                           invited_by_id=admin.id, expires_at=now + timedelta(days=7))
                for i in range(12)
            )
        db.session.commit()
        total = db.session.query(Membership).filter_by(org_id=orgs[0][0].id).count()
    return {"slug": ORG_SLUG, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "members": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1000, help="members of the benchmarked org (besides its admin)")
    parser.add_argument("--neighbours", type=int, default=500, help="members of each of the two other orgs")
    args = parser.parse_args()
    print(json.dumps(seed(args.members, args.neighbours)))


if __name__ == "__main__":
    main()
