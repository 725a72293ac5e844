"""What admin classes share."""

from __future__ import annotations

from django import forms


def form_with_actor(form: type[forms.ModelForm], actor: object) -> type[forms.ModelForm]:
    """``form`` (the class an admin's ``get_form`` made) whose instances receive ``actor=``: for forms whose
    ``clean()`` carries out a service as the staff member saving them."""

    def __init__(self: forms.ModelForm, *args: object, **kwargs: object) -> None:  # noqa: N807
        form.__init__(self, *args, actor=actor, **kwargs)

    return type(form.__name__, (form,), {"__init__": __init__})
