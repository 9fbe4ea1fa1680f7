"""One item, start to finish: request, retry, stream to a ``.part`` file, rename.

The rules that keep files honest live here:

* a body is written to ``.<name>.part`` and renamed with ``os.replace`` only
  once its length is checked, so a final name never holds a short file;
* a ``.part`` left by a failed or interrupted attempt is continued with a
  ``Range`` request (206), or started over when the server answers 200;
* every file operation runs in the batch's :class:`FileThread`, never on the loop;
* client errors (:class:`HttpClientError`, ``OSError``, timeouts) are turned
  into an outcome at one boundary (``_mapped_errors``); ``CancelledError``
  always propagates.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from awaitkit.download._files import (
    PartFile,
    open_part,
    remove_quietly,
    write_whole,
)
from awaitkit.download._filethread import FileThread
from awaitkit.download._names import (
    check_name,
    child_path,
    filename_from_content_disposition,
    filename_from_url,
    partial_name,
    sanitize_filename,
)
from awaitkit.download._options import (
    DownloadOptions,
    backoff_delay,
    parse_retry_after,
)
from awaitkit.download._result import DownloadResult, DownloadStatus
from awaitkit.http import (
    BodyTooLarge,
    ConnectError,
    HttpClient,
    HttpClientError,
    InvalidURL,
    RedirectError,
    Response,
    ServerDisconnected,
    TooManyRedirects,
    TruncatedBody,
)

__all__ = ["Fetcher", "Job", "open_client"]

T = TypeVar("T")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.ASCII)
_METADATA_LIMIT = 64 * 1024  # a metadata.json larger than this is hostile
_FLUSH_AT = 256 * 1024  # streamed bodies reach the disk in writes of this size


@dataclass(frozen=True, slots=True)
class Job:
    """One thing to download.

    ``name`` fixes the file name (sanitised anyway); otherwise it comes from
    the URL path.  With ``metadata_url``, a JSON document is fetched first and
    its ``name_field`` (spaces made ``_``, as in the book's flags3) plus the
    URL's extension names the file.
    """

    url: str
    name: str | None = None
    metadata_url: str | None = None
    name_field: str = "country"


class _Retry(Exception):
    """An attempt failed in a way another attempt may not."""

    def __init__(
        self, why: str, *, wait: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(why)
        self.wait = wait  # the server's Retry-After, already capped
        self.status = status


class _Final(Exception):
    """An attempt ended in a way no retry can change."""

    def __init__(self, why: str, *, status: int | None = None) -> None:
        super().__init__(why)
        self.status = status


class _NotFound(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def open_client(options: DownloadOptions) -> HttpClient:
    """The one :class:`HttpClient` of a batch, sized and timed by ``options``.

    Bodies are saved as sent (``Accept-Encoding: identity``), and the pool's
    limits are the concurrency limits, so requests in flight never exceed them.
    """
    return HttpClient(
        limit=options.concurrency,
        limit_per_host=options.per_host or None,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        user_agent=options.user_agent,
    )


class Fetcher:
    """Downloads single :class:`Job` s into ``dest`` through one client.

    File work goes to ``files``, a running :class:`FileThread`.

    ``parts`` is the set of ``.part`` file names known to exist in ``dest``
    (scanned once per batch), so resuming costs no ``stat`` per item.
    """

    def __init__(
        self,
        client: HttpClient,
        dest: Path,
        options: DownloadOptions,
        *,
        files: FileThread,
        parts: set[str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.files = files
        self.dest = dest
        self.options = options
        self.parts = parts if parts is not None else set()
        self._rng = rng or random.Random()
        # Two items with the same file name must not share a .part at once:
        # the name's writer, and a future set when it is done with it.
        self._busy: dict[str, asyncio.Future[None] | None] = {}
        # Paths are plain strings on the hot path: pathlib costs microseconds
        # per operation, and a bulk download does several per file.
        self._prefix = os.path.join(dest, "")
        # Looked up once: on 3.11 every get_running_loop() makes a getpid() call.
        self._loop = asyncio.get_running_loop()

    def __repr__(self) -> str:
        return f"<Fetcher dest={str(self.dest)!r} writing={len(self._busy)}>"

    async def _io(
        self,
        fn: Callable[..., T],
        *args: Any,
        dispose: Callable[[T], object] | None = None,
    ) -> T:
        """Run a blocking file operation in the file thread; an ``OSError`` is final."""
        try:
            return await self.files.run(fn, *args, dispose=dispose)
        except OSError as exc:
            raise _Final(f"file error: {exc}") from exc

    async def _wait_until_free(self, name: str) -> None:
        """Wait until no other item writes file ``name`` (they would share a .part).

        Cheaper than a lock per name: a claim is one dict entry (see
        :meth:`fetch`), and an uncontended one is the common case by far.
        A second claimant hangs a future on the entry and waits for the
        holder to release it.
        """
        busy = self._busy
        while name in busy:
            released = busy[name]
            if released is None:
                released = busy[name] = self._loop.create_future()
            await asyncio.shield(released)  # a cancelled waiter leaves it alone

    def _release(self, name: str) -> None:
        released = self._busy.pop(name)
        if released is not None:
            released.set_result(None)

    async def fetch(self, job: Job | str) -> DownloadResult:
        """Download ``job`` (a URL: ``Job(url)``); always returns its result, never raises."""
        start = time.perf_counter()
        if type(job) is str:  # the common case, without a Job to build
            url, metadata_url, given_name = job, None, None
        else:
            assert isinstance(job, Job)
            url, metadata_url, given_name = job.url, job.metadata_url, job.name
        attempts = 0
        try:
            scheme = url.partition(":")[0].lower()
            if scheme not in ("http", "https"):
                raise _Outcome("not an http(s) URL", attempts=0)
            if metadata_url is not None:
                assert isinstance(job, Job)
                meta, attempts = await self._with_retries(self._get_json, metadata_url)
                name = self._name_from_metadata(meta, job)
            elif given_name:
                name = sanitize_filename(given_name)
            else:
                name = filename_from_url(url)
            check_name(name)
            if self.options.skip_existing and await self._io(
                os.path.lexists, self._prefix + name
            ):
                return DownloadResult(
                    url,
                    DownloadStatus.SKIPPED,
                    child_path(self.dest, name),
                    0,
                    attempts,
                    None,
                    time.perf_counter() - start,
                )
            if name in self._busy:  # tested first: no coroutine when free
                await self._wait_until_free(name)
            self._busy[name] = None  # claimed
            try:
                (saved, size, http), n = await self._with_retries(
                    self._get_file, url, name
                )
            finally:
                self._release(name)
            return DownloadResult(
                url,
                DownloadStatus.OK,
                child_path(self.dest, saved),
                size,
                attempts + n,
                None,
                time.perf_counter() - start,
                http,
            )
        except _Outcome as out:
            return DownloadResult(
                url,
                DownloadStatus.NOT_FOUND if out.not_found else DownloadStatus.ERROR,
                None,
                0,
                attempts + out.attempts,
                out.why,
                time.perf_counter() - start,
                out.status,
            )
        except ValueError as exc:  # an unsafe name that survived sanitising
            return DownloadResult(
                url,
                DownloadStatus.ERROR,
                None,
                0,
                attempts,
                str(exc),
                time.perf_counter() - start,
            )

    def _name_from_metadata(self, meta: Any, job: Job) -> str:
        value = meta.get(job.name_field) if isinstance(meta, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise _Outcome(f"metadata has no {job.name_field!r}", attempts=0)
        ext = os.path.splitext(filename_from_url(job.url))[1]
        return sanitize_filename(value.replace(" ", "_") + ext)

    async def _with_retries(
        self, attempt: Callable[..., Awaitable[T]], *args: Any
    ) -> tuple[T, int]:
        """Run ``attempt(*args)`` until it succeeds, fails for good, or retries run out."""
        tries = 0
        while True:
            tries += 1
            try:
                return await attempt(*args), tries
            except _NotFound as exc:
                raise _Outcome(
                    str(exc), attempts=tries, status=exc.status, not_found=True
                ) from None
            except _Final as exc:
                raise _Outcome(str(exc), attempts=tries, status=exc.status) from None
            except _Retry as exc:
                if tries > self.options.retries:
                    raise _Outcome(
                        f"{exc} (after {tries} attempts)",
                        attempts=tries,
                        status=exc.status,
                    ) from None
                wait = exc.wait
                if wait is None:
                    wait = backoff_delay(tries, self.options, self._rng)
                await asyncio.sleep(wait)

    async def _get_json(self, url: str) -> Any:
        with _mapped_errors():
            async with self.client.get(
                url, max_redirects=self.options.max_redirects
            ) as resp:
                self._check_status(resp)
                try:
                    body = await resp.read(limit=_METADATA_LIMIT)
                except BodyTooLarge:
                    raise _Final("metadata too large") from None
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Final(f"bad metadata JSON: {exc}") from None

    def _check_status(self, resp: Response) -> None:
        status = resp.status
        if 200 <= status < 300:
            return
        if status == 404:
            raise _NotFound(status)
        why = f"HTTP {status} {resp.reason or ''}".rstrip()
        if status in self.options.retry_statuses:
            wait = parse_retry_after(resp.headers.get("Retry-After"))
            if wait is not None:
                wait = min(wait, self.options.retry_after_max)
            raise _Retry(why, wait=wait, status=status)
        raise _Final(why, status=status)

    async def _get_file(self, url: str, name: str) -> tuple[str, int, int]:
        """One attempt at ``url`` saved as ``name``; returns (name saved, size, HTTP status)."""
        # Content-Disposition may rename the file, never its .part: a resume
        # must find the .part under the name it was started with.
        part_name = partial_name(name)
        part = self._prefix + part_name
        final = self._prefix + name
        offset = 0
        if self.options.resume and part_name in self.parts:
            offset = await self._io(_size_or_zero, part)
        headers = {"Range": f"bytes={offset}-"} if offset else None
        with _mapped_errors():
            async with self.client.get(
                url, headers=headers, max_redirects=self.options.max_redirects
            ) as resp:
                if resp.status == 416 and offset:
                    # Our .part does not fit the server's file: start over.
                    await self._drop_part(part, part_name)
                    raise _Retry("range not satisfiable", wait=0.0, status=416)
                self._check_status(resp)
                length = resp.content_length
                if resp.status == 206:
                    offset = self._check_content_range(resp, offset)
                    total = None if length is None else offset + length
                else:
                    offset = 0  # the server ignored Range: the whole file comes again
                    total = length
                limit = self.options.max_size
                if limit is not None and total is not None and total > limit:
                    raise _Final(f"{total} bytes is over the {limit}-byte limit")
                if self.options.content_disposition:
                    header = resp.headers.get("Content-Disposition")
                    named = header and filename_from_content_disposition(header)
                    if named:
                        name = check_name(named)
                        final = self._prefix + name
                if (
                    not offset
                    and length is not None
                    and length <= self.options.memory_limit
                ):
                    body = await resp.read()
                    if len(body) != length:
                        raise _Retry(f"body {len(body)} of {length} bytes")
                    self.parts.add(part_name)
                    await self._io(write_whole, part, final, body)
                    self.parts.discard(part_name)
                    return name, length, resp.status
                size = await self._stream(resp, part_name, final, offset, total)
                return name, size, resp.status

    def _check_content_range(self, resp: Response, offset: int) -> int:
        match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", "").strip())
        if not offset or match is None or int(match[1]) != offset:
            raise _Final("206 with a Content-Range that does not match the request")
        return offset

    async def _stream(
        self,
        resp: Response,
        part_name: str,
        final: str,
        offset: int,
        total: int | None,
    ) -> int:
        part = self._prefix + part_name
        self.parts.add(part_name)
        # Cancelled while it opens: close it behind us, keeping a resumed
        # .part's bytes and deleting an empty one.
        handle: PartFile = await self._io(open_part, part, offset, dispose=_close_kept)
        done = False
        keep = self.options.resume
        pending: list[bytes] = []
        buffered = 0
        try:
            limit = self.options.max_size
            async for chunk in resp.chunks():
                pending.append(chunk)
                buffered += len(chunk)
                if limit is not None and handle.size + buffered > limit:
                    keep = False
                    raise _Final(f"body is over the {limit}-byte limit")
                if buffered >= _FLUSH_AT:
                    # Hand the chunks over before awaiting: if we are cancelled
                    # meanwhile, the write still happens (before the abort, in
                    # the file thread's order) and must not be written twice.
                    chunks, pending, buffered = pending, [], 0
                    await self._io(handle.write_all, chunks)
            if pending:
                chunks, pending = pending, []
                await self._io(handle.write_all, chunks)
            if total is not None and handle.size != total:
                raise _Retry(f"body {handle.size} of {total} bytes")
            await self._io(handle.commit, final)
            done = True
            self.parts.discard(part_name)
            return handle.size
        finally:
            if not done:
                # Keep what arrived for a Range resume unless resuming is off
                # or the body was refused outright.
                # What is still buffered goes to disk too: it shortens the resume.
                tail = pending if keep else []
                await asyncio.shield(self._io(handle.abort, keep, tail))
                if not keep:
                    self.parts.discard(part_name)

    async def _drop_part(self, part: str, part_name: str) -> None:
        await self._io(remove_quietly, part)
        self.parts.discard(part_name)


class _Outcome(Exception):
    """The final, non-OK outcome of an item, with the attempts it took."""

    def __init__(
        self,
        why: str,
        *,
        attempts: int,
        status: int | None = None,
        not_found: bool = False,
    ) -> None:
        super().__init__(why)
        self.why = why
        self.attempts = attempts
        self.status = status
        self.not_found = not_found


def _close_kept(handle: PartFile) -> None:
    handle.abort(keep=True)


def _size_or_zero(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class _mapped_errors:
    """Translate client, timeout and OS errors into ``_Retry`` or ``_Final``."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, _Retry | _Final | _NotFound):
            return
        if isinstance(exc, TooManyRedirects):
            raise _Final("too many redirects") from exc
        if isinstance(exc, RedirectError | InvalidURL):
            raise _Final(f"bad redirect or URL: {exc}") from exc
        if isinstance(exc, BodyTooLarge):
            raise _Final(str(exc)) from exc
        if isinstance(exc, TruncatedBody):
            raise _Retry(f"truncated body: {exc}") from exc
        if isinstance(exc, ServerDisconnected):
            raise _Retry("server disconnected") from exc
        if isinstance(exc, TimeoutError):
            raise _Retry("timed out") from exc
        if isinstance(exc, ConnectError):
            raise _Retry(f"cannot connect: {exc.os_error or exc}") from exc
        if isinstance(exc, HttpClientError):
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc
        if isinstance(exc, OSError):
            # File errors were made final by Fetcher._io; this one is the network's.
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc
