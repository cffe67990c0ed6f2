from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from events.models import Event
        from notifications.tasks import drain_when_committed

        # Every recorded event asks for a drain once its transaction commits (nothing on a
        # rollback); the events app, a layer below, knows nothing of who is told.
        post_save.connect(drain_when_committed, sender=Event, dispatch_uid="outbox-drain")
