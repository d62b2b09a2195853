"""A job's file sent once: streamed in chunks from a thread (memory stays bounded
whatever its size), then deleted, whether the download finished or was broken off."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from litestar.response import Stream

from widget_server.jobs.service import Download

CHUNK = 256 * 1024


def send_once(download: Download) -> Stream:
    return Stream(
        _chunks(download.path),
        media_type=download.media_type,
        headers={
            "content-disposition": f'attachment; filename="{download.filename}"',
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    file: BinaryIO = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk
    finally:
        file.close()
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)
