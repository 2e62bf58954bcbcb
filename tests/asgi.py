"""Calling an app object in-process over ASGI, background tasks included, as uvicorn would."""

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI


def call(application: FastAPI, method: str, path: str, **options: Any) -> httpx.Response:
    """One request; returns once the ASGI call (response and background tasks) is over."""
    return asyncio.run(_call(application, method, path, **options))


async def _call(application: FastAPI, method: str, path: str, **options: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, **options)
