from __future__ import annotations

from django.conf import settings
from django.db import models


class Standing(models.Model):
    """A player's current value on one board: the durable copy every ranking index is built from.

    Order on a board: value (per the board's direction), then ``reached_at``
    (who reached the value first), then user id, the same in every backend.
    ``version`` grows with every change, so an index never applies an older
    change over a newer one.
    """

    board = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="standings")
    value = models.BigIntegerField()
    reached_at = models.DateTimeField()
    version = models.BigIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["board", "user"], name="rankings_standing_board_user")]
        indexes = [models.Index(fields=["board", "value", "reached_at", "user"], name="rankings_standing_order")]

    def __str__(self) -> str:
        return f"{self.board} {self.user_id}={self.value}"


class StaleBoard(models.Model):
    """A board whose index missed a write (Redis was unreachable): read it from the database until rebuilt."""

    board = models.CharField(max_length=100, primary_key=True)
    since = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.board
