"""
A query of a fixed shape, compiled to SQL once per process and database, then run for any user id: what the
gate's one query per request (``companies.policy.standing_for``) costs without the ORM building and
compiling its ``UNION`` again on every request (docs/performance.md).

The queryset is built by a function of the user id. It is compiled twice, for two different ids; the SQL must
be the same, and the parameters that differ are where the id goes. A run binds the id into those places,
executes the SQL on a cursor of the current connection (so query counts, execute wrappers and transactions
behave as for any other query) and converts the values as the ORM would (SQLite hands back dates and
booleans as text and integers), from the output fields of the compiled query.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any

from django.db import connections
from django.db.models import QuerySet


class CompiledQuery:
    """``build(user_id)`` compiled once per database alias; :meth:`rows` runs it for one user id."""

    def __init__(self, build: Callable[[int], QuerySet]):
        self._build = build
        self._compiled: dict[str, tuple[str, list, tuple[int, ...], list]] = {}
        self._converters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _compile(self, alias: str) -> tuple[str, list, tuple[int, ...], list]:
        compiled = self._compiled.get(alias)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(alias) or self._compile_now(alias)
                self._compiled[alias] = compiled
        return compiled

    def _compile_now(self, alias: str) -> tuple[str, list, tuple[int, ...], list]:
        first = self._build(1).query.get_compiler(using=alias)
        sql, params = first.as_sql()
        other_sql, other_params = self._build(2).query.get_compiler(using=alias).as_sql()
        if sql != other_sql or len(params) != len(other_params):
            raise ValueError("The query's SQL depends on the user id; it cannot be compiled once.")
        slots = tuple(index for index, (a, b) in enumerate(zip(params, other_params, strict=True)) if a != b)
        if not slots or any((params[i], other_params[i]) != (1, 2) for i in slots):
            raise ValueError("The user id is not a parameter of the query.")
        expressions = [expression for expression, _sql, _alias in first.select]
        return sql, list(params), slots, expressions

    def _converters_for(self, connection, expressions) -> list[tuple[int, list, Any]]:
        converters = self._converters.get(connection)
        if converters is None:
            converters = []
            for position, expression in enumerate(expressions):
                functions = connection.ops.get_db_converters(expression) + expression.get_db_converters(
                    connection
                )
                if functions:
                    converters.append((position, functions, expression))
            self._converters[connection] = converters
        return converters

    def rows(self, user_id: int, using: str = "default") -> list[tuple]:
        """The rows of the query for ``user_id``, with the values the ORM would give."""
        sql, params, slots, expressions = self._compile(using)
        bound = params.copy()
        for slot in slots:
            bound[slot] = user_id
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, bound)
            rows = cursor.fetchall()
        converters = self._converters_for(connection, expressions)
        if not converters or not rows:
            return rows
        converted = []
        for row in rows:
            values = list(row)
            for position, functions, expression in converters:
                value = values[position]
                for function in functions:
                    value = function(value, expression, connection)
                values[position] = value
            converted.append(tuple(values))
        return converted


class CompiledQueries:
    """One :class:`CompiledQuery` per variant of a query (``build(variant, user_id)``), made when first
    run."""

    def __init__(self, build: Callable[[Any, int], QuerySet]):
        self._build = build
        self._queries: dict[Hashable, CompiledQuery] = {}

    def rows(self, variant: Any, user_id: int, using: str = "default") -> list[tuple]:
        query = self._queries.get(variant)
        if query is None:
            query = self._queries.setdefault(
                variant, CompiledQuery(lambda user_id: self._build(variant, user_id))
            )
        return query.rows(user_id, using)

    def clear(self) -> None:
        """Forget every compiled query (after a setting that shapes them changed)."""
        self._queries.clear()
