"""Ports to outside services, each with a production adapter and an embedded default."""
