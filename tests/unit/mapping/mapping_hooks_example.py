"""Hooks used by the mapping tests (imported by their module:function path)."""

from freshforce.mapping import Amend, Fail, HookContext, Skip


def tag_vip(context: HookContext) -> Amend | None:
    if "vip" in str(context.source.get("note") or ""):
        return Amend({"Account.Type": "VIP"}, drop=["Account.Phone"])
    return None


def skip_internal(context: HookContext) -> Skip | None:
    email = str(context.change.get("Contact.Email") or "")
    return Skip(f"internal address {email}") if email.endswith("@example.com") else None


def refuse_blocked(context: HookContext) -> Fail | None:
    return Fail("client is blocked") if context.source.get("vis_state") == 1 else None


def explode(context: HookContext) -> None:
    raise RuntimeError(f"boom for {context.record_key}")


def confused(context: HookContext) -> str:
    return "yes"
