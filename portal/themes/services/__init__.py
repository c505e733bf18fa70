"""The theme service's modules, one concern each; `portal.themes.service` re-exports them."""
