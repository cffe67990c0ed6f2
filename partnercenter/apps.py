from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class PartnercenterConfig(AppConfig):
    name = "partnercenter"

    def ready(self):
        # Sign-in signal receivers: the second step and the idle-session clock start at login.
        # Tracing's: a request's or a task's id ends with it, in a task worker too.
        from partnercenter import signin, tracing, two_step  # noqa: F401
        from partnercenter.statement_timeout import lift_for_migrations, restore_after_migrations

        # Sent once per app: this app's signals say when `migrate` starts and ends.
        pre_migrate.connect(lift_for_migrations, sender=self)
        post_migrate.connect(restore_after_migrations, sender=self)
