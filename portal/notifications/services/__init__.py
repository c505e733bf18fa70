"""The notification service's modules, one concern each; `portal.notifications.service` re-exports them."""
