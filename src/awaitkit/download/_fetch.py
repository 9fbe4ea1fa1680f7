"""One item, start to finish: request, retry, stream to a ``.part`` file, rename.

The rules that keep files honest live here:

* a body is written to ``.<name>.part`` and given a final name only once
  its length is checked, so a final name never holds a short file; that
  name is the first free one of ``name``, ``name.1``… (:mod:`._naming`), so
  no file is replaced unless ``overwrite`` allows it;
* a ``.part`` left by a failed or interrupted attempt is continued with a
  ``Range`` request (206), or started over when the server answers 200;
* a ``.part`` holds identity bytes only, so that a resume never appends
  raw compressed bytes to decoded ones: a ``Range`` request asks for
  ``Accept-Encoding: identity``; a body that comes back with a
  ``Content-Encoding`` is written decoded, its ``.part`` deleted on failure
  (the next attempt starts from zero), and a 206 that comes back encoded
  drops the ``.part`` and starts over;
* every file operation runs in the batch's :class:`FileThread`, never on the
  loop, and an ``OSError`` it raises comes back as a :class:`FileError`;
* an attempt raises what went wrong, and :meth:`Fetcher._attempts` alone asks
  :func:`~awaitkit.download._retry.judge` what that means; ``CancelledError``
  always propagates.

The flow goes one way: the engine calls :meth:`Fetcher.fetch`, which calls
the HTTP client, the retry classifier and the file functions, none of which
calls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from awaitkit.download._files import (
    FileError,
    PartFile,
    Placement,
    ensure_folder,
    open_part,
    remove_quietly,
    run_stamp,
    scan_parts,
    write_whole,
)
from awaitkit.download._filethread import FileThread
from awaitkit.download._job import Item, Job, url_of
from awaitkit.download._names import (
    UnsafeName,
    check_name,
    filename_from_content_disposition,
    filename_from_url,
    partial_name,
    sanitize_filename,
)
from awaitkit.download._naming import check_relative, name_for, split_relative
from awaitkit.download._options import DownloadOptions, parse_retry_after
from awaitkit.download._pace import Pacer
from awaitkit.download._polite import THROTTLING, Politeness
from awaitkit.download._result import DownloadResult, DownloadStatus
from awaitkit.download._retry import (
    JUDGED,
    Action,
    BadMetadata,
    BadRange,
    BadStatus,
    ChecksumMismatch,
    EncodedRange,
    OverLimit,
    RangeRefused,
    ShortBody,
    Verdict,
    judge,
)
from awaitkit.http import (
    ACCEPT_ENCODING,
    BasicAuth,
    BodyTooLarge,
    ContentDecoder,
    HttpClient,
    RequestHook,
    Response,
)

__all__ = ["Fetcher", "open_client", "open_fetcher"]

T = TypeVar("T")
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.ASCII)
_METADATA_LIMIT = 64 * 1024  # a metadata.json larger than this is hostile
_FLUSH_AT = 256 * 1024  # streamed bodies reach the disk in writes of this size
_NOT_HTTP = Verdict(Action.FINAL, "not an http(s) URL")


class _Saved(NamedTuple):
    """What one successful attempt saved, and (for the report) what from."""

    name: str
    size: int
    status: int
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None


class _Ended(Exception):
    """Carries an item's final verdict, and the attempts it took, out to :meth:`Fetcher.fetch`."""

    def __init__(self, verdict: Verdict, attempts: int) -> None:
        super().__init__(verdict.why)
        self.verdict = verdict
        self.attempts = attempts


def open_client(options: DownloadOptions) -> HttpClient:
    """The one :class:`HttpClient` of a batch, sized and timed by ``options``.

    With ``compressed`` it offers every coding it decodes (as ``curl
    --compressed``) and files hold the decoded bodies; without, it asks for
    ``Accept-Encoding: identity`` and saves bodies as sent.  The pool's
    limits are the concurrency limits, so requests in flight never exceed them.
    The request options (fields, credentials, cookies) become the client's
    fixed fields and its hooks: the client puts them on each request.
    """
    hooks: list[RequestHook] = []
    if options.credentials is not None or options.netrc:
        hosts = dict(options.netrc)
        fallback = hosts.pop("", None)
        hooks.append(BasicAuth(options.credentials, hosts=hosts, fallback=fallback))
    if options.cookie_jar is not None:
        from awaitkit.http import CookieHook

        hooks.append(CookieHook(options.cookie_jar, fixed=options.cookie_string or ""))
    return HttpClient(
        accept_encoding=ACCEPT_ENCODING if options.compressed else None,
        limit=options.concurrency,
        limit_per_host=options.per_host or None,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        user_agent=options.user_agent,
        ssl_context=options.ssl_context,
        headers=options.headers,
        hooks=hooks,
        proxies=options.proxies,
    )


@contextlib.asynccontextmanager
async def open_fetcher(
    dest: Path | str, options: DownloadOptions, client: HttpClient | None = None
) -> AsyncIterator[Fetcher]:
    """A batch's :class:`Fetcher`: folder made, leftovers scanned, client and file thread open.

    ``client`` is the caller's own; without one, :func:`open_client` makes
    one for the batch and closes it at the end.
    """
    folder = Path(dest)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: folder.mkdir(parents=True, exist_ok=True))
    deep = options.naming == "path"
    parts = (
        await loop.run_in_executor(
            None, functools.partial(scan_parts, folder, deep=deep)
        )
        if options.resume
        else set()
    )
    if options.started_ns is None and (options.overwrite or options.skip_existing):
        stamp = await loop.run_in_executor(None, run_stamp, folder)
        options = dataclasses.replace(options, started_ns=stamp)
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(open_client(options))
        # Entered after the client, so it closes first: queued writes finish
        # (even on Ctrl-C) before the batch ends.
        files = await stack.enter_async_context(FileThread())
        yield Fetcher(client, folder, options, files=files, parts=parts)


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
        # Two items with the same file name must not share a .part at once.
        # A claim is one entry (its value None), the common case by far; a
        # second claimant hangs an Event on it and waits for the release.
        self._busy: dict[str, asyncio.Event | None] = {}
        # Paths are plain strings on the hot path: pathlib costs microseconds
        # per operation, and a bulk download does several per file.
        self._prefix = os.path.join(dest, "")
        # What a result names: str(dest / name), without the Path.
        self._shown = "" if str(dest) == "." else self._prefix
        self._naming = options.naming
        self._place = Placement(
            self._prefix, overwrite=options.overwrite, stamp=options.started_ns
        ).place
        # Where the next item with a name already taken starts looking, for
        # names that were: a long run of one name costs no growing search.
        self._hints: dict[str, int] = {}
        self._folders: set[str] = set()  # made and checked (--naming path)
        self._root = os.path.realpath(dest)
        self._pacer = None if options.rate_limit is None else Pacer(options.rate_limit)
        # Hosts that answered 429 or 503 get paused and slowed (_polite).
        self.polite = Politeness(options.per_host or options.concurrency)
        self._untimed = options.max_time is None and options.deadline is None
        # The report's record of what each file was made from.
        self._manifest = options.hash_files

    def __repr__(self) -> str:
        return f"<Fetcher dest={str(self.dest)!r} writing={len(self._busy)}>"

    async def _io(
        self,
        fn: Callable[..., T],
        *args: Any,
        dispose: Callable[[T], object] | None = None,
    ) -> T:
        """Run a blocking file operation in the file thread; an ``OSError`` is a :class:`FileError`."""
        try:
            return await self.files.run(fn, *args, dispose=dispose)
        except OSError as exc:
            raise FileError(f"file error: {exc}") from exc

    async def _wait_until_free(self, name: str) -> None:
        """Wait until no other item writes file ``name`` (they would share a .part)."""
        busy = self._busy
        while name in busy:
            released = busy[name]
            if released is None:
                released = busy[name] = asyncio.Event()
            await released.wait()

    def _release(self, name: str) -> None:
        released = self._busy.pop(name)
        if released is not None:
            released.set()

    async def fetch(self, job: Item) -> DownloadResult:
        """Download ``job`` (a URL: ``Job(url)``); always returns its result.

        Only what no attempt can turn into an outcome escapes: a bug, or a
        ``CancelledError``.  With ``max_time`` or ``deadline``, an item
        still running then ends as ERROR (its ``.part`` kept for a resume).
        A job with options of its own (name, headers, sha256) has them
        recorded in its result (``item``).
        """
        if type(job) is str:
            if self._untimed:  # the common case: one coroutine, not three
                return await self._fetch(job)
            return await self._timed(job)
        assert isinstance(job, Job)
        result = await self._timed(job)
        if job.refused is None and (job.name or job.headers or job.sha256):
            return result.with_item(job.to_json())
        return result

    async def _timed(self, job: Item) -> DownloadResult:
        options = self.options
        if self._untimed:
            return await self._fetch(job)
        start = time.perf_counter()
        now = time.monotonic()
        ends = [now + options.max_time] if options.max_time is not None else []
        if options.deadline is not None:
            ends.append(options.deadline)
        end = min(ends)
        if end > now:
            scope = asyncio.timeout_at(asyncio.get_running_loop().time() + (end - now))
            try:
                async with scope:
                    return await self._fetch(job)
            except TimeoutError:
                if not scope.expired():
                    raise
        if options.deadline is not None and end == options.deadline:
            why = "stopped at the run's --deadline"
        else:
            why = f"over --max-time ({options.max_time:g} s)"
        url = url_of(job)
        return DownloadResult(
            url, DownloadStatus.ERROR, None, 0, 0, why, time.perf_counter() - start
        )

    async def _fetch(self, job: Item) -> DownloadResult:
        start = time.perf_counter()
        if type(job) is str:  # the common case, without a Job to build
            url, metadata_url, given_name, expected = job, None, None, None
            extra = None
        else:
            assert isinstance(job, Job)
            url, metadata_url, given_name = job.url, job.metadata_url, job.name
            expected = job.sha256
            extra = job.headers or None
            if job.refused is not None:
                return DownloadResult(url, DownloadStatus.ERROR, error=job.refused)
        attempts = 0
        try:
            scheme = url.partition(":")[0].lower()
            if scheme not in ("http", "https"):
                raise _Ended(_NOT_HTTP, 0)
            if metadata_url is not None:
                assert isinstance(job, Job)
                name, attempts = await self._attempts(self._get_name, metadata_url, job)
            elif given_name:
                name = sanitize_filename(given_name)
            elif self._naming == "basename":
                name = filename_from_url(url)
            else:
                name = name_for(url, self._naming)
            try:
                check_relative(name)
            except UnsafeName as exc:  # one that survived sanitising: refuse it
                raise _Ended(Verdict(Action.FINAL, str(exc)), 0) from None
            if self.options.skip_existing and await self._exists(name):
                return DownloadResult(
                    url,
                    DownloadStatus.SKIPPED,
                    self._shown + name,
                    0,
                    attempts,
                    None,
                    time.perf_counter() - start,
                )
            if name in self._busy:  # tested first: no coroutine when free
                await self._wait_until_free(name)
            self._busy[name] = None  # claimed
            try:
                got, n = await self._attempts(
                    self._get_file, url, name, expected, extra
                )
            finally:
                self._release(name)
            if not self._manifest:
                return DownloadResult(
                    url,
                    DownloadStatus.OK,
                    self._shown + got.name,
                    got.size,
                    attempts + n,
                    None,
                    time.perf_counter() - start,
                    got.status,
                )
            return DownloadResult(
                url,
                DownloadStatus.OK,
                self._shown + got.name,
                got.size,
                attempts + n,
                None,
                time.perf_counter() - start,
                got.status,
                final_url=got.final_url,
                etag=got.etag,
                last_modified=got.last_modified,
                sha256=got.sha256,
            )
        except _Ended as end:
            verdict = end.verdict
            return DownloadResult(
                url,
                DownloadStatus.NOT_FOUND
                if verdict.action is Action.NOT_FOUND
                else DownloadStatus.ERROR,
                None,
                0,
                attempts + end.attempts,
                verdict.why,
                time.perf_counter() - start,
                verdict.status,
            )

    async def _exists(self, name: str) -> bool:
        """Whether file ``name`` was there before the run (``skip_existing``).

        One written since is another item's of this run: this item is
        downloaded, under the next free name.
        """
        older = Placement(self._prefix, overwrite=True, stamp=self.options.started_ns)
        try:
            return await self._io(older.older_than_run, self._prefix + name)
        except FileError as exc:
            raise _Ended(Verdict(Action.FINAL, str(exc)), 0) from None

    async def _attempts(
        self, attempt: Callable[..., Awaitable[T]], *args: Any
    ) -> tuple[T, int]:
        """Run ``attempt(*args)`` until it succeeds or :func:`judge` says stop.

        The one place where a failure meets the retry policy; returns the
        value and the attempts it took, or raises :class:`_Ended`.
        """
        tries = 0
        url: str = args[0]
        polite = self.polite
        while True:
            tries += 1
            # A host that asked to slow down has a gate; the others, none.
            gate = polite.gate_for(url) if polite.gates else None
            window = 0 if gate is None else await gate.enter()
            ok = False
            try:
                value = await attempt(*args)
                ok = True
                return value, tries
            except JUDGED as exc:
                verdict = judge(exc, tries, self.options, self._rng)
                if isinstance(exc, BadStatus) and exc.status in THROTTLING:
                    polite.throttle(url, self._pause(exc), window)
            finally:
                if gate is not None:
                    gate.leave(ok)
            if verdict.action is not Action.RETRY:
                raise _Ended(verdict, tries)
            await asyncio.sleep(verdict.wait)

    def _pause(self, refusal: BadStatus) -> float | None:
        """How long a 429 or 503 asks its whole host to wait: its Retry-After, capped."""
        wait = parse_retry_after(refusal.retry_after)
        return None if wait is None else min(wait, self.options.retry_after_max)

    async def _get_name(self, url: str, job: Job) -> str:
        """One attempt at ``metadata.json``: the file name it gives ``job``."""
        async with self.client.get(
            url, max_redirects=self.options.max_redirects
        ) as resp:
            self._check_status(resp)
            try:
                body = await resp.read(limit=_METADATA_LIMIT)
            except BodyTooLarge:
                raise BadMetadata("metadata too large") from None
        try:
            meta = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadMetadata(f"bad metadata JSON: {exc}") from None
        value = meta.get(job.name_field) if isinstance(meta, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise BadMetadata(f"metadata has no {job.name_field!r}")
        ext = os.path.splitext(filename_from_url(job.url))[1]
        return sanitize_filename(value.replace(" ", "_") + ext)

    def _check_status(self, resp: Response) -> None:
        status = resp.status
        if not 200 <= status < 300:
            raise BadStatus(status, resp.reason or "", resp.headers.get("Retry-After"))

    async def _get_file(
        self,
        url: str,
        name: str,
        expected: str | None,
        extra: tuple[tuple[str, str], ...] | None = None,
    ) -> _Saved:
        """One attempt at ``url`` saved as ``name``.

        ``expected``: its SHA-256, if known; ``extra``: the item's own headers.
        """
        # Content-Disposition may rename the file, never its .part: a resume
        # must find the .part under the name it was started with.
        folder, base = split_relative(name)
        part_name = folder + partial_name(base)
        part = self._prefix + part_name
        if folder and folder not in self._folders:
            await self._io(ensure_folder, self._root, folder)
            self._folders.add(folder)
        offset = 0
        if self.options.resume and part_name in self.parts:
            offset = await self._io(_size_or_zero, part)
        # A .part holds identity bytes: what continues it must be identity too.
        headers = (
            {"Range": f"bytes={offset}-", "Accept-Encoding": "identity"}
            if offset
            else None
        )
        if extra is not None:
            headers = {**dict(extra), **(headers or {})}
        async with self.client.get(
            url, headers=headers, max_redirects=self.options.max_redirects
        ) as resp:
            if resp.status == 416 and offset:
                # Our .part does not fit the server's file: start over.
                await self._drop_part(part, part_name)
                raise RangeRefused
            self._check_status(resp)
            length = resp.content_length
            codings = resp.content_encoding  # () unless decoded; may raise
            if codings:
                if resp.status == 206:
                    # A range of the encoded body cannot continue identity bytes.
                    await self._drop_part(part, part_name)
                    raise EncodedRange
                return await self._get_encoded(resp, codings, part_name, name, expected)
            if resp.status == 206:
                offset = self._check_content_range(resp, offset)
                total = None if length is None else offset + length
            else:
                offset = 0  # the server ignored Range: the whole file comes again
                total = length
            limit = self.options.max_size
            if limit is not None and total is not None and total > limit:
                raise OverLimit(f"{total} bytes is over the {limit}-byte limit")
            name = self._disposed(resp, name)
            if (
                not offset
                and length is not None
                and length <= self.options.memory_limit
            ):
                body = await resp.read()
                if len(body) != length:
                    raise ShortBody(len(body), length)
                if self._pacer is not None:
                    await self._pacer.take(length)
                self.parts.add(part_name)
                saved, digest = await self._io(
                    self._write_and_place, part, body, name, expected
                )
                self.parts.discard(part_name)
                return self._saved(resp, saved, length, digest)
            hashed = self._manifest or expected is not None
            saved, size, digest = await self._stream(
                resp, part_name, name, offset, total, hashed, expected
            )
            return self._saved(resp, saved, size, digest)

    async def _get_encoded(
        self,
        resp: Response,
        codings: tuple[str, ...],
        part_name: str,
        name: str,
        expected: str | None,
    ) -> _Saved:
        """Save a body that came with a Content-Encoding, decoded, from zero.

        Its ``.part`` is never kept for a resume.  ``max_size`` limits the
        decoded bytes, and decoding stops as soon as it is passed.
        """
        name = self._disposed(resp, name)
        length = resp.content_length
        # Small, or all here already (nginx sends gzip chunked, so without a
        # length): decoded and written in the file thread, in one hop.
        if resp.body_received or (
            length is not None and length <= self.options.memory_limit
        ):
            received = await resp.read(decode=False)
            if length is not None and len(received) != length:
                raise ShortBody(len(received), length)
            if self._pacer is not None:
                await self._pacer.take(len(received))
            self.parts.add(part_name)
            try:
                saved, size, digest = await self._io(
                    self._decode_and_place,
                    self._prefix + part_name,
                    received,
                    codings,
                    name,
                    expected,
                )
            finally:
                self.parts.discard(part_name)
            return self._saved(resp, saved, size, digest)
        hashed = self._manifest or expected is not None
        saved, size, digest = await self._stream(
            resp, part_name, name, 0, None, hashed, expected, encoded=True
        )
        return self._saved(resp, saved, size, digest)

    def _disposed(self, resp: Response, name: str) -> str:
        """``name``, or with ``content_disposition`` the header's file name in its folder."""
        if self.options.content_disposition:
            header = resp.headers.get("Content-Disposition")
            named = header and filename_from_content_disposition(header)
            if named:
                return split_relative(name)[0] + check_name(named)
        return name

    def _decode_and_place(
        self,
        part: str,
        received: bytes,
        codings: tuple[str, ...],
        name: str,
        expected: str | None,
    ) -> tuple[str, int, str | None]:
        """Decode a whole encoded body into ``part`` and name it (in the file thread: one hop).

        The decoder hands out bounded pieces, each written before the next
        is made, so a small body that inflates hugely never sits in memory.
        """
        limit = self.options.max_size
        handle = open_part(part, 0, hashed=self._manifest or expected is not None)
        try:
            decoder = ContentDecoder(codings)
            decoder.feed(received)
            while piece := decoder.pull():
                if limit is not None and handle.size + len(piece) > limit:
                    raise OverLimit(f"decoded body is over the {limit}-byte limit")
                handle.write_all((piece,))
            decoder.close()
        except BaseException:
            handle.abort(keep=False)
            raise
        saved, digest = self._close_and_place(handle, name, expected)
        return saved, handle.size, digest

    def _saved(
        self, resp: Response, name: str, size: int, digest: str | None
    ) -> _Saved:
        if not self._manifest:
            return _Saved(name, size, resp.status)
        headers = resp.headers
        return _Saved(
            name,
            size,
            resp.status,
            resp.url,
            headers.get("ETag"),
            headers.get("Last-Modified"),
            digest,
        )

    def _write_and_place(
        self, part: str, body: bytes, name: str, expected: str | None
    ) -> tuple[str, str | None]:
        """Check, write and name a whole body (in the file thread: one hop)."""
        digest = None
        if self._manifest or expected is not None:
            digest = hashlib.sha256(body).hexdigest()
            if expected is not None and digest != expected:
                raise ChecksumMismatch(expected, digest)
        write_whole(part, body)
        return self._settle(part, name), digest

    def _close_and_place(
        self, handle: PartFile, name: str, expected: str | None
    ) -> tuple[str, str | None]:
        handle.close()
        digest = None if handle.hasher is None else handle.hasher.hexdigest()
        if expected is not None and digest != expected:
            remove_quietly(handle.path)
            raise ChecksumMismatch(expected, str(digest))
        return self._settle(part=str(handle.path), name=name), digest

    def _settle(self, part: str, name: str) -> str:
        """``part`` under the first free name from ``name`` (in the file thread)."""
        hints = self._hints
        saved, n = self._place(part, name, hints.get(name, 0))
        if n:
            hints[name] = n + 1
        return saved

    def _check_content_range(self, resp: Response, offset: int) -> int:
        match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", "").strip())
        if not offset or match is None or int(match[1]) != offset:
            raise BadRange
        return offset

    async def _stream(
        self,
        resp: Response,
        part_name: str,
        name: str,
        offset: int,
        total: int | None,
        hashed: bool,
        expected: str | None,
        *,
        encoded: bool = False,
    ) -> tuple[str, int, str | None]:
        """Stream ``resp`` into the ``.part`` (decoded when ``encoded``) and name it.

        A decoded body's ``.part`` is never kept for a resume: it is not
        the identity bytes a ``Range`` request would continue.
        """
        part = self._prefix + part_name
        self.parts.add(part_name)
        # Cancelled while it opens: close it behind us, keeping a resumed
        # .part's bytes and deleting an empty one.
        handle: PartFile = await self._io(
            functools.partial(open_part, hashed=hashed),
            part,
            offset,
            dispose=_close_kept,
        )
        done = False
        keep = self.options.resume and not encoded
        pending: list[bytes] = []
        buffered = 0
        taken = 0  # raw bytes paid for (encoded: they are not the chunks' sizes)
        try:
            limit = self.options.max_size
            pacer = self._pacer
            async for chunk in resp.chunks():
                if pacer is not None:
                    if encoded:
                        raw = resp.raw_bytes
                        await pacer.take(raw - taken)
                        taken = raw
                    else:
                        await pacer.take(len(chunk))
                pending.append(chunk)
                buffered += len(chunk)
                if limit is not None and handle.size + buffered > limit:
                    keep = False
                    raise OverLimit(f"body is over the {limit}-byte limit")
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
                raise ShortBody(handle.size, total)
            saved, digest = await self._io(
                self._close_and_place, handle, name, expected
            )
            done = True
            self.parts.discard(part_name)
            return saved, handle.size, digest
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


def _close_kept(handle: PartFile) -> None:
    handle.abort(keep=True)


def _size_or_zero(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
