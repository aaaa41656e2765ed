"""Blueprints: thin views that call assessment services."""
