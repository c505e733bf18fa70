"""The workflow service modules, one concern each; portal.workflows.service re-exports what callers use."""
