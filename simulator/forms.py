"""The pages' forms: a stress test and a simulation, with the bounds of the REST serializers (the same constants)."""

from __future__ import annotations

from django import forms

from .services import simulate, stress


class StressTestForm(forms.Form):
    concurrent_users = forms.IntegerField(
        label="Concurrent users",
        min_value=stress.MIN_USERS,
        max_value=stress.MAX_USERS,
        initial=20,
        help_text=f"{stress.MIN_USERS}–{stress.MAX_USERS:,}; one in ten watches the boards over a WebSocket",
    )
    actions_per_second = forms.IntegerField(
        label="Actions per second",
        min_value=stress.MIN_ACTIONS,
        max_value=stress.MAX_ACTIONS,
        initial=50,
        help_text=f"{stress.MIN_ACTIONS}–{stress.MAX_ACTIONS:,} requests a second, shared by the players",
    )
    duration = forms.IntegerField(
        label="Duration (seconds)",
        min_value=stress.MIN_DURATION,
        max_value=stress.MAX_DURATION,
        initial=30,
        help_text=f"{stress.MIN_DURATION}–{stress.MAX_DURATION} s",
    )


class SimulationStartForm(forms.Form):
    players = forms.IntegerField(
        label="Players", min_value=simulate.MIN_PLAYERS, max_value=simulate.MAX_PLAYERS, initial=100
    )
    rate = forms.FloatField(
        label="Scores / s", min_value=simulate.MIN_RATE, max_value=simulate.MAX_RATE, initial=20
    )  # FloatField refuses inf and nan itself
    duration = forms.IntegerField(
        label="Seconds", min_value=simulate.MIN_DURATION, max_value=simulate.MAX_DURATION, initial=60
    )
