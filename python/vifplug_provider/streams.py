"""Server streams that follow a changing value (the provider's Watch, health's
Watch): each stream sends the value at once, then again whenever it changed,
until the caller leaves or the server ends every stream at shutdown (an open
stream would otherwise hold a graceful shutdown for its whole grace period).
"""

from __future__ import annotations

import threading
from typing import Callable, Iterator, TypeVar

import grpc

T = TypeVar("T")


class Changes:
    """A version that grows with every change, and the streams waiting for it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0
        self._ended = False

    def changed(self) -> None:
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def end_all(self) -> None:
        """Ends every stream following this value, now and from now on."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def follow(self, context: grpc.ServicerContext, read: Callable[[], T]) -> Iterator[T]:
        """Yields read() at once, then after every change, while the caller stays.
        Equal values in a row are sent once."""
        wake = self._wake
        if not context.add_callback(wake):
            return
        last: object = _NOTHING
        seen = -1
        while True:
            with self._cond:
                while self._version == seen and not self._ended and context.is_active():
                    self._cond.wait()
                if self._ended or not context.is_active():
                    return
                seen = self._version
                value = read()
            if value != last:
                last = value
                yield value

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


_NOTHING = object()
