"""A member's home page: what needs them and what happened lately in their organization, read from each domain."""
