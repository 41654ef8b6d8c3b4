"""The webhook-ingest baseline: a bare FastAPI app that stores each POSTed body with one
SQLite INSERT (WAL, one connection, committed per request). Run by uvicorn."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiosqlite
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    db = await aiosqlite.connect(os.environ.get("BENCH_BARE_DB", "bare.db"))
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.execute("CREATE TABLE IF NOT EXISTS inbox (id TEXT PRIMARY KEY, body TEXT)")
    app.state.db = db
    yield
    await db.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


@app.post("/hook")
async def hook(request: Request) -> JSONResponse:
    body = await request.body()
    db: aiosqlite.Connection = request.app.state.db
    await db.execute("INSERT INTO inbox (id, body) VALUES (?, ?)", (str(uuid.uuid4()), body))
    await db.commit()
    return JSONResponse({"accepted": True}, status_code=202)
