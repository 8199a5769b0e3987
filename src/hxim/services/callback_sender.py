"""Where post-send callbacks are POSTed from: a child process of the node, so that the core
serving messages does not also spend a third of its time on HTTP (docs/callbacks.md).

`ChildSender.post` has the signature of `CallbackHttp.post`. It hands each request to one child
process (`python -m hxim.services.callback_sender`), which keeps the connections to the
receivers and sends with `CallbackHttp`, as many at once as it is given; answers come back in
whatever order they finish. The node keeps everything durable: which callbacks are due, their
leases, and what became of each try (`CallbackDelivery`). A request whose answer the child
never gives (it died, or was stopped) fails as a connection failure, so the callback is tried
again later, as after any other failure; at least once holds.

Both directions are lines of JSON: a request `[n, url, body, timeout, limit]`; an answer
`[n, status, text]`, or `[n, 0, why, kind]` with `kind` `timeout`, `long` (the answer was over
`limit`) or `failure`. Lines written in one turn of the event loop leave in one write. (Letting
answers gather for a few milliseconds before writing them saved no CPU on the node and, with
`callback_concurrency_per_rule` callbacks in flight, held deliveries back behind the load.)
The child ends when its input ends (the node stopped or died).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Any

import orjson

from hxim.services.callback_http import AnswerTooLong, CallbackHttp, HttpFailure

__all__ = ["ChildSender"]

log = logging.getLogger(__name__)
_LINE_MAX = 64 * 1024 * 1024  # an answer line: `limit` characters of text at most, escaped


class ChildSender:
    """The node's side: starts the child on first use, and again after it ended."""

    def __init__(self, idle_max: int) -> None:
        self.idle_max = idle_max
        self._proc: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Future[asyncio.subprocess.Process] | None = None
        self._waiting: dict[int, asyncio.Future[tuple[int, str]]] = {}
        self._next = 0
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._closed = False

    async def post(self, url: str, body: bytes, timeout: float, limit: int) -> tuple[int, str]:
        proc = self._proc if self._proc is not None and self._proc.returncode is None else await self._start()
        self._next += 1
        n = self._next
        answer = asyncio.get_running_loop().create_future()
        self._waiting[n] = answer
        self._out.append(orjson.dumps([n, url, body.decode(), timeout, limit]) + b"\n")
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush, proc)
        try:
            # the child keeps the timeout; this one only covers a child that stopped answering
            async with asyncio.timeout(timeout + 5):
                return await answer
        finally:
            self._waiting.pop(n, None)

    def _flush(self, proc: asyncio.subprocess.Process) -> None:
        self._flush_scheduled = False
        out, self._out = self._out, []
        if proc.stdin is None or proc.stdin.is_closing():
            self._fail_all("the callback sender process ended")
            return
        proc.stdin.write(b"".join(out))

    async def _start(self) -> asyncio.subprocess.Process:
        if self._closed:
            raise HttpFailure("the node is stopping")
        if self._starting is not None:
            return await asyncio.shield(self._starting)
        self._starting = asyncio.get_running_loop().create_future()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hxim.services.callback_sender", str(self.idle_max),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=_LINE_MAX,
            )
        except BaseException as exc:
            self._starting.set_exception(HttpFailure(f"the callback sender process did not start: {exc}"))
            self._starting.exception()  # retrieved: a later post starts it again
            self._starting = None
            raise HttpFailure(f"the callback sender process did not start: {exc}") from None
        self._proc = proc
        self._starting.set_result(proc)
        self._starting = None
        asyncio.get_running_loop().create_task(self._read(proc), name="hxim-callback-sender")
        return proc

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while line := await proc.stdout.readline():
                n, status, text, *kind = orjson.loads(line)
                answer = self._waiting.get(n)
                if answer is None or answer.done():
                    continue
                if status:
                    answer.set_result((status, text))
                elif kind == ["timeout"]:
                    answer.set_exception(TimeoutError())
                elif kind == ["long"]:
                    answer.set_exception(AnswerTooLong())
                else:
                    answer.set_exception(HttpFailure(text))
        except Exception:
            log.exception("callbacks: reading the callback sender process failed")
        finally:
            with contextlib.suppress(ProcessLookupError):
                if proc.returncode is None:
                    proc.kill()
            await proc.wait()
            if not self._closed:
                log.warning("callbacks: the callback sender process ended (exit status %s); it is started "
                            "again for the next callback", proc.returncode)
            if self._proc is proc:
                self._proc = None
            self._fail_all("the callback sender process ended")

    def _fail_all(self, why: str) -> None:
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(HttpFailure(why))

    async def aclose(self) -> None:
        """End the child (its input ends); requests still waiting fail."""
        self._closed = True
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            async with asyncio.timeout(5):
                await proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        self._fail_all("the node is stopping")


async def _serve(idle_max: int) -> None:
    """The child: read requests from stdin, answer on stdout, until stdin ends."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_LINE_MAX)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, sys.stdout.buffer)
    http = CallbackHttp(idle_max)
    out: list[bytes] = []
    tasks: set[asyncio.Task[None]] = set()

    def flush() -> None:
        if out and not transport.is_closing():
            transport.write(b"".join(out))
        out.clear()

    def answer(doc: list[Any]) -> None:
        if not out:
            loop.call_soon(flush)
        out.append(orjson.dumps(doc) + b"\n")

    async def one(n: int, url: str, body: str, timeout: float, limit: int) -> None:
        try:
            status, text = await http.post(url, body.encode(), timeout, limit)
            answer([n, status, text])
        except TimeoutError:
            answer([n, 0, "timeout", "timeout"])
        except AnswerTooLong:
            answer([n, 0, "answer too long", "long"])
        except (HttpFailure, OSError) as exc:
            answer([n, 0, str(exc) or type(exc).__name__, "failure"])
        except Exception as exc:  # a bad URL, say: a failure of this callback, not of the child
            answer([n, 0, str(exc) or type(exc).__name__, "failure"])

    while line := await reader.readline():
        task = loop.create_task(one(*orjson.loads(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=5)
    flush()
    http.close()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(_serve(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
