"""Bring a list model's rows up to date with precise insert/remove/move/change signals.

A model reset would drop the selection, the scroll position and the current index every
half second while a job runs; these helpers tell the views exactly what changed instead.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from PySide6.QtCore import QAbstractItemModel, QModelIndex

T = TypeVar("T")


def sync_rows(
    model: QAbstractItemModel,
    rows: list[T],
    new_rows: list[T],
    key: Callable[[T], Hashable],
) -> None:
    """Mutate ``rows`` (the model's own list) into ``new_rows``, emitting the signals; a row
    whose key stays but whose content differs gets dataChanged over all its columns."""
    root = QModelIndex()
    wanted = {key(r) for r in new_rows}

    # Remove vanished rows, in contiguous runs from the bottom up.
    i = len(rows) - 1
    while i >= 0:
        if key(rows[i]) in wanted:
            i -= 1
            continue
        first = i
        while first > 0 and key(rows[first - 1]) not in wanted:
            first -= 1
        model.beginRemoveRows(root, first, i)
        del rows[first : i + 1]
        model.endRemoveRows()
        i = first - 1

    for pos, new in enumerate(new_rows):
        k = key(new)
        if pos < len(rows) and key(rows[pos]) == k:
            if rows[pos] != new:
                rows[pos] = new
                _changed(model, pos)
            continue
        found = next((j for j in range(pos + 1, len(rows)) if key(rows[j]) == k), None)
        if found is None:
            model.beginInsertRows(root, pos, pos)
            rows.insert(pos, new)
            model.endInsertRows()
            continue
        model.beginMoveRows(root, found, found, root, pos)
        old = rows.pop(found)
        rows.insert(pos, new)
        model.endMoveRows()
        if old != new:
            _changed(model, pos)


def _changed(model: QAbstractItemModel, row: int) -> None:
    last = max(0, model.columnCount(QModelIndex()) - 1)
    model.dataChanged.emit(model.index(row, 0), model.index(row, last))
