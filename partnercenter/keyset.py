"""Keyset pagination: a page asks for the rows after (or before) the edge of the page it came
from, given by a continuation token, the way Partner Center's own API pages.

A page number makes the database count every row (for "page 3 of 4,000") and skip every row
before the page (OFFSET): both grow with the table. A keyset page reads only its own rows
through an index that matches the ordering, so the first and the four-thousandth page cost the
same, and a row added meanwhile never shifts a page by one.

The token is opaque and URL-safe: the edge row's sort key and position, signed with a salt that
names the model, the ordering and the world it comes from (the partner whose rows the list
shows). A forged, garbled or foreign token, or one from another ordering, is refused: the list
starts from the beginning and the page says why. The rows themselves always come from the
queryset the caller restricted; a token only says where to start.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class KeysetPage:
    """One page of rows, with the tokens of the pages on either side."""

    object_list: list
    start: int  # the position of the first row, from 1 (as of when the paging began)
    is_first: bool = True  # the list's own beginning, not a page a token led to
    has_previous: bool = False
    has_next: bool = False
    previous_token: str = ""
    next_token: str = ""
    notice: str = ""  # why the token given was not used, for the page to show

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)

    @property
    def end(self) -> int:
        return self.start + len(self.object_list) - 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next or not self.is_first

    @property
    def is_whole_list(self) -> bool:
        """One page holds every row: its length is the total, known without a count."""
        return self.is_first and not self.has_next


class KeysetPaginator:
    """Pages of `queryset` in `ordering`: model fields or annotations of `queryset` that are
    never null (a leading "-" for descending), the last one "pk" or "-pk" so that every row has
    its own place. An index over the same fields (the pk last) lets the database read a page and
    nothing more; an annotation (a count, say) is computed for every row before the first page
    can be told."""

    def __init__(
        self,
        queryset: QuerySet,
        ordering: Sequence[str],
        per_page: int,
        *,
        world,
        load: Callable[[list], Iterable[Model]] | None = None,
    ):
        """`world`: whose rows these are (a partner's id); a token is good in its world only.
        `load`: the rows of the given ids, with whatever the page shows of them; given, the
        page's ids are found first, then loaded (two short queries, for a `queryset` whose
        filters and joins together would take the database longer to plan than to run)."""
        if not ordering or ordering[-1].lstrip("-") != "pk":
            raise ValueError("A keyset ordering ends with the primary key: 'pk' or '-pk'.")
        self.queryset = queryset
        self.ordering = tuple(ordering)
        self.per_page = per_page
        self.load = load
        self._keys = [(name.lstrip("-"), name.startswith("-")) for name in self.ordering]
        meta = queryset.model._meta
        annotations = queryset.query.annotations
        self._annotated = {name for name, _ in self._keys if name in annotations}
        self._fields = [
            meta.pk
            if name == "pk"
            else annotations[name].output_field
            if name in annotations
            else meta.get_field(name)
            for name, _ in self._keys
        ]
        self._signer = signing.Signer(
            salt=f"partnercenter.keyset:{meta.label_lower}:{','.join(self.ordering)}:{world}"
        )

    def page(
        self,
        *,
        after: str | None = None,
        before: str | None = None,
        last: bool = False,
        total: int | None = None,
    ) -> KeysetPage:
        """The page after the row of token `after`, else the one before the row of `before`,
        else the last one if `last` and the number of rows, `total`, is known, else the first;
        a token that cannot be used gives the first page and a notice."""
        token, forward = (after, True) if after else (before, False)
        if not token:
            return self._last(total) if last and total is not None else self._first()
        try:
            values, position = self._read(token)
        except (signing.BadSignature, ValidationError, ValueError, TypeError, KeyError):
            return self._first(
                notice=_("This page link is not valid here, so the list starts from the beginning.")
            )
        if forward:
            rows = self._fetch(self.queryset.filter(self._beyond(values, True)), self.ordering)
            more = len(rows) > self.per_page
            return self._page(rows[: self.per_page], position + 1, False, True, more)
        rows = self._fetch(self.queryset.filter(self._beyond(values, False)), self._reverse)
        more = len(rows) > self.per_page
        rows = rows[: self.per_page][::-1]
        # Rows added or removed since the token was made move positions; never below the first.
        start = max(position - len(rows), 2) if more else 1
        return self._page(rows, start, not more, more, True)

    def token_for(self, row: Model, position: int) -> str:
        """The token of `row`, at `position` (from 1) in the list: `after` it gives the page
        that follows the row, `before` it the one that precedes it."""
        values = [
            str(getattr(row, name)) if name in self._annotated else field.value_to_string(row)
            for (name, _), field in zip(self._keys, self._fields, strict=True)
        ]
        return self._signer.sign_object({"k": values, "p": position})

    @property
    def _reverse(self) -> tuple[str, ...]:
        return tuple(name[1:] if name.startswith("-") else "-" + name for name in self.ordering)

    def _first(self, notice: str = "") -> KeysetPage:
        rows = self._fetch(self.queryset, self.ordering)
        return self._page(rows[: self.per_page], 1, True, False, len(rows) > self.per_page, notice)

    def _last(self, total: int) -> KeysetPage:
        rows = self._fetch(self.queryset, self._reverse)
        more = len(rows) > self.per_page
        rows = rows[: self.per_page][::-1]
        start = max(total - len(rows) + 1, 2) if more else 1
        return self._page(rows, start, not more, more, False)

    def _fetch(self, queryset: QuerySet, ordering) -> list:
        # One row more than a page says whether there is a next one, without a count.
        window = queryset.order_by(*ordering)[: self.per_page + 1]
        if self.load is None:
            return list(window)
        pks = list(window.values_list("pk", flat=True))
        loaded = {row.pk: row for row in self.load(pks)} if pks else {}
        return [loaded[pk] for pk in pks if pk in loaded]

    def _page(self, rows, start, is_first, has_previous, has_next, notice="") -> KeysetPage:
        return KeysetPage(
            object_list=rows,
            start=start,
            is_first=is_first,
            has_previous=has_previous and bool(rows),
            has_next=has_next and bool(rows),
            previous_token=self.token_for(rows[0], start) if rows and has_previous else "",
            next_token=self.token_for(rows[-1], start + len(rows) - 1) if rows and has_next else "",
            notice=notice,
        )

    def _read(self, token: str) -> tuple[list, int]:
        payload = self._signer.unsign_object(token)
        values, position = payload["k"], payload["p"]
        if not isinstance(values, list) or len(values) != len(self._fields):
            raise ValueError("a token of another ordering")
        if not isinstance(position, int) or isinstance(position, bool) or position < 1:
            raise ValueError("a token without a position")
        return [
            field.to_python(value) for field, value in zip(self._fields, values, strict=True)
        ], position

    def _beyond(self, values: list, forward: bool) -> Q:
        """The rows strictly after (forward) or before the row whose sort key is `values`.

        (a, b) > (x, y) is written a >= x AND (a > x OR (a = x AND b > y)): the leading
        range is what lets an index on (a, b) start right at the row instead of at the top."""
        clauses, equal = [], {}
        for (name, descending), value in zip(self._keys, values, strict=True):
            op = "lt" if descending == forward else "gt"
            clauses.append(Q(**equal, **{f"{name}__{op}": value}))
            equal[name] = value
        (name, descending), value = self._keys[0], values[0]
        op = "lte" if descending == forward else "gte"
        return Q(**{f"{name}__{op}": value}) & reduce(or_, clauses)
