"""Clients for the two remote systems."""
