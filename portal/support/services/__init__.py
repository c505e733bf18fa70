"""Support's service modules, one concern each; `portal.support.service` re-exports what callers use."""
