"""Issuer-side tools: making the documents huren verifies (docs/formats.md)."""
