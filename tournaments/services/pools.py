"""Prize pools in the credit ledger: what an organizer pays into a pool, and what comes back to them."""

from __future__ import annotations

from accounts.models import CreditEntry, User
from accounts.services import CreditGrant, credits_grant, credits_spend

from ..models import Tournament

# Credits come into the ledger only from the house: prizes of pools staff fund, and staff adjustments. A player
# who organizes a tournament with a prize pool pays the pool from their own balance when creating it (409
# insufficient_credits otherwise); a cancel gives it back, and so does a payout for the places nobody took. So a
# player-funded tournament adds nothing to the ledger's sum, and no balance goes below zero.


def pool_reference(tournament: Tournament) -> str:
    return f"tournament:{tournament.pk}:pool"


def _fund(tournament: Tournament, organizer: User) -> None:
    if tournament.prize_pool and not organizer.is_staff:
        credits_spend(
            user=organizer,
            amount=tournament.prize_pool,
            reference=pool_reference(tournament),
            description=f"Prize pool of {tournament.name}"[:200],
        )


def _refund(tournament: Tournament, amount: int, description: str) -> None:
    """Give the organizer back ``amount`` of a pool they funded (once per tournament); nothing for a house pool."""
    funded = CreditEntry.objects.filter(user_id=tournament.organizer_id, reference=pool_reference(tournament))
    if amount > 0 and funded.exists():
        credits_grant(
            grants=[
                CreditGrant(
                    user_id=tournament.organizer_id,
                    amount=amount,
                    reference=f"tournament:{tournament.pk}:refund",
                    description=description[:200],
                    kind=CreditEntry.Kind.REFUND,
                )
            ]
        )
