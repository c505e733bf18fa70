"""The keys domain's service modules, one concern each; portal.keys.service is the façade callers use."""
