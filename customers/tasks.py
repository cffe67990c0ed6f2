"""Work done by the task queue's workers (`python manage.py db_worker`)."""

from django_tasks import task

from customers.bulk import bulk_operation_run


@task()
def run_bulk_operation(operation_id: int) -> None:
    """Run a large bulk change chunk by chunk; a second run of the same one carries on."""
    bulk_operation_run(operation_id)
