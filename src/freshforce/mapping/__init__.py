"""Mapping configuration: schema, transforms, expressions, validation."""
