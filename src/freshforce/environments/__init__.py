"""Environments: versioned configuration per profile, hot reload, checks against an org, promotion.

A profile (``dev``, ``qa``, ``prod`` or any settings-file section) is an environment with its own
store; its ``config_versions`` rows record every configuration applied there.
"""

from freshforce.environments.versions import (
    apply_directory,
    current_author,
    rollback,
    version_maps,
)
from freshforce.environments.watch import ConfigWatch, running_maps

__all__ = [
    "ConfigWatch",
    "apply_directory",
    "current_author",
    "rollback",
    "running_maps",
    "version_maps",
]
