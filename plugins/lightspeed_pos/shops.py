"""Shops: merging what Lightspeed lists into the install's ``shops``, and the rules of the
shop → warehouses mapping.

Rules decided here:

- ``refresh-shops`` keeps every existing mapping (warehouses, employee, register) and
  refreshes the names and each shop's registers; a new shop arrives unmapped; a shop that
  is gone from Lightspeed (or archived there) is kept, ``archived``, and stops syncing.
- Validation (a config change is refused with 422 naming each field): every mapped
  warehouse exists; a warehouse is mapped to at most one shop; a shop's register is one of
  its own registers; its employee (and the install's defaults) one of the account's as last
  read, when any were read; the returns warehouse exists.
- Which shops sync and from which warehouses (:func:`effective_shops`): with the mapping
  on, every shop that is not archived and has warehouses, with its own; with it off, one
  shop (``shop_id`` of the install's first listed shop) fed by every warehouse of the tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hub.plugin import ConfigProblem
from plugins.lightspeed_pos.config import EmployeeRef, PosConfig, RegisterRef, ShopMapping

__all__ = ["effective_shops", "merge_shops", "validate_mapping"]


def merge_shops(
    existing: Sequence[ShopMapping],
    shops: Iterable[Mapping[str, Any]],
    registers: Iterable[Mapping[str, Any]],
) -> tuple[list[ShopMapping], dict[str, int]]:
    """Merge Lightspeed's Shop and Register records (raw API dicts) into ``existing``.

    Returns the new list (Lightspeed's order for live shops, archived ones after) and counts
    ``{added, updated, archived}``."""
    by_shop: dict[int, list[RegisterRef]] = {}
    for reg in registers:
        if str(reg.get("archived", "false")).lower() == "true":
            continue
        shop_id = int(reg.get("shopID") or 0)
        if shop_id:
            by_shop.setdefault(shop_id, []).append(
                RegisterRef(register_id=int(reg["registerID"]), name=str(reg.get("name") or ""))
            )
    old = {s.shop_id: s for s in existing}
    merged: list[ShopMapping] = []
    counts = {"added": 0, "updated": 0, "archived": 0}
    live: set[int] = set()
    for raw in shops:
        shop_id = int(raw.get("shopID") or 0)
        if not shop_id or str(raw.get("archived", "false")).lower() == "true":
            continue
        live.add(shop_id)
        regs = sorted(by_shop.get(shop_id, []), key=lambda r: r.register_id)
        name = str(raw.get("name") or "")
        before = old.get(shop_id)
        if before is None:
            merged.append(ShopMapping(shop_id=shop_id, name=name, registers=regs))
            counts["added"] += 1
            continue
        after = before.model_copy(update={"name": name, "registers": regs, "archived": False})
        if after != before:
            counts["updated"] += 1
        merged.append(after)
    for shop in existing:
        if shop.shop_id in live:
            continue
        if not shop.archived:
            counts["archived"] += 1
        merged.append(shop.model_copy(update={"archived": True}))
    return merged, counts


def employees_of(records: Iterable[Mapping[str, Any]]) -> list[EmployeeRef]:
    """The account's usable employees (not archived, not locked out), by id."""
    found = []
    for raw in records:
        if str(raw.get("archived", "false")).lower() == "true":
            continue
        if str(raw.get("lockOut", "false")).lower() == "true":
            continue
        name = " ".join(str(raw.get(k) or "") for k in ("firstName", "lastName")).strip()
        found.append(EmployeeRef(employee_id=int(raw["employeeID"]), name=name))
    return sorted(found, key=lambda e: e.employee_id)


def validate_mapping(config: PosConfig, location_codes: Iterable[str]) -> list[ConfigProblem]:
    """The problems of the install's shop mapping (see the module's rules)."""
    codes = set(location_codes)
    problems: list[ConfigProblem] = []
    owner: dict[str, int] = {}
    seen_shops: set[int] = set()
    employees = {e.employee_id for e in config.employees}
    for n, shop in enumerate(config.shops):
        where = f"shops[{n}]"
        if shop.shop_id in seen_shops:
            problems.append(
                ConfigProblem(f"{where}.shop_id", f"shop {shop.shop_id} is listed twice")
            )
        seen_shops.add(shop.shop_id)
        for w, code in enumerate(shop.warehouses):
            if code not in codes:
                problems.append(
                    ConfigProblem(f"{where}.warehouses[{w}]", f"warehouse {code!r} does not exist")
                )
            other = owner.get(code)
            if other is not None and other != shop.shop_id:
                problems.append(
                    ConfigProblem(
                        f"{where}.warehouses[{w}]",
                        f"warehouse {code!r} is mapped to shop {other} already; a warehouse "
                        "feeds one shop",
                    )
                )
            owner.setdefault(code, shop.shop_id)
        if shop.register_id is not None and shop.register_id not in {
            r.register_id for r in shop.registers
        }:
            problems.append(
                ConfigProblem(
                    f"{where}.register_id",
                    f"register {shop.register_id} is not a register of shop {shop.shop_id}"
                    " (refresh the shops to read its registers)",
                )
            )
        if shop.employee_id is not None and employees and shop.employee_id not in employees:
            problems.append(
                ConfigProblem(
                    f"{where}.employee_id",
                    f"employee {shop.employee_id} is not an active employee of the account",
                )
            )
    if config.employee_id is not None and employees and config.employee_id not in employees:
        problems.append(
            ConfigProblem("employee_id", f"employee {config.employee_id} is not an active employee")
        )
    if config.register_id is not None and config.shops:
        known = {r.register_id for s in config.shops for r in s.registers}
        if known and config.register_id not in known:
            problems.append(
                ConfigProblem("register_id", f"register {config.register_id} is not known")
            )
    if config.returns_warehouse and config.returns_warehouse not in codes:
        problems.append(
            ConfigProblem(
                "returns_warehouse", f"warehouse {config.returns_warehouse!r} does not exist"
            )
        )
    return problems


def effective_shops(config: PosConfig, location_codes: Sequence[str]) -> dict[int, list[str]]:
    """Shop id → the warehouses that feed it and that its sales take from."""
    if config.shops_mapping_enabled:
        return {s.shop_id: list(s.warehouses) for s in config.active_shops()}
    live = [s for s in config.shops if not s.archived]
    if not live:
        return {}
    return {live[0].shop_id: list(location_codes)}
