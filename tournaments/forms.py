"""The create form of the tournaments page. It checks the shape of the input; the rules are the service's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from common.errors import DomainError
from games.models import Game
from games.selectors import game_list

from .models import MAX_ATTEMPTS, MAX_PARTICIPANTS, MIN_PARTICIPANTS, Format

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"

# The service names fields as the API does; the form calls the game ``game``.
_SERVICE_FIELDS = {"game_id": "game"}


class UtcDateTimeField(forms.DateTimeField):
    """A ``datetime-local`` input read as UTC, whatever the time zone of the request."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)
    input_formats = [DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]

    def to_python(self, value: Any) -> datetime | None:
        with timezone.override(UTC):
            return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime(DATETIME_LOCAL)
        return value


class GameChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, game: Game) -> str:
        return game.name


class TournamentCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    game = GameChoiceField(queryset=Game.objects.none(), empty_label="Choose a game")
    format = forms.ChoiceField(choices=Format.choices, initial=Format.BEST_SCORE)
    max_attempts = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ATTEMPTS,
        label="Max attempts",
        help_text="Limited attempts only: how many scores count per player.",
    )
    max_participants = forms.IntegerField(
        min_value=MIN_PARTICIPANTS, max_value=MAX_PARTICIPANTS, initial=100, label="Max participants"
    )
    # The upper bound is the service's (TOURNAMENT_MAX_PRIZE_POOL), shown on the field when exceeded.
    prize_pool = forms.IntegerField(min_value=0, initial=0, label="Prize pool (credits)")
    prize_split = forms.CharField(
        required=False,
        max_length=500,
        initial="50, 30, 20",
        label="Prize split (%)",
        help_text="Per cent of the pool for places 1, 2, 3… Empty: 50, 30, 20.",
    )
    start_time = UtcDateTimeField(label="Start (UTC)")
    end_time = UtcDateTimeField(label="End (UTC)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["game"].queryset = game_list(is_active=True)
        if not self.is_bound:
            # The next whole quarter hour, for an hour: a tournament players can join before it starts.
            now = timezone.now().astimezone(UTC).replace(second=0, microsecond=0)
            start = now + timedelta(minutes=15 - now.minute % 15)
            self.initial.setdefault("start_time", start)
            self.initial.setdefault("end_time", start + timedelta(hours=1))

    def clean_prize_split(self) -> list[str] | None:
        raw = self.cleaned_data["prize_split"].strip()
        if not raw:
            return None
        shares = [share.strip().rstrip("%").strip() for share in raw.replace(";", ",").split(",")]
        if any(not share for share in shares):
            raise forms.ValidationError("Write the percentages separated by commas, e.g. 50, 30, 20.")
        return shares  # the service checks each one

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("format") != Format.LIMITED_ATTEMPTS:
            data["max_attempts"] = None  # hidden by the page for other formats: a leftover value is not an error
        elif data.get("max_attempts") is None and "max_attempts" not in self.errors:
            self.add_error("max_attempts", "A limited attempts tournament needs the number of attempts.")
        start, end = data.get("start_time"), data.get("end_time")
        if start and end and end <= start:
            self.add_error("end_time", "Must be after the start.")
        return data

    def service_arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``services.tournament_create`` (all but the organizer)."""
        return dict(self.cleaned_data)

    def add_service_error(self, error: DomainError) -> None:
        """Show a service's refusal on the form: on the fields it names, else above the form."""
        if not error.fields:
            self.add_error(None, error.message)
            return
        for field, messages in error.fields.items():
            name = _SERVICE_FIELDS.get(field, field)
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
