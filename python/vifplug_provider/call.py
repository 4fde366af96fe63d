"""The budget of a call a callback serves: how long it has, and whether
vifplugd gave up on it.

vifplugd cancels a call when its controller cancels or its deadline passes,
and will not use the answer: a callback that allocated something for such a
PreparePort releases it (proto: "Deadlines and cancellation"). A unary
call's budget follows its gRPC deadline and cancellation; a call on a
PortStream has the time vifplugd sent with it, and a `cancel` message.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable, List, Optional

import grpc

log = logging.getLogger("vifplug_provider")

# grpc reports "no deadline" as about 2**63 ns from now.
_NO_DEADLINE = 1e9


def _noop() -> None:
    return None


class Call:
    """What a callback knows of the call it serves."""

    def __init__(self, handle: bytes = b"") -> None:
        #: finish_port and destroy_port_ctx: the handle PreparePort answered (b"" if none, or from an earlier session).
        self.handle = handle
        self._lock = threading.Lock()
        self._cancelled = False
        self._listeners: Optional[List[Callable[[], None]]] = None
        self._event: Optional[threading.Event] = None

    def time_remaining(self) -> Optional[float]:
        """Seconds until vifplugd gives up on the call; None without a deadline."""
        raise NotImplementedError

    @property
    def cancelled(self) -> bool:
        """vifplugd gave up on the call (cancelled, or its time ran out): its answer will not be used."""
        return self._cancelled

    def on_cancel(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Calls listener (once, on another thread) when vifplugd gives up on the call;
        at once if it already has. Returns a function that removes it."""
        with self._lock:
            if not self._cancelled:
                self._watch()
                if self._listeners is None:
                    self._listeners = []
                self._listeners.append(listener)
                return lambda: self._remove(listener)
        listener()
        return _noop

    def wait_cancelled(self, timeout: Optional[float] = None) -> bool:
        """Sleeps until vifplugd gives up on the call or timeout seconds pass; True if it gave up."""
        with self._lock:
            if self._cancelled:
                return True
            self._watch()
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)

    def _watch(self) -> None:
        """Starts watching for cancellation (under the lock): on first use, since most calls never ask."""

    def _remove(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if self._listeners is not None and listener in self._listeners:
                self._listeners.remove(listener)

    def _give_up(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            listeners, self._listeners = self._listeners or [], None
            event = self._event
        if event is not None:
            event.set()
        for listener in listeners:
            try:
                listener()
            except Exception:  # noqa: BLE001 - a listener's bug must not hide the others
                log.exception("a cancellation listener failed")


class UnaryCall(Call):
    """A unary call's budget: its gRPC deadline and cancellation."""

    def __init__(self, context: grpc.ServicerContext, handle: bytes = b"") -> None:
        super().__init__(handle)
        self._context = context
        self._answered = False
        self._watching = False

    def time_remaining(self) -> Optional[float]:
        remaining = self._context.time_remaining()
        return None if remaining is None or remaining > _NO_DEADLINE else max(0.0, remaining)

    @property
    def cancelled(self) -> bool:
        return self._cancelled or not self._context.is_active()

    def answered(self) -> None:
        """The handler returned: the call's end is no cancellation."""
        self._answered = True

    def _watch(self) -> None:
        if self._watching:
            return
        self._watching = True
        # grpc calls back when the RPC ends, for any reason; before the
        # handler answered, that is a cancellation or the deadline.
        if not self._context.add_callback(self._ended):
            threading.Thread(target=self._ended, daemon=True).start()

    def _ended(self) -> None:
        if not self._answered:
            self._give_up()


class StreamCall(Call):
    """A PortStream call's budget: the time vifplugd sent with it, and its `cancel` message."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._deadline = time.monotonic() + timeout
        self._timer = TIMERS.add(self._deadline, self._give_up)

    def time_remaining(self) -> Optional[float]:
        return max(0.0, self._deadline - time.monotonic())

    def settle(self) -> None:
        """Answered: its deadline no longer matters."""
        self._timer.cancel()

    def cancel(self) -> None:
        """vifplugd sent `cancel`, or the stream ended."""
        self._timer.cancel()
        self._give_up()


class _Timer:
    __slots__ = ("due", "seq", "action")

    def __init__(self, due: float, seq: int, action: Optional[Callable[[], None]]) -> None:
        self.due = due
        self.seq = seq
        self.action = action

    def __lt__(self, other: "_Timer") -> bool:
        return (self.due, self.seq) < (other.due, other.seq)

    def cancel(self) -> None:
        self.action = None


class _Timers:
    """Deadlines of every PortStream call, on one thread rather than a timer thread per call."""

    def __init__(self) -> None:
        self._heap: List[_Timer] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._thread: Optional[threading.Thread] = None
        # Answered calls leave their timers in the heap until due; drop them
        # once they outnumber the rest, so that a busy stream keeps it small.
        self._compact_at = 4096

    def add(self, due: float, action: Callable[[], None]) -> _Timer:
        timer = _Timer(due, next(self._seq), action)
        with self._cond:
            if len(self._heap) >= self._compact_at:
                self._heap = [t for t in self._heap if t.action is not None]
                heapq.heapify(self._heap)
                self._compact_at = max(4096, 2 * len(self._heap))
            heapq.heappush(self._heap, timer)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="vifplug-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0] is timer:
                self._cond.notify()
        return timer

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                first = self._heap[0]
                wait = first.due - time.monotonic()
                if first.action is not None and wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                action = first.action
            if action is not None:
                action()


TIMERS = _Timers()
