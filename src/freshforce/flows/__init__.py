"""Business flows: clients, invoices, payments, mirrors; each one file of rules on the engine.

``builtin_flows(runtime, maps)`` is what ``freshforce run`` and ``freshforce worker`` register:
flow name → :class:`~freshforce.engine.Flow`, built from the runtime (clients, store, clock)
and the compiled flow maps of the configuration directory. A tenant with maps of its own
(``<config>/tenants/<tenant>/``, see ``freshforce.mapping.tenants``) runs its jobs through flows
built from those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from freshforce.engine import Flow
    from freshforce.mapping import MapSet
    from freshforce.runtime import Runtime

__all__ = ["builtin_flows"]


def builtin_flows(
    runtime: Runtime, maps: MapSet, tenant_maps: Mapping[str, MapSet] | None = None
) -> dict[str, Flow]:
    """Return the shipped flows whose maps ``maps`` holds, each tenant's own maps applied.

    ``tenant_maps`` (tenant -> its maps) defaults to the tenants' directories under the
    configuration directory (``load_tenant_maps``; it raises ``MappingConfigError``).
    """
    from freshforce.engine.tenant_flow import TenantFlows  # noqa: PLC0415 - see below
    from freshforce.mapping.tenants import load_tenant_maps  # noqa: PLC0415 - see below

    flows = _flows(runtime, maps)
    if tenant_maps is None:
        tenant_maps = load_tenant_maps(runtime.settings.config_dir, profile=maps.profile)
    if not tenant_maps:
        return flows
    own = {tenant: _flows(runtime, their) for tenant, their in tenant_maps.items()}
    return {
        name: TenantFlows(name, flow, {t: f[name] for t, f in own.items() if name in f})
        for name, flow in flows.items()
    }


def _flows(runtime: Runtime, maps: MapSet) -> dict[str, Flow]:
    # Commands import the flows lazily, so the CLI starts without them.
    from freshforce.flows.clients import ClientsFlow  # noqa: PLC0415
    from freshforce.flows.invoices import invoices_flow  # noqa: PLC0415
    from freshforce.flows.mirror import mirror_flows  # noqa: PLC0415
    from freshforce.flows.payments import payments_flow  # noqa: PLC0415

    flows: dict[str, Flow] = {}
    if "clients" in maps.flows:
        flows["clients"] = ClientsFlow(maps["clients"], runtime.pair, runtime.engine)
    if "invoices" in maps.flows:
        flows["invoices"] = invoices_flow(runtime, maps)
    if "payments" in maps.flows:
        flows["payments"] = payments_flow(runtime, maps)
    flows |= mirror_flows(runtime, maps)  # mirror_<name>.yaml maps, opt-in
    if runtime.settings.platform_event_channels:
        from freshforce.flows.sync_requests import REJECTED_FLOW, rejected_requests_flow  # noqa: PLC0415

        flows[REJECTED_FLOW] = rejected_requests_flow()
    _announce(runtime, flows)
    return flows


def _announce(runtime: Runtime, flows: dict[str, Flow]) -> None:
    """Give the flows whose facts ``platform_event_publish`` names the outbox hook."""
    from freshforce.flows.announce import outbox_announce  # noqa: PLC0415
    from freshforce.flows.invoices import InvoicesFlow  # noqa: PLC0415
    from freshforce.flows.payments import PaymentsFlow  # noqa: PLC0415

    kinds = frozenset(runtime.settings.platform_event_publish)
    if not kinds:
        return
    hook = outbox_announce(kinds, runtime.clock)
    for flow in flows.values():
        if isinstance(flow, InvoicesFlow | PaymentsFlow):
            flow.announce = hook
