"""Recognising Ctrl-C when it arrives wrapped in another exception.

A SIGINT that lands while a numba kernel runs cannot interrupt the compiled code; Python
raises ``KeyboardInterrupt`` in the dispatcher's callback instead, and the dispatcher, which
does not expect it, reports ``SystemError: CPUDispatcher(...) returned a result with an
exception set`` with the ``KeyboardInterrupt`` as its cause. Code that turns exceptions into
per-item failures must still stop on it: :func:`caused_by_interrupt` says when to.
"""

from __future__ import annotations

__all__ = ["caused_by_interrupt"]


def caused_by_interrupt(exc: BaseException) -> bool:
    """True when ``exc`` is a ``KeyboardInterrupt`` or has one in its cause/context chain.

    >>> caused_by_interrupt(KeyboardInterrupt())
    True
    >>> err = SystemError("returned a result with an exception set")
    >>> err.__context__ = KeyboardInterrupt()
    >>> caused_by_interrupt(ValueError("wrapped")) or caused_by_interrupt(err)
    True
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:  # chains can be cyclic
            continue
        seen.add(id(e))
        if isinstance(e, KeyboardInterrupt):
            return True
        todo.extend((e.__cause__, e.__context__))
    return False
