"""The typical alternative: /v1/casualties written the way most teams would write it.

FastAPI, pydantic response models, SQLAlchemy ORM classes with relationships loaded
by `joinedload`/`selectinload`, an async session per request. Same tables, same JSON
shape, same keyset order, same granian and workers as the product. Not shipped: it
exists so the benchmark can say what the product's design buys.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel
from sqlalchemy import ForeignKey, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    joinedload,
    mapped_column,
    relationship,
)

from service.database import sqlalchemy_url

# ---------------------------------------------------------------- ORM


class Base(DeclarativeBase):
    pass


class Actor(Base):
    __tablename__ = "actors"

    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]


class Place(Base):
    __tablename__ = "places"

    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]


class Citation(Base):
    __tablename__ = "citations"

    id: Mapped[int] = mapped_column(primary_key=True)
    fact_id: Mapped[str] = mapped_column(ForeignKey("facts.id"))
    position: Mapped[int]
    source_id: Mapped[str]
    quote: Mapped[str]
    start_offset: Mapped[int]
    end_offset: Mapped[int]


class FactActor(Base):
    __tablename__ = "fact_actors"

    fact_id: Mapped[str] = mapped_column(ForeignKey("facts.id"), primary_key=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), primary_key=True)
    role: Mapped[str] = mapped_column(primary_key=True)
    actor: Mapped[Actor] = relationship()


class Fact(Base):
    __tablename__ = "facts"

    id: Mapped[str] = mapped_column(primary_key=True)
    crisis_id: Mapped[str]
    kind: Mapped[str]
    claimant_id: Mapped[str | None] = mapped_column(ForeignKey("actors.id"))
    verification: Mapped[str]
    occurred_on: Mapped[dt.date | None]
    date_precision: Mapped[str | None]
    date_note: Mapped[str | None]
    quantity_key: Mapped[str | None]
    place_id: Mapped[str | None] = mapped_column(ForeignKey("places.id"))
    note: Mapped[str | None]

    claimant: Mapped[Actor | None] = relationship()
    place: Mapped[Place | None] = relationship()
    citations: Mapped[list[Citation]] = relationship(order_by=Citation.position)
    actor_links: Mapped[list[FactActor]] = relationship(
        order_by=(FactActor.role, FactActor.actor_id)
    )


class Casualty(Base):
    __tablename__ = "casualties"

    fact_id: Mapped[str] = mapped_column(ForeignKey("facts.id"), primary_key=True)
    category: Mapped[str]
    victim_group: Mapped[str]
    count: Mapped[int]
    count_max: Mapped[int | None]
    hedge: Mapped[str]
    fact: Mapped[Fact] = relationship()


# ---------------------------------------------------------------- pydantic


class RefOut(BaseModel):
    id: str
    name: str


class ActorRefOut(BaseModel):
    id: str
    name: str
    role: str


class CitationOut(BaseModel):
    source_id: str
    quote: str
    start: int
    end: int


class PartialDateOut(BaseModel):
    value: dt.date
    precision: str


class FigureOut(BaseModel):
    count: int
    count_max: int | None
    hedge: str


class CasualtyOut(BaseModel):
    kind: Literal["casualty"] = "casualty"
    id: str
    crisis_id: str
    verification: str
    date: PartialDateOut | None
    date_note: str | None
    quantity_key: str | None
    claimant: RefOut | None
    place: RefOut | None
    note: str | None
    citations: list[CitationOut]
    actors: list[ActorRefOut]
    category: str
    victim_group: str
    figure: FigureOut


class PageOut(BaseModel):
    items: list[CasualtyOut]
    next_cursor: str | None


def to_schema(row: Casualty) -> CasualtyOut:
    fact = row.fact
    return CasualtyOut(
        id=fact.id,
        crisis_id=fact.crisis_id,
        verification=fact.verification,
        date=PartialDateOut(value=fact.occurred_on, precision=fact.date_precision or "day")
        if fact.occurred_on
        else None,
        date_note=fact.date_note,
        quantity_key=fact.quantity_key,
        claimant=RefOut(id=fact.claimant.id, name=fact.claimant.name) if fact.claimant else None,
        place=RefOut(id=fact.place.id, name=fact.place.name) if fact.place else None,
        note=fact.note,
        citations=[
            CitationOut(
                source_id=c.source_id, quote=c.quote, start=c.start_offset, end=c.end_offset
            )
            for c in fact.citations
        ],
        actors=[
            ActorRefOut(id=link.actor.id, name=link.actor.name, role=link.role)
            for link in fact.actor_links
        ],
        category=row.category,
        victim_group=row.victim_group,
        figure=FigureOut(count=row.count, count_max=row.count_max, hedge=row.hedge),
    )


# ---------------------------------------------------------------- app


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as s:
        yield s


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_engine(
            sqlalchemy_url(os.environ["DATABASE_URL"]),
            pool_size=int(os.environ.get("POOL_MAX_SIZE", "4")),
            max_overflow=0,
        )
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/casualties", response_model=PageOut)
    async def list_casualties(
        db: Annotated[AsyncSession, Depends(session)],
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: str | None = None,
    ) -> PageOut:
        query = (
            select(Casualty)
            .join(Casualty.fact)
            .options(
                joinedload(Casualty.fact).joinedload(Fact.claimant),
                joinedload(Casualty.fact).joinedload(Fact.place),
                joinedload(Casualty.fact).selectinload(Fact.citations),
                joinedload(Casualty.fact)
                .selectinload(Fact.actor_links)
                .joinedload(FactActor.actor),
            )
            .order_by(Casualty.fact_id)
            .limit(limit + 1)
        )
        if cursor:
            query = query.where(Casualty.fact_id > base64.urlsafe_b64decode(cursor).decode())
        rows = list((await db.scalars(query)).unique())
        items = [to_schema(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = base64.urlsafe_b64encode(items[-1].id.encode()).decode()
        return PageOut(items=items, next_cursor=next_cursor)

    return app
