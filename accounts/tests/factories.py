import factory

from accounts.models import CreditEntry, User

DEFAULT_PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"player{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    display_name = factory.LazyAttribute(lambda u: u.username.title())
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CreditEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditEntry

    user = factory.SubFactory(UserFactory)
    amount = 100
    kind = CreditEntry.Kind.PRIZE
    reference = factory.Sequence(lambda n: f"test:{n}:prize")
