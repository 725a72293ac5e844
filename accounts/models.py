from __future__ import annotations

import hashlib
import unicodedata
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_countries.fields import CountryField

USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]{3,32}$"
username_validator = RegexValidator(
    USERNAME_PATTERN,
    "3 to 32 characters: letters, digits, '_', '-' and '.'.",
    code="invalid_username",
)


# Unicode categories a name shown to others may not hold: controls, format characters (bidi overrides and
# isolates, zero-width spaces and joiners, the BOM), private-use, surrogates, unassigned code points, and line
# or paragraph separators. They would reorder, hide or break what the boards show around the name.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def display_name_validator(value: str) -> None:
    hidden = sorted({f"U+{ord(c):04X}" for c in value if unicodedata.category(c) in HIDDEN_CATEGORIES})
    if hidden:
        raise ValidationError(
            f"Letters, digits, spaces and punctuation only: no control or invisible characters ({', '.join(hidden)}).",
            code="invalid_display_name",
        )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # Usernames are unique regardless of case, so sign-in ignores case too.
        return self.get(username__iexact=username)

    def create_user(self, username: str, email: str, password: str | None = None, **extra: object) -> User:
        user = self.model(username=username, email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(username, email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(max_length=32, unique=True, validators=[username_validator])
    email = models.EmailField(max_length=254)
    display_name = models.CharField(max_length=64, blank=True, validators=[display_name_validator])
    country = CountryField(blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    # A player made by a load tool (the simulator, a stress test, locust): it plays synthetic games only,
    # so it never appears on a real board or in a real tournament (simulator.services.synthetic).
    is_synthetic = models.BooleanField(default=False, editable=False)
    # Shadow-banned (scores.services.moderation): the player's scores are kept, and shown to them only.
    shadow_banned_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def public_name(self) -> str:
        return self.display_name or self.username


class ModerationAudit(models.Model):
    """One moderation action on a player, who took it and why: the trail an operator answers for."""

    class Action(models.TextChoices):
        SHADOW_BAN = "shadow_ban", "shadow-ban"
        LIFT = "lift", "lift the shadow-ban"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="moderation")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    reason = models.CharField(max_length=500)
    standings = models.IntegerField(help_text="How many standings moved between the public and hidden boards.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.user} by {self.actor}"


def api_key_hash(secret: str) -> str:
    # Keys are 256-bit random strings, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """A game server's credential: writes scores for the games it lists."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    games = models.ManyToManyField("games.Game", related_name="api_keys", blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class CreditEntry(models.Model):
    """One line of a player's prize-credit ledger. Rows are only ever added: the balance is their sum.

    ``reference`` names what the entry pays for ("tournament:42:prize"); one
    user never has two entries with the same reference, so paying a prize
    twice is refused by the database whoever tries.
    """

    class Kind(models.TextChoices):
        PRIZE = "prize", "Prize"
        ADJUSTMENT = "adjustment", "Adjustment"
        # A player's own credits set aside for the prize pool of a tournament they organize, and what comes
        # back of it (a cancelled tournament, places nobody took).
        PRIZE_POOL = "prize_pool", "Prize pool"
        REFUND = "refund", "Refund"

    # The (user, created_at) index and the (user, reference) constraint both start with user,
    # so a separate index on the foreign key would only slow writes down.
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="credit_entries", db_index=False)
    amount = models.BigIntegerField(help_text="Signed: a negative amount takes credits away.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reference = models.CharField(max_length=120)
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Staff who made it."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "credit entry"
        verbose_name_plural = "credit entries"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(amount=0),
                name="accounts_credit_amount_nonzero",
                violation_error_message="The amount must not be zero.",
            ),
            models.UniqueConstraint(fields=["user", "reference"], name="accounts_credit_user_reference"),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="accounts_credit_user_created")]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.user_id} {self.reference}"
