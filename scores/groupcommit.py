"""Group commit: the players' submissions a server process has in hand at once, stored in one transaction.

A submission joins the process's queue. When no request is storing a group, its
own request becomes the leader: it takes the queue (up to
``SCORE_GROUP_MAX`` submissions, each of a different player, in arrival order)
and stores it with ``score_submit_group``, as long as its own submission is not
done; then it hands the lead to the first request still waiting. Requests that
arrive while a group is being stored wait, and are stored by the next group.
So a lone submission is stored at once by its own request, as before, and under
load one transaction, one lock statement, one standings read and write per game
and one insert serve a whole group instead of one submission each.

Every submission is answered only after the transaction holding it committed
and the ranking index was written: nothing acknowledged can be lost. A group
that fails as a whole (a database error) is stored again one submission at a
time, so that each request gets its own answer, as it would without grouping.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from django.conf import settings
from django.db import transaction

from common.errors import DomainError

from .services import PlayerScore, SubmitResult

logger = logging.getLogger(__name__)

Outcome = SubmitResult | DomainError
T = TypeVar("T")


class _Waiter(Generic[T]):
    __slots__ = ("item", "outcome", "failure", "lead", "event")

    def __init__(self, item: PlayerScore) -> None:
        self.item = item
        self.outcome: T | None = None
        self.failure: BaseException | None = None
        self.lead = False
        self.event = threading.Event()

    @property
    def done(self) -> bool:
        return self.outcome is not None or self.failure is not None


class SubmitQueue(Generic[T]):
    """One process's queue of players' submissions, stored a group at a time by whichever request leads."""

    def __init__(
        self,
        store: Callable[[Sequence[PlayerScore]], list[Outcome]],
        answer: Callable[[Sequence[PlayerScore], list[Outcome]], list[T]],
        *,
        size: Callable[[], int] = lambda: settings.SCORE_GROUP_MAX,
    ) -> None:
        """``store``: one transaction for the group, an outcome per item (when it raises, nothing is stored, and
        each item is stored again alone); ``answer``: what each request gets, worked out after commit for the
        whole group at once (when it raises, each request of the group fails with its error)."""
        self._store = store
        self._answer = answer
        self._size = size
        self._lock = threading.Lock()
        self._waiting: list[_Waiter[T]] = []
        self._leading = False

    def submit(self, item: PlayerScore) -> T:
        """Store ``item`` with whatever else is waiting; its answer."""
        if transaction.get_connection().in_atomic_block:
            # The caller's transaction must hold this write: it cannot be stored by another request's.
            return self._answer([item], self._store([item]))[0]
        me: _Waiter[T] = _Waiter(item)
        with self._lock:
            self._waiting.append(me)
            me.lead = not self._leading
            self._leading = True
        if not me.lead:
            me.event.wait()
        if me.lead:
            try:
                while not me.done:
                    self._store_group(self._take())
            finally:
                self._hand_over()
        if me.failure is not None:
            raise me.failure
        assert me.outcome is not None
        return me.outcome

    def waiting(self) -> int:
        """How many submissions wait for a group."""
        with self._lock:
            return len(self._waiting)

    def _take(self) -> list[_Waiter[T]]:
        """The next group: waiting submissions in arrival order, one per player, at most ``size``."""
        size = max(1, self._size())
        with self._lock:
            group: list[_Waiter[T]] = []
            players: set[uuid.UUID] = set()
            rest: list[_Waiter[T]] = []
            for waiter in self._waiting:
                if len(group) < size and waiter.item.user_id not in players:
                    players.add(waiter.item.user_id)
                    group.append(waiter)
                else:
                    rest.append(waiter)
            self._waiting = rest
        return group

    def _hand_over(self) -> None:
        """Pass the lead to the first waiting request, or leave nobody leading."""
        with self._lock:
            if self._waiting:
                successor = self._waiting[0]
                successor.lead = True
                successor.event.set()
            else:
                self._leading = False

    def _store_group(self, group: list[_Waiter[T]]) -> None:
        items = [waiter.item for waiter in group]
        try:
            outcomes = self._store(items)
        except Exception as error:
            if len(group) == 1:
                self._finish(group[0], failure=error)
                return
            logger.warning("a group of %d submissions failed; storing them one at a time", len(group), exc_info=True)
            for waiter in group:
                self._store_group([waiter])
            return
        try:
            answers = self._answer(items, outcomes)
        except Exception as error:
            for waiter in group:
                self._finish(waiter, failure=error)
            return
        for waiter, answer in zip(group, answers, strict=True):
            self._finish(waiter, outcome=answer)

    @staticmethod
    def _finish(waiter: _Waiter[T], *, outcome: T | None = None, failure: BaseException | None = None) -> None:
        waiter.outcome, waiter.failure = outcome, failure
        waiter.event.set()
