"""The binder: hub id ↔ vendor id per install and kind (OCA connector's Binder), and the
claim that keeps a create on the vendor from happening twice.

The rules decided here:

- A binding row is ``bound`` (it names the vendor's id) or ``creating`` (a create on the
  vendor was claimed and is not bound yet; no vendor id). Lookups only ever see ``bound``
  rows.
- **Claim before create.** Before a plugin asks the vendor to create the record of a hub id,
  :func:`claim_create` commits a ``creating`` row. The unique (install, kind, hub id) makes
  that claim exclusive: of any number of workers claiming at once, exactly one gets a
  *fresh* claim.
- **An unfinished claim is resolved by a lookup, never by a second create.** A ``creating``
  row found later means an earlier attempt may have created the record on the vendor and died
  (timeout, crash) before binding it. Whoever takes that claim over must look the record up on
  the vendor by its own natural key first, and bind what it finds; it creates only when the
  lookup finds nothing.
- A claim is taken over only by its own holder or once it is stale (claimed longer than
  ``stale_after`` ago): a recent claim of another worker is *busy*, since that worker may be
  creating the record right now and a lookup could miss it.
- :func:`bind` completes the claim (``bound``); :func:`release_claim` drops it when the create
  definitely failed (the vendor refused it), so the next attempt creates afresh. An outcome
  that is not known (timeout, connection reset, crash) keeps the claim.

:func:`create_once` is the whole dance for a plugin: claim, look up or create, bind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from hub.core.db import Database
from hub.core.direct_sql import DirectSql, in_list
from hub.core.models import Binding
from hub.core.types import utcnow

__all__ = [
    "BOUND",
    "CREATING",
    "DEFAULT_STALE_AFTER",
    "Claim",
    "ClaimBusy",
    "CreateRefused",
    "bind",
    "bind_many",
    "claim_create",
    "create_once",
    "hub_id_of",
    "hub_ids",
    "release_claim",
    "reset_bindings",
    "vendor_id_of",
    "vendor_ids",
]

BOUND = "bound"
CREATING = "creating"
# Longer than any vendor call takes: a claim this old is an attempt that died.
DEFAULT_STALE_AFTER = timedelta(minutes=5)
# Ids per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
LOOKUP_CHUNK = 500


ClaimStatus = Literal["fresh", "unfinished", "busy", "bound"]


@dataclass(frozen=True)
class Claim:
    """The answer to :func:`claim_create`.

    ``status``: ``fresh`` (this caller claimed it first: create), ``unfinished`` (an earlier
    attempt claimed it and did not bind; this caller holds it now: look up first, then bind
    or create), ``busy`` (another worker claimed it recently: do nothing now, try later) or
    ``bound`` (bound already to ``vendor_id``: nothing to create). ``claimed_by`` /
    ``claimed_at`` are those of the claim found (for ``unfinished``, the earlier attempt's)."""

    kind: str
    hub_id: int
    status: ClaimStatus
    vendor_id: str | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None

    @property
    def fresh(self) -> bool:
        return self.status == "fresh"

    @property
    def held(self) -> bool:
        """This caller holds the claim (fresh or taken over): it may create or bind."""
        return self.status in ("fresh", "unfinished")


class CreateRefused(Exception):
    """Raised by a ``create`` callable of :func:`create_once` when the vendor definitely did
    not create the record (it refused the request, e.g. a 4xx validation error): the claim is
    released. Any other exception leaves the outcome unknown and keeps the claim."""


class ClaimBusy(RuntimeError):
    """Another worker claimed this create recently and may be doing it right now."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(
            f"the {claim.kind} {claim.hub_id} is being created by {claim.claimed_by}"
            f" (claimed at {claim.claimed_at:%Y-%m-%d %H:%M:%S}Z); try again later"
            if claim.claimed_at
            else f"the {claim.kind} {claim.hub_id} is being created; try again later"
        )
        self.claim = claim


def _where(install_id: int, kind: str, hub_id: int) -> tuple[Any, ...]:
    return (
        col(Binding.install_id) == install_id,
        col(Binding.kind) == kind,
        col(Binding.hub_id) == hub_id,
    )


# -- lookups ----------------------------------------------------------------------------


def vendor_id_of(session: Session, install_id: int, kind: str, hub_id: int) -> str | None:
    """The vendor id bound to ``hub_id``, or None (also while its create is only claimed)."""
    return session.exec(
        select(Binding.vendor_id).where(
            *_where(install_id, kind, hub_id), col(Binding.state) == BOUND
        )
    ).first()


def hub_id_of(session: Session, install_id: int, kind: str, vendor_id: str) -> int | None:
    """The hub id bound to ``vendor_id``, or None."""
    return session.exec(
        select(Binding.hub_id)
        .where(
            col(Binding.install_id) == install_id,
            col(Binding.kind) == kind,
            col(Binding.vendor_id) == vendor_id,
            col(Binding.state) == BOUND,
        )
        .order_by(col(Binding.id))
    ).first()


WHOLE_KIND_READ = 2_000  # pairs above which bind_many reads the kind's every binding


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), LOOKUP_CHUNK):
        yield unique[start : start + LOOKUP_CHUNK]


def _bound(
    session: Session,
    install_id: int,
    kind: str,
    by: Literal["hub_id", "vendor_id"],
    values: Iterable[Any],
) -> Iterator[tuple[Any, Any]]:
    """``(by, other)`` of the bound bindings whose ``by`` column is among ``values``, newest
    first (one query per :data:`LOOKUP_CHUNK` values, direct SQL: an import asks once a
    page)."""
    other = "vendor_id" if by == "hub_id" else "hub_id"
    sql = DirectSql.of(session)
    for chunk in _chunks(values):
        marks, params = in_list(chunk)
        yield from sql.rows(
            f"SELECT {by}, {other} FROM bindings WHERE install_id = :i AND kind = :k"
            f" AND state = :s AND {by} IN ({marks}) ORDER BY id DESC",
            i=install_id,
            k=kind,
            s=BOUND,
            **params,
        )


def vendor_ids(
    session: Session, install_id: int, kind: str, hub_ids: Iterable[int]
) -> dict[int, str]:
    """``{hub_id: vendor_id}`` for those of ``hub_ids`` that are bound."""
    return {
        int(hub_id): str(vendor_id)
        for hub_id, vendor_id in _bound(session, install_id, kind, "hub_id", hub_ids)
        if vendor_id is not None
    }


def hub_ids(
    session: Session, install_id: int, kind: str, vendor_ids: Iterable[str]
) -> dict[str, int]:
    """``{vendor_id: hub_id}`` for those of ``vendor_ids`` that are bound. Should two hub ids
    be bound to one vendor id, the first bound wins (as :func:`hub_id_of`): rows come newest
    first, so the oldest is written last and kept."""
    return {
        str(vendor_id): int(hub_id)
        for vendor_id, hub_id in _bound(session, install_id, kind, "vendor_id", vendor_ids)
        if vendor_id is not None
    }


# -- binding and claiming ---------------------------------------------------------------


def bind(
    session: Session,
    install_id: int,
    kind: str,
    hub_id: int,
    vendor_id: str,
    data: dict[str, Any] | None = None,
) -> Binding:
    """Bind ``hub_id`` to ``vendor_id`` (insert or update); completes a claim."""
    row = session.exec(select(Binding).where(*_where(install_id, kind, hub_id))).first()
    if row is None:
        row = Binding(
            install_id=install_id,
            kind=kind,
            hub_id=hub_id,
            vendor_id=vendor_id,
            state=BOUND,
            data=data or {},
        )
    else:
        row.vendor_id = vendor_id
        row.state = BOUND
        if data is not None:
            row.data = data
        row.updated_at = utcnow()
    session.add(row)
    return row


def bind_many(session: Session, install_id: int, kind: str, pairs: dict[int, str]) -> int:
    """Bind many ``{hub_id: vendor_id}`` at once (an import that matched its records):
    only pairs not bound so already are written (direct SQL: an import binds 100,000 at a
    time); returns how many were. Completes claims like :func:`bind`."""
    if not pairs:
        return 0
    current: dict[int, tuple[str | None, str]] = {}
    sql = DirectSql.of(session)
    select = "SELECT hub_id, vendor_id, state FROM bindings WHERE install_id = :i AND kind = :k"
    # Thousands of pairs (an import): every binding of the kind in one read of the unique
    # index's range costs less than a lookup per 500.
    if len(pairs) > WHOLE_KIND_READ:
        rows = sql.rows(select, i=install_id, k=kind)
    else:
        rows = []
        for chunk in _chunks(sorted(pairs)):
            marks, params = in_list(chunk)
            rows += sql.rows(f"{select} AND hub_id IN ({marks})", i=install_id, k=kind, **params)
    for hub_id, vendor_id, state in rows:
        if hub_id in pairs:
            current[hub_id] = (None if vendor_id is None else str(vendor_id), str(state))
    now = sql.when(utcnow())
    new_rows = []
    changed = []
    for hub_id, vendor_id in pairs.items():
        found = current.get(hub_id)
        if found is None:
            new_rows.append((install_id, kind, hub_id, vendor_id, BOUND, "{}", now))
        elif found != (vendor_id, BOUND):
            changed.append((vendor_id, BOUND, now, install_id, kind, hub_id))
    sql.insert_many(
        "bindings",
        ("install_id", "kind", "hub_id", "vendor_id", "state", "data", "updated_at"),
        new_rows,
    )
    sql.run_many(
        "UPDATE bindings SET vendor_id = :v, state = :s, claimed_at = NULL,"
        " claimed_by = NULL, updated_at = :now"
        " WHERE install_id = :i AND kind = :k AND hub_id = :h",
        changed,
    )
    return len(new_rows) + len(changed)


def reset_bindings(session: Session, install_id: int) -> int:
    """Drop every binding and claim of the install (its vendor account changed: the vendor
    ids name another account's records). Returns how many were dropped."""
    result = session.execute(delete(Binding).where(col(Binding.install_id) == install_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def claim_create(
    db: Database,
    install_id: int,
    kind: str,
    hub_id: int,
    holder: str,
    *,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> Claim:
    """Claim the create of ``hub_id`` on the vendor for ``holder``, committed before it
    returns (so before the vendor call). See the module's rules for the four answers."""
    now = utcnow()
    values = {
        "install_id": install_id,
        "kind": kind,
        "hub_id": hub_id,
        "vendor_id": None,
        "state": CREATING,
        "claimed_at": now,
        "claimed_by": holder,
        "data": {},
        "updated_at": now,
    }
    insert = sqlite_insert if db.is_sqlite else pg_insert
    # A conditional insert: of several claimers at once, the unique key lets one in; the
    # others insert nothing (PostgreSQL makes them wait for the winner's commit first).
    statement = (
        insert(Binding)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["install_id", "kind", "hub_id"])
        .returning(col(Binding.id))
    )
    # Core statements on the session's connection (an ORM-enabled update would also change
    # the objects of the session); an insert says it inserted by returning the new id.
    with db.session() as session:
        conn = session.connection()
        if conn.execute(statement).first() is not None:
            return Claim(kind, hub_id, "fresh", claimed_by=holder, claimed_at=now)
        row = conn.execute(
            select(
                col(Binding.id),
                col(Binding.state),
                col(Binding.vendor_id),
                col(Binding.claimed_by),
            )
            .add_columns(col(Binding.claimed_at))
            .where(*_where(install_id, kind, hub_id))
        ).one()
        row_id, row_state, row_vendor_id, claimed_by, claimed_at = row
        if row_state == BOUND:
            return Claim(kind, hub_id, "bound", vendor_id=row_vendor_id)
        found = Claim(kind, hub_id, "busy", claimed_by=claimed_by, claimed_at=claimed_at)
        stale = claimed_at is None or claimed_at <= now - stale_after
        if claimed_by != holder and not stale:
            return found
        # Take it over unless someone else did since we read it (same claim, same holder).
        taken = conn.execute(
            update(Binding)
            .where(
                col(Binding.id) == row_id,
                col(Binding.state) == CREATING,
                col(Binding.claimed_at) == claimed_at
                if claimed_at is not None
                else col(Binding.claimed_at).is_(None),
                col(Binding.claimed_by) == claimed_by
                if claimed_by is not None
                else col(Binding.claimed_by).is_(None),
            )
            .values(claimed_at=now, claimed_by=holder, updated_at=now)
        )
        if taken.rowcount != 1:
            return found
        return Claim(kind, hub_id, "unfinished", claimed_by=claimed_by, claimed_at=claimed_at)


def release_claim(session: Session, install_id: int, kind: str, hub_id: int) -> bool:
    """Drop the claim on ``hub_id`` (the create definitely failed); a bound binding is never
    dropped. True when there was a claim."""
    result = session.execute(
        delete(Binding).where(*_where(install_id, kind, hub_id), col(Binding.state) == CREATING)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def create_once(
    db: Database,
    install_id: int,
    kind: str,
    hub_id: int,
    holder: str,
    *,
    lookup: Callable[[], str | None],
    create: Callable[[], str],
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> str:
    """The vendor id of ``hub_id``, creating the vendor's record at most once.

    Claims the create (:func:`claim_create`); bound already → its vendor id, nothing called;
    an unfinished earlier attempt → ``lookup()`` first (the vendor's record found by its own
    natural key, or None), and ``create()`` only when it finds nothing; fresh → ``create()``.
    The id found or created is bound (completing the claim). ``create`` raising
    :class:`CreateRefused` releases the claim; any other exception keeps it, so the next
    attempt looks up. Raises :class:`ClaimBusy` while another worker holds a recent claim."""
    claim = claim_create(db, install_id, kind, hub_id, holder, stale_after=stale_after)
    if claim.status == "bound":
        assert claim.vendor_id is not None
        return claim.vendor_id
    if claim.status == "busy":
        raise ClaimBusy(claim)
    vendor_id = lookup() if claim.status == "unfinished" else None
    if vendor_id is None:
        try:
            vendor_id = create()
        except CreateRefused:
            with db.session() as session:
                release_claim(session, install_id, kind, hub_id)
            raise
    with db.session() as session:
        bind(session, install_id, kind, hub_id, vendor_id)
    return vendor_id
