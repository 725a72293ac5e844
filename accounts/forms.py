"""Forms of the account pages. The rules themselves live in the services; these only shape the input."""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import password_validators_help_texts
from django_countries import countries

from .models import display_name_validator, username_validator


class RegisterForm(forms.Form):
    """The registration page's fields, checked like the API's ``RegisterSerializer``, plus a repeated password."""

    username = forms.CharField(
        max_length=32,
        validators=[username_validator],
        help_text="3 to 32 letters, digits, '_', '-' and '.'.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"}),
    )
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label="Password again",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    display_name = forms.CharField(
        max_length=64,
        required=False,
        validators=[display_name_validator],
        help_text="Shown on the boards instead of your username.",
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
    country = forms.ChoiceField(required=False, choices=[])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Built per form: django_countries translates names into the active language.
        self.fields["country"].choices = [("", "None"), *countries]
        self.fields["country"].widget.attrs["autocomplete"] = "country"
        self.fields["password"].help_text = " ".join(password_validators_help_texts())

    def clean(self) -> dict:
        cleaned = super().clean()
        password, again = cleaned.get("password"), cleaned.get("password_again")
        if password is not None and again is not None and password != again:
            self.add_error("password_again", "The two passwords do not match.")
        return cleaned
