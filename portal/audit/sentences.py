"""The audit log in words: each event as a sentence built from names (people, organizations, keys, role labels),
with the raw ids behind it kept apart for the "copy id" buttons.

`describe(events, org)` resolves every id a page of events mentions in one query per kind (users, keys), never
one per row. Each known action has its sentence here; an unknown one still reads as words (`_fallback`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.keys.models import ApiKey
from portal.orgs.models import Organization
from portal.roles import ROLE_LABELS
from portal.tenancy import scoped, unscoped

# What the action filter and each entry's heading say; the keys are the codes services record.
ACTION_LABELS: dict[str, str] = {
    "login": "Signed in",
    "login.failed": "Sign-in failed",
    "logout": "Signed out",
    "signup": "Signed up",
    "password.changed": "Password changed",
    "password.reset": "Password reset",
    "member.invited": "Member invited",
    "member.joined": "Member joined",
    "member.role_changed": "Member's role changed",
    "member.removed": "Member removed",
    "invitation.revoked": "Invitation revoked",
    "org.created": "Organization created",
    "org.suspended": "Organization suspended",
    "org.restored": "Organization restored",
    "user.suspended": "User suspended",
    "user.restored": "User restored",
    "key.created": "API key created",
    "key.updated": "API key changed",
    "key.rotated": "API key rotated",
    "key.revoked": "API key revoked",
    "key.policy_changed": "API key policy changed",
    "theme.published": "Theme published",
    "theme.reverted": "Theme reverted",
    "theme.reset": "Theme reset",
    "theme.js_allowed": "Custom JavaScript allowed",
    "theme.js_disallowed": "Custom JavaScript turned off",
}

# The actions whose target is an email address, and those whose target is an API key's public id.
_EMAIL_TARGETS = frozenset({"member.invited", "member.joined", "member.role_changed", "member.removed", "invitation.revoked",
                            "user.suspended", "user.restored", "login.failed"})
_KEY_TARGETS = frozenset({"key.created", "key.updated", "key.rotated", "key.revoked"})


def action_label(action: str) -> str:
    """The words for an action code ("key.created" -> "API key created"), made up from the code when unknown."""
    return ACTION_LABELS.get(action) or _words(action)


def action_choices() -> list[tuple[str, str]]:
    """(code, label) pairs for the action filter, sorted by label."""
    return sorted(ACTION_LABELS.items(), key=lambda pair: pair[1])


@dataclass(frozen=True)
class Entry:
    """One audit event as people read it: a sentence, and the ids behind it for the Details disclosure."""

    event: AuditEvent
    label: str
    sentence: str
    ids: tuple[tuple[str, str], ...] = field(default=())


@dataclass
class _Names:
    """The people and keys a page of events mentions, loaded together."""

    users_by_public_id: dict[str, User]
    users_by_email: dict[str, User]
    keys: dict[str, ApiKey]

    def person(self, *, email: str | None = None, public_id: str | None = None, fallback: str = "someone") -> str:
        user = self.users_by_public_id.get(public_id or "") or self.users_by_email.get((email or "").lower())
        if user is not None:
            return user.display_name
        return email or fallback


def describe(events: Iterable[AuditEvent], org: Organization | None) -> list[Entry]:
    """The events as entries with sentences; org is the log's organization (None: the platform's log, every org)."""
    events = list(events)
    names = _load_names(events, org)
    return [_entry(e, names) for e in events]


def _load_names(events: list[AuditEvent], org: Organization | None) -> _Names:
    """Every user and key the events name, in at most one query each (actors and orgs come with the page)."""
    emails = {e.target.lower() for e in events if e.action in _EMAIL_TARGETS and "@" in e.target}
    public_ids = {str(e.data.get("owner")) for e in events if isinstance(e.data, dict) and e.data.get("owner")}
    key_ids = {e.target for e in events if e.action in _KEY_TARGETS and e.target}
    users: list[User] = []
    if emails or public_ids:
        users = list(db.session.scalars(select(User).where(or_(User.email.in_(emails), User.public_id.in_(public_ids)))))
    keys: list[ApiKey] = []
    if key_ids:
        query = scoped(ApiKey, org) if org is not None else unscoped(ApiKey, reason="the platform's audit log names each event's key")
        keys = list(db.session.scalars(query.where(ApiKey.public_id.in_(key_ids))))
    return _Names(
        users_by_public_id={u.public_id: u for u in users},
        users_by_email={u.email.lower(): u for u in users},
        keys={k.public_id: k for k in keys},
    )


def _entry(event: AuditEvent, names: _Names) -> Entry:
    data = event.data if isinstance(event.data, dict) else {}
    render = _SENTENCES.get(event.action, _fallback)
    try:
        text = render(event, data, names)
    except (KeyError, TypeError, ValueError, AttributeError):
        text = _fallback(event, data, names)  # an old or odd row still reads as words rather than breaking the page
    return Entry(event=event, label=action_label(event.action), sentence=text, ids=_ids(event, data))


def _ids(event: AuditEvent, data: dict) -> tuple[tuple[str, str], ...]:
    """The raw ids behind the sentence, for support and scripts: shown in Details with a copy button each."""
    found = [("Event", event.public_id)]
    if event.actor is not None:
        found.append(("Actor", event.actor.public_id))
    if event.org is not None:
        found.append(("Organization", event.org.public_id))
    if event.target:
        kind = "Key" if event.action in _KEY_TARGETS else "Email" if event.action in _EMAIL_TARGETS else "Target"
        found.append((kind, event.target))
    if data.get("owner"):
        found.append(("Key owner", str(data["owner"])))
    return tuple(found)


# ---------------------------------------------------------------- the words


def _words(code: str) -> str:
    text = code.replace(".", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "Something happened"


def _actor(event: AuditEvent, fallback: str = "Someone") -> str:
    return event.actor.display_name if event.actor is not None else fallback


def _role(code) -> str:
    return ROLE_LABELS.get(str(code), _words(str(code)))


def _scopes(scopes) -> str:
    return ", ".join(str(s) for s in scopes) if scopes else "no scopes"


def _date(value) -> str:
    if not value:
        return "never"
    when = datetime.fromisoformat(str(value))
    return f"{when.day} {when:%b %Y}"


def _quoted(name) -> str:
    return f"\u201c{name}\u201d"


def _key_name(event: AuditEvent, data: dict, names: _Names) -> str:
    """The key as people know it: its name when recorded, else its current name, else a plain noun."""
    before = data.get("before") if isinstance(data.get("before"), dict) else {}
    name = data.get("name") if event.action != "key.updated" else before.get("name")
    if not name and (key := names.keys.get(event.target)) is not None:
        name = key.name
    return f"the API key {_quoted(name)}" if name else "an API key"


def _org_suffix(event: AuditEvent) -> str:
    return f" {event.org.name}" if event.org is not None else ""


Sentence = Callable[[AuditEvent, dict, _Names], str]


def _key_created(e: AuditEvent, d: dict, n: _Names) -> str:
    text = f"{_actor(e)} created {_key_name(e, d, n)} ({_scopes(d.get('scopes'))})"
    if d.get("owner") and (e.actor is None or d["owner"] != e.actor.public_id):
        text += f" for {n.person(public_id=d['owner'], email=d.get('owner_email'))}"
    if d.get("expires_at"):
        text += f", expiring {_date(d['expires_at'])}"
    return text


_KEY_FIELDS: dict[str, tuple[str, Callable[[object], str]]] = {
    "name": ("name", lambda v: _quoted(v)),
    "scopes": ("scopes", _scopes),
    "expires_at": ("expiry", _date),
    "rate_limit": ("rate limit", lambda v: f"{v:,} requests a minute"),
}


def _key_updated(e: AuditEvent, d: dict, n: _Names) -> str:
    before = d.get("before") if isinstance(d.get("before"), dict) else {}
    changes = []
    for name, (noun, fmt) in _KEY_FIELDS.items():
        if name in d:
            # Events recorded before the "before" values were kept say only the new value.
            changes.append(f"{noun} from {fmt(before[name])} to {fmt(d[name])}" if name in before else f"{noun} to {fmt(d[name])}")
    what = "; ".join(changes) or "its settings"
    return f"{_actor(e)} changed {_key_name(e, d, n)}: {what}"


def _seconds(value) -> str:
    seconds = int(value)
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _key_rotated(e: AuditEvent, d: dict, n: _Names) -> str:
    text = f"{_actor(e)} rotated {_key_name(e, d, n)}"
    grace = int(d.get("grace_period") or 0)
    return text + (f"; the old secret kept working for {_seconds(grace)}" if grace else "; the old secret stopped working at once")


def _key_revoked(e: AuditEvent, d: dict, n: _Names) -> str:
    if e.actor is None and d.get("via") == "cli":
        return f"An operator revoked {_key_name(e, d, n)} from the command line"
    return f"{_actor(e)} revoked {_key_name(e, d, n)}"


def _key_policy(e: AuditEvent, d: dict, n: _Names) -> str:
    days = d.get("max_lifetime_days")
    lifetime = f"new keys last at most {days:,} day{'s' if days != 1 else ''}" if days else "new keys may last forever"
    return f"{_actor(e)} set the API key policy: {lifetime}; plain users may grant {_scopes(d.get('user_scopes'))}"


def _failed_login(e: AuditEvent, d: dict, n: _Names) -> str:
    who = e.actor.display_name if e.actor is not None else (e.target or "an unknown address")
    reason = " (the account is suspended)" if d.get("reason") == "suspended" else ""
    return f"A sign-in as {who} failed{reason}"


def _fallback(e: AuditEvent, d: dict, n: _Names) -> str:
    text = f"{_actor(e)}: {action_label(e.action).lower()}"
    return text + (f" ({e.target})" if e.target else "")


def _person(e: AuditEvent, n: _Names) -> str:
    return n.person(email=e.target, fallback="someone")


_SENTENCES: dict[str, Sentence] = {
    "login": lambda e, d, n: f"{_actor(e)} signed in",
    "login.failed": _failed_login,
    "logout": lambda e, d, n: f"{_actor(e)} signed out",
    "signup": lambda e, d, n: f"{_actor(e)} signed up" + (f" and created{_org_suffix(e)}" if e.org is not None else ""),
    "password.changed": lambda e, d, n: f"{_actor(e)} changed their password",
    "password.reset": lambda e, d, n: f"{_actor(e)} reset their password",
    "member.invited": lambda e, d, n: f"{_actor(e)} invited {_person(e, n)} as {_role(d.get('role', 'user'))}",
    "member.joined": lambda e, d, n: f"{_actor(e, _person(e, n))} joined{_org_suffix(e)} as {_role(d.get('role', 'user'))}",
    "member.role_changed": lambda e, d, n: f"{_actor(e)} changed {_person(e, n)}'s role from {_role(d['from'])} to {_role(d['to'])}",
    "member.removed": lambda e, d, n: f"{_actor(e)} removed {_person(e, n)}" + (f" ({_role(d['role'])})" if d.get("role") else ""),
    "invitation.revoked": lambda e, d, n: f"{_actor(e)} revoked the invitation for {_person(e, n)}",
    "org.created": lambda e, d, n: f"{_actor(e)} created the organization{_org_suffix(e) or ' ' + e.target}",
    "org.suspended": lambda e, d, n: f"{_actor(e)} suspended the organization{_org_suffix(e) or ' ' + e.target}",
    "org.restored": lambda e, d, n: f"{_actor(e)} restored the organization{_org_suffix(e) or ' ' + e.target}",
    "user.suspended": lambda e, d, n: f"{_actor(e)} suspended {_person(e, n)}",
    "user.restored": lambda e, d, n: f"{_actor(e)} restored {_person(e, n)}",
    "key.created": _key_created,
    "key.updated": _key_updated,
    "key.rotated": _key_rotated,
    "key.revoked": _key_revoked,
    "key.policy_changed": _key_policy,
    "theme.published": lambda e, d, n: f"{_actor(e)} published theme version {d['number']}",
    "theme.reverted": lambda e, d, n: f"{_actor(e)} brought back theme version {d['from']} (published as version {d['number']})",
    "theme.reset": lambda e, d, n: f"{_actor(e)} reset the theme to the platform's look (version {d['number']})",
    "theme.js_allowed": lambda e, d, n: f"{_actor(e)} allowed custom JavaScript for{_org_suffix(e) or ' ' + e.target}",
    "theme.js_disallowed": lambda e, d, n: f"{_actor(e)} turned custom JavaScript off for{_org_suffix(e) or ' ' + e.target}",
}
