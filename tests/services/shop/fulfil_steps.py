"""Digital items for the fulfilment tests: a key pool, a file, store credit (services only)."""
from __future__ import annotations

from app.services.audit import Actor
from app.services.shop import catalogue, digital

SELLER = Actor("other_seller@test.example", "127.0.0.1")


def digital_item(people: dict, kind: str, keys: int = 0, credit: int = 0,
                 title: str = "Gem pack", price: str = "9.99") -> int:
    """An EUR item of other_seller delivered as `kind`; its id is also people[title]."""
    seller = people["other_seller"]
    item_id = catalogue.create_item(seller, title, "", price, "EUR", 0, SELLER)
    digital.set_kind(seller, item_id, kind, credit, SELLER)
    if keys:
        digital.add_keys(seller, item_id, "\n".join(f"KEY-{i:04d}" for i in range(keys)),
                         SELLER)
    if kind == "download":
        digital.attach_file(seller, item_id, "book.epub", "application/epub+zip",
                            b"the whole book", SELLER)
        catalogue.update_item(seller, item_id, title, "", price, "EUR", 10, True, SELLER)
    if kind == "store_credit":
        catalogue.update_item(seller, item_id, title, "", price, "EUR", 10, True, SELLER)
    people[title] = item_id
    return item_id
