"""Seed files: mechanics and orders loaded at start-up.

Format: ``{"goods": [<mechanic>, ...], "orders": [<order>, ...]}``, each entry
shaped exactly like the body of ``POST /api/goods`` / ``POST /api/orders``.
Both lists are optional. Seeded orders are registered at start-up and go
through the usual status progression from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .calculation import Good, Mechanic
from .engine import Engine
from .payloads import PayloadError, mechanic_from, order_from, parse_json

DEMO_SEED = "demo_seed.json"


class SeedError(ValueError):
    """A seed file that cannot be read or does not follow the format."""


@dataclass(frozen=True)
class Seed:
    mechanics: tuple[Mechanic, ...] = ()
    orders: tuple[tuple[str, tuple[Good, ...]], ...] = ()


def parse_seed(raw: bytes | str) -> Seed:
    try:
        document = parse_json(raw)
        if not isinstance(document, dict):
            raise PayloadError("must be a JSON object with `goods` and/or `orders` lists")
        unknown = set(document) - {"goods", "orders"}
        if unknown:
            raise PayloadError(f"unknown key(s): {', '.join(sorted(unknown))}")
        goods = document.get("goods", [])
        orders = document.get("orders", [])
        if not isinstance(goods, list) or not isinstance(orders, list):
            raise PayloadError("`goods` and `orders` must be lists")
        mechanics = tuple(mechanic_from(item, f"goods[{i}]") for i, item in enumerate(goods))
        parsed_orders = tuple(order_from(item, f"orders[{i}]") for i, item in enumerate(orders))
    except PayloadError as exc:
        raise SeedError(str(exc)) from None
    return Seed(mechanics=mechanics, orders=parsed_orders)


def read_seed_file(path: str) -> Seed:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SeedError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        return parse_seed(raw)
    except SeedError as exc:
        raise SeedError(f"{path!r}: {exc}") from None


def read_demo_seed() -> Seed:
    try:
        raw = resources.files(__package__).joinpath(DEMO_SEED).read_bytes()
    except OSError as exc:
        raise SeedError(f"the bundled {DEMO_SEED} cannot be read: {exc.strerror or exc}") from None
    return parse_seed(raw)


def apply_seed(engine: Engine, seed: Seed) -> None:
    """Register the seed's mechanics and orders (not counted as requests); a duplicate is an error."""
    for mechanic in seed.mechanics:
        if engine.add_mechanic(mechanic, count=False) != 200:
            raise SeedError(f"mechanic {mechanic.match!r} is registered twice")
    for number, goods in seed.orders:
        if engine.add_order(number, goods, count=False) != 202:
            raise SeedError(f"order {number!r} is registered twice")
