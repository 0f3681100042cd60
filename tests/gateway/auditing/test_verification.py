"""Verifying the chain a stretch at a time proves what one pass proves: the same counts
on an intact log, and the same first broken event wherever the break lies."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, delete, update

from audit.store import audit_chain, audit_events
from gateway.auditing import verification
from gateway.auditing.repository import chain_extent
from gateway.auditing.service import verify
from gateway.core.db import sync_url, transaction
from gateway.settings import Settings
from tests.fixtures.audit import append_events


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A checkpoint every 4 events, so that every stretch holds signed checkpoints.
    return settings.model_copy(update={"audit_checkpoint_every": 4})


async def _verified_in_stretches(app: FastAPI, stretch: int) -> list[verification.ChainCheck]:
    state = app.state.gateway
    async with transaction(state.sessions) as session:
        check = verification.start(*await chain_extent(session))
    steps = [check]
    while not check.done:
        check = await asyncio.to_thread(
            verification.step, state.settings.database_url, check, stretch
        )
        steps.append(check)
    return steps


def _tamper(url: str, statement: object) -> None:
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]
    engine.dispose()


async def test_stretches_add_up_to_one_pass(app: FastAPI, settings: Settings) -> None:
    await append_events(settings.database_url, 23)
    await app.state.gateway.sealer.seal_now()
    await append_events(settings.database_url, 2, start=23)  # a tail not yet sealed

    steps = await _verified_in_stretches(app, stretch=5)
    final = steps[-1]
    whole = await asyncio.to_thread(verify, settings.database_url)
    assert whole.ok, whole
    assert final.ok, final
    assert len(steps) - 1 == 5  # 1-5, 6-10, 11-15, 16-20, then 21 to the end
    assert (final.events_checked, final.checkpoints_checked) == (
        whole.events_checked,
        whole.checkpoints_checked,
    )
    assert (final.first_seq, final.last_seq, final.head_hash) == (
        whole.first_seq,
        whole.last_seq,
        whole.head_hash,
    )
    assert final.checkpoints_checked >= 5
    percents = [s.percent for s in steps]
    assert percents == sorted(percents)
    assert percents[0] == 0
    assert percents[-1] == 100


async def test_a_break_in_a_middle_stretch_is_found_where_one_pass_finds_it(
    app: FastAPI, settings: Settings
) -> None:
    await append_events(settings.database_url, 23)
    await app.state.gateway.sealer.seal_now()
    url = settings.database_url

    _tamper(url, update(audit_events).where(audit_events.c.seq == 12).values(outcome="ok!"))
    final = (await _verified_in_stretches(app, stretch=5))[-1]
    whole = await asyncio.to_thread(verify, url)
    assert (final.ok, final.first_broken_seq) == (False, 12)
    assert (whole.ok, whole.first_broken_seq, whole.reason) == (False, 12, final.reason)


async def test_deleted_events_at_the_end_of_a_stretch_are_found(
    app: FastAPI, settings: Settings
) -> None:
    await append_events(settings.database_url, 23)
    await app.state.gateway.sealer.seal_now()
    url = settings.database_url

    # Events 9 and 10 gone, their chain entries kept: stretch 6-10 ends early.
    _tamper(url, delete(audit_events).where(audit_events.c.seq.in_([9, 10])))
    final = (await _verified_in_stretches(app, stretch=5))[-1]
    assert (final.ok, final.first_broken_seq) == (False, 9)
    assert "missing" in (final.reason or "")
    # A chain entry gone with its event: the next stretch has no anchor.
    _tamper(url, delete(audit_chain).where(audit_chain.c.seq.in_([9, 10])))
    assert (await _verified_in_stretches(app, stretch=5))[-1].ok is False
