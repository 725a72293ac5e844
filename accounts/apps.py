from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import schema  # noqa: F401  registers the API-key scheme with drf-spectacular
        from .models import User
        from .selectors import player_names

        def forget_name(sender: type, instance: User, **kwargs: object) -> None:
            player_names.forget(instance.pk)

        post_save.connect(forget_name, sender=User, dispatch_uid="accounts.forget_name.save", weak=False)
        post_delete.connect(forget_name, sender=User, dispatch_uid="accounts.forget_name.delete", weak=False)
