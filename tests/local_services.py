"""Whether the machine's own services answer: tests that need them skip (or, under CI, fail)."""

import psycopg


def postgresql_reachable() -> bool:
    try:
        psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True
