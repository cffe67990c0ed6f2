"""Records written once and kept for good: the change history and the role changes."""

from django.db import models

from partnercenter.policy import RestrictedQuerySet


class RecordIsImmutable(Exception):
    """An attempt to edit or delete a record that is kept for good (a programming error)."""


class ImmutableQuerySet(RestrictedQuerySet):
    """No update and no delete through a QuerySet either."""

    def update(self, **kwargs):
        raise RecordIsImmutable(f"{self.model._meta.verbose_name_plural} cannot be edited.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise RecordIsImmutable(f"{self.model._meta.verbose_name_plural} cannot be edited.")

    def delete(self):
        raise RecordIsImmutable(f"{self.model._meta.verbose_name_plural} cannot be deleted.")


class ImmutableRecord(models.Model):
    """A row that is inserted once, then never saved again nor deleted."""

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RecordIsImmutable(f"{self._meta.verbose_name_plural} cannot be edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RecordIsImmutable(f"{self._meta.verbose_name_plural} cannot be deleted.")
