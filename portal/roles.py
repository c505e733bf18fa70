"""The one permission map: which role may do what. Pages and API check it through tenancy."""

ORG_ROLES = ("org_admin", "billing_admin", "user")
PLATFORM_ROLES = ("super_admin", "support_agent")

ROLE_LABELS = {
    "org_admin": "Org admin",
    "billing_admin": "Billing admin",
    "user": "User",
    "super_admin": "Super admin",
    "support_agent": "Support agent",
}

PERMISSIONS = {
    "org.view": "See the organization's dashboard",
    "members.view": "See the member list",
    "members.manage": "Invite, re-role and remove members",
    "audit.view": "Read the organization's audit log",
    "org.settings": "Change organization settings and branding",
    "billing.manage": "Manage plan, payment methods and invoices",
    "keys.create": "Create API keys for oneself",
    "keys.manage": "Manage every API key of the organization",
    "workflows.run": "Run workflows",
    "workflows.edit": "Create and edit workflows",
    "tickets.create": "File support tickets",
    "tickets.view_all": "See every ticket of the organization",
    "notifications.manage": "Send notifications and edit templates",
    "platform.admin": "Run the platform: every organization and user",
    "platform.support": "Work every organization's support queue",
}

_MEMBER = {"org.view", "members.view", "keys.create", "workflows.run", "tickets.create"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "user": frozenset(_MEMBER),
    "billing_admin": frozenset(_MEMBER | {"billing.manage"}),
    "org_admin": frozenset(
        _MEMBER
        | {
            "members.manage",
            "audit.view",
            "org.settings",
            "billing.manage",
            "keys.manage",
            "workflows.edit",
            "tickets.view_all",
            "notifications.manage",
        }
    ),
    "super_admin": frozenset({"platform.admin", "platform.support"}),
    "support_agent": frozenset({"platform.support"}),
}


def role_allows(role: str | None, permission: str) -> bool:
    """True when `role` carries `permission`."""
    return permission in ROLE_PERMISSIONS.get(role or "", frozenset())


def permission_matrix() -> list[tuple[str, str, dict[str, bool]]]:
    """Rows of (permission, description, {role: allowed}) for the org roles, as shown on the members page."""
    return [
        (perm, desc, {role: role_allows(role, perm) for role in ORG_ROLES})
        for perm, desc in PERMISSIONS.items()
        if not perm.startswith("platform.")
    ]
