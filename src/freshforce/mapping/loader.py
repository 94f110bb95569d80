"""Load a configuration directory: read every file, validate all at once, compile each flow."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from freshforce.mapping.catalogue import SHIPPED_CATALOGUE, FieldCatalogue
from freshforce.mapping.compiler import compile_flow, compile_values
from freshforce.mapping.model import FlowMap, MapSet
from freshforce.mapping.problems import MappingConfigError, Problem, did_you_mean
from freshforce.mapping.yamlnodes import YamlDocument, read_yaml

__all__ = [
    "FLOWS",
    "PROFILES",
    "check_every_profile",
    "check_maps",
    "load_maps",
    "named_profiles",
    "shipped_text",
    "write_defaults",
]

FLOWS = ("clients", "invoices", "payments")
MIRROR_PREFIX = "mirror_"  # mirror_<name>.yaml: an opt-in mirror flow called mirror_<name>
PROFILES = ("dev", "qa", "prod")
VALUES = "values"
_SHIPPED_DIR = "freshforce/mapping/defaults"


def shipped_text(name: str) -> str:
    """Return the text of a shipped default file (``clients.yaml``, ``values.yaml``, ...)."""
    return (resources.files("freshforce.mapping") / "defaults" / name).read_text(encoding="utf-8")


def load_maps(
    directory: Path | None = None,
    *,
    profile: str | None = None,
    catalogue: FieldCatalogue = SHIPPED_CATALOGUE,
    base: Path | None = None,
) -> MapSet:
    """Load and compile every flow; raise :class:`MappingConfigError` listing every problem.

    A flow (or ``values.yaml``) missing from ``directory`` uses the shipped default; a missing
    directory means "all defaults".
    """
    maps, problems = check_maps(directory, profile=profile, catalogue=catalogue, base=base)
    if problems or maps is None:
        raise MappingConfigError(problems)
    return maps


def check_maps(
    directory: Path | None,
    *,
    profile: str | None = None,
    catalogue: FieldCatalogue = SHIPPED_CATALOGUE,
    base: Path | None = None,
) -> tuple[MapSet | None, list[Problem]]:
    """Validate every file of ``directory``; return the maps (None on problems) and problems.

    With ``base`` (a tenant's directory over the shared one), a file ``directory`` lacks is
    taken from ``base``, then from the shipped defaults.
    """
    problems: list[Problem] = []
    files = (_files(base, problems) if base is not None else {}) | _files(directory, problems)
    value_docs = [read_yaml(f"{_SHIPPED_DIR}/values.yaml", shipped_text("values.yaml"))]
    if VALUES in files:
        value_docs.append(_read(files[VALUES]))
    for doc in value_docs:
        problems.extend(doc.problems)
    origins: dict[str, str] = {}
    values = compile_values(value_docs, profile, problems, origins)
    values_json = json.dumps(values, sort_keys=True, default=str)
    flows: dict[str, FlowMap] = {}
    sources: dict[str, str] = {}
    with _importable(base if files else None), _importable(directory if files else None):
        for flow in FLOWS:
            doc = (
                _read(files[flow])
                if flow in files
                else read_yaml(f"{_SHIPPED_DIR}/{flow}.yaml", shipped_text(f"{flow}.yaml"))
            )
            digest = hashlib.sha256(f"{doc.text}\0{values_json}".encode()).hexdigest()
            compiled, found = compile_flow(
                doc,
                flow,
                values=values,
                catalogue=catalogue,
                content_hash=digest,
                origins=origins,
            )
            problems.extend(found)
            sources[flow] = doc.name
            if compiled is not None:
                flows[flow] = compiled
        for flow in sorted(f for f in files if f.startswith(MIRROR_PREFIX)):
            doc = _read(files[flow])
            digest = hashlib.sha256(f"{doc.text}\0{values_json}".encode()).hexdigest()
            compiled, found = compile_flow(
                doc,
                "mirror",
                values=values,
                catalogue=catalogue,
                content_hash=digest,
                origins=origins,
            )
            problems.extend(found)
            sources[flow] = doc.name
            if compiled is not None:
                flows[flow] = replace(compiled, flow=flow)
    if problems:
        return None, sorted(problems, key=lambda p: (p.file, p.line, p.column))
    return MapSet(
        MappingProxyType(flows), profile, MappingProxyType(values), MappingProxyType(sources)
    ), []


def check_every_profile(
    directory: Path | None,
    *,
    profiles: tuple[str, ...] | None = None,
    catalogue: FieldCatalogue = SHIPPED_CATALOGUE,
    base: Path | None = None,
) -> list[Problem]:
    """Validate ``directory`` once per profile; a problem some profiles lack names the others.

    A prod-only override of the wrong kind is caught while working in dev. Without
    ``profiles``: dev, qa, prod and every profile ``values.yaml`` names.
    """
    profiles = profiles or tuple(
        dict.fromkeys((*named_profiles(base), *named_profiles(directory)))
        if base is not None
        else named_profiles(directory)
    )
    found: dict[Problem, list[str]] = {}
    for profile in profiles:
        for problem in check_maps(directory, profile=profile, catalogue=catalogue, base=base)[1]:
            found.setdefault(problem, []).append(profile)
    result = [
        problem
        if len(where) == len(profiles)
        else replace(problem, message=f"{problem.message} (profile {', '.join(where)})")
        for problem, where in found.items()
    ]
    return sorted(result, key=lambda p: (p.file, p.line, p.column))


def named_profiles(directory: Path | None) -> tuple[str, ...]:
    """Return dev, qa, prod and the other profiles the ``values.yaml`` of ``directory`` names."""
    names = list(PROFILES)
    files = _files(directory, [])
    if VALUES in files:
        data = _read(files[VALUES]).data
        table = data.get("profiles") if isinstance(data, dict) else None
        if isinstance(table, dict):
            names += [str(name) for name in table if str(name) not in names]
    return tuple(names)


@contextmanager
def _importable(directory: Path | None) -> Iterator[None]:
    # Hooks may live beside the maps (freshforce/hooks.py is `hooks:tag_vip`): the directory is
    # on the import path while they are imported, and only then.
    if directory is None:
        yield
        return
    entry = str(directory.resolve())
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with suppress(ValueError):
            sys.path.remove(entry)


def _files(directory: Path | None, problems: list[Problem]) -> dict[str, Path]:
    if directory is None or not directory.is_dir():
        if directory is not None and directory.exists():
            problems.append(Problem(str(directory), 0, 0, "", "not a directory"))
        return {}
    known = (*FLOWS, VALUES)
    files: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix not in {".yaml", ".yml"}:
            continue
        if path.stem not in known and not _is_mirror(path.stem):
            hint = did_you_mean(path.stem, known)
            expected = ", ".join(f"{k}.yaml" for k in known)
            message = f"unknown file; expected {expected} or mirror_<name>.yaml{hint}"
            problems.append(Problem(str(path), 0, 0, "", message))
            continue
        if path.stem in files:
            problems.append(Problem(str(path), 0, 0, "", f"{files[path.stem].name} is here too"))
            continue
        files[path.stem] = path
    return files


def _is_mirror(stem: str) -> bool:
    name = stem.removeprefix(MIRROR_PREFIX)
    return stem.startswith(MIRROR_PREFIX) and bool(name) and name.replace("_", "").isalnum()


def _read(path: Path) -> YamlDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        doc = read_yaml(str(path), "")
        doc.problems.append(Problem(str(path), 0, 0, "", f"cannot read: {exc}"))
        return doc
    return read_yaml(str(path), text)


def write_defaults(directory: Path, *, force: bool = False) -> list[Path]:
    """Write commented copies of the shipped files into ``directory``; return what was written.

    An existing file is kept unless ``force``; raise FileExistsError naming it.
    """
    names = [f"{name}.yaml" for name in (*FLOWS, VALUES)]
    targets = [directory / name for name in names]
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        raise FileExistsError(", ".join(str(path) for path in existing))
    directory.mkdir(parents=True, exist_ok=True)
    for name, target in zip(names, targets, strict=True):
        target.write_text(shipped_text(name), encoding="utf-8")
    return targets
