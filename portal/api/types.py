"""Field types the API schemas share, with the bounds the server enforces (and the document shows)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from portal.pagination import MAX_PAGE, MAX_PER_PAGE

PageNumber = Annotated[int, Field(ge=1, le=MAX_PAGE, description=f"Page number, from 1 to {MAX_PAGE:,}")]
PerPage = Annotated[int, Field(ge=1, le=MAX_PER_PAGE, description=f"Items a page, 1 to {MAX_PER_PAGE}")]
SearchText = Annotated[str, Field(max_length=100, description="Search text")]
OrgSlug = Annotated[str, Field(max_length=40, description="Organization slug (session auth with several orgs)")]
# A syntactically plausible address; delivery is what proves it.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
EmailAddress = Annotated[str, Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)]

# What a person reads when a value breaks one of these patterns (pydantic would quote the regex).
PATTERN_MESSAGES = {EMAIL_PATTERN: "Enter a valid email address."}
