"""Security tests: tenant isolation across every route, CSRF, headers and sessions, rate limits."""
