import pytest
from django.core.management import call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


def password_printed(capsys) -> str:
    out = capsys.readouterr().out
    return out.rsplit("password '", 1)[1].split("'", 1)[0]


def test_demo_admin_creates_a_staff_account_with_a_kept_password(settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path
    settings.DEMO_ADMIN_PASSWORD = ""

    call_command("demo_admin")
    first = password_printed(capsys)
    call_command("demo_admin")
    second = password_printed(capsys)

    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert first == second
    assert admin.check_password(first)
    assert (tmp_path / "demo-admin-password").read_text().strip() == first


def test_demo_admin_takes_user_and_password_from_settings(settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path
    settings.DEMO_ADMIN_USER = "boss"
    settings.DEMO_ADMIN_PASSWORD = "a-long-secret"

    call_command("demo_admin")

    assert User.objects.get(username="boss").check_password("a-long-secret")
    assert not (tmp_path / "demo-admin-password").exists()


def test_demo_admin_rerun_updates_instead_of_duplicating(settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path
    settings.DEMO_ADMIN_PASSWORD = "first-secret"
    call_command("demo_admin")
    settings.DEMO_ADMIN_PASSWORD = "second-secret"

    call_command("demo_admin")

    assert User.objects.filter(username__iexact="admin").count() == 1
    assert User.objects.get(username="admin").check_password("second-secret")


def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
