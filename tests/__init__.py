"""VetrAI Portal tests. A regular package, so that `tests.*` imports never resolve to a stray top-level
`tests` package some dependency installs into site-packages (llm-katan does)."""
