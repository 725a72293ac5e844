import re

from django.db import migrations, models

# The players load tools made before they were flagged: the simulator's, the stress tests' and locust's own.
LEGACY = (
    (re.compile(r"^sim_\d{4,}$"), "@simulator.invalid"),
    (re.compile(r"^stress_\d{4,}$"), "@stress.invalid"),
    (re.compile(r"^lc[0-9a-f]{6}_\d+$"), "@stress.invalid"),
)


def flag_legacy_load_players(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    flagged = []
    for user in User.objects.filter(email__endswith=".invalid").only("pk", "username", "email", "password"):
        for pattern, domain in LEGACY:
            if pattern.match(user.username) and user.email.endswith(domain):
                flagged.append(user.pk)
    for start in range(0, len(flagged), 1000):
        User.objects.filter(pk__in=flagged[start : start + 1000]).update(is_synthetic=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_creditentry"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="is_synthetic",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(flag_legacy_load_players, migrations.RunPython.noop),
    ]
