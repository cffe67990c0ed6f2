"""Small htmx helpers shared by views."""


def is_htmx_target(request, target_id: str) -> bool:
    """True for an htmx request aimed at `target_id` (a boosted navigation never is)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and htmx.target == target_id
