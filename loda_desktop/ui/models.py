"""Item models: one table model over plain :class:`PhotoItem` records, one proxy that sorts and filters it.

The grid (QListView) and the table (QTableView) both show :class:`PhotoFilterProxy`, which sits on
:class:`PhotoTableModel`. The model holds data and roles; the proxy sorts (score, name, capture date,
rating, ...) and filters (hide rejected, minimum score, minimum rating, name text); the delegates paint.

Sorting reads the records directly (no ``data()`` round trip per comparison): with 2,000 photos a full sort
costs tens of milliseconds, and a score arriving re-sorts only the rows it changed. Photos without a value
for the sort key (not scored yet, failed, no capture date) always come last, in either order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import Any, Protocol

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QImage

from .items import BurstInfo, PhotoItem, burst_text, natural_key

__all__ = [
    "LABEL_COLOURS",
    "SORT_KEYS",
    "Column",
    "PhotoFilterProxy",
    "PhotoItem",
    "PhotoTableModel",
    "Role",
    "natural_key",
]

ModelIndex = QModelIndex | QPersistentModelIndex

# Colour labels: the names stored in the catalog's label column, and how they are drawn.
LABEL_COLOURS: dict[str, str] = {
    "red": "#e5484d",
    "yellow": "#f2c94c",
    "green": "#46a758",
    "blue": "#3e8ee0",
    "purple": "#9b6bd6",
}
FLAG_TEXT = {"pick": "Pick", "reject": "Reject"}


class Column(IntEnum):
    NAME = 0
    SCORE = 1
    SPREAD = 2
    DETAIL = 3
    BURST = 4
    RATING = 5
    FLAG = 6
    LABEL = 7
    CAPTURED = 8
    STATUS = 9
    FOLDER = 10


HEADERS = {
    Column.NAME: "Name",
    Column.SCORE: "Score",
    Column.SPREAD: "Spread",
    Column.DETAIL: "Detail",
    Column.BURST: "Burst",
    Column.RATING: "Rating",
    Column.FLAG: "Flag",
    Column.LABEL: "Label",
    Column.CAPTURED: "Captured",
    Column.STATUS: "Status",
    Column.FOLDER: "Folder",
}


class Role(IntEnum):
    """Named roles (napari style) on top of Qt's own."""

    Item = Qt.ItemDataRole.UserRole + 1  # the PhotoItem itself
    Path = Qt.ItemDataRole.UserRole + 2
    Sort = Qt.ItemDataRole.UserRole + 3  # the sort key of the column (None when missing)
    Score = Qt.ItemDataRole.UserRole + 4
    Spread = Qt.ItemDataRole.UserRole + 5
    Status = Qt.ItemDataRole.UserRole + 6
    Error = Qt.ItemDataRole.UserRole + 7
    Rating = Qt.ItemDataRole.UserRole + 8
    Flag = Qt.ItemDataRole.UserRole + 9
    Label = Qt.ItemDataRole.UserRole + 10
    CaptureTime = Qt.ItemDataRole.UserRole + 11
    Thumbnail = Qt.ItemDataRole.UserRole + 12  # QImage or None (asks the thumbnail source to load it)
    ThumbnailError = Qt.ItemDataRole.UserRole + 13  # why there is no thumbnail, or None
    Burst = Qt.ItemDataRole.UserRole + 14  # BurstInfo, or None when the photo is in no burst


_FLAG_ORDER = {"reject": 0, None: 1, "pick": 2}

# The sort key of each column; None means "no value" (sorted last in either order).
_SORT_KEYS: dict[Column, Callable[[PhotoItem], Any]] = {
    Column.NAME: lambda it: it.sort_name,
    Column.SCORE: lambda it: it.score if it.status == "ok" else None,
    Column.SPREAD: lambda it: it.spread if it.status == "ok" else None,
    Column.DETAIL: lambda it: it.detail if it.status == "ok" else None,
    Column.BURST: lambda it: None if it.burst is None else (it.burst, it.burst_rank or 0),
    Column.RATING: lambda it: it.rating,
    Column.FLAG: lambda it: _FLAG_ORDER.get(it.flag, 1),
    Column.LABEL: lambda it: it.label.casefold() if it.label else None,
    Column.CAPTURED: lambda it: it.capture_time,
    Column.STATUS: lambda it: (it.status != "error", it.error or ""),
    Column.FOLDER: lambda it: (natural_key(it.folder), it.sort_name),
}

# The sort choices offered in the toolbar: name → (column, natural order).
SORT_KEYS: dict[str, tuple[Column, Qt.SortOrder]] = {
    "Score": (Column.SCORE, Qt.SortOrder.DescendingOrder),
    "Name": (Column.NAME, Qt.SortOrder.AscendingOrder),
    "Capture date": (Column.CAPTURED, Qt.SortOrder.AscendingOrder),
    "Rating": (Column.RATING, Qt.SortOrder.DescendingOrder),
}

# Roles changed by each kind of update (dataChanged role lists).
_RESULT_ROLES = [
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.ForegroundRole,
    Role.Sort,
    Role.Score,
    Role.Spread,
    Role.Status,
    Role.Error,
]
_FIELD_ROLES = {
    "rating": [Qt.ItemDataRole.DisplayRole, Role.Sort, Role.Rating],
    "flag": [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, Role.Sort, Role.Flag],
    "label": [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole, Role.Sort, Role.Label],
    "capture_time": [Qt.ItemDataRole.DisplayRole, Role.Sort, Role.CaptureTime],
}
_DETAIL_ROLES = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Role.Sort, Role.Item, Role.Burst]
# The column of each field; the grid paints column 0 from Role.Item, so it is told too (except for the
# capture time, which it does not show). Narrow ranges spare the proxy a re-sort by an unrelated column.
_FIELD_COLUMNS = {
    "rating": (Column.NAME, Column.RATING),
    "flag": (Column.NAME, Column.FLAG),
    "label": (Column.NAME, Column.LABEL),
    "capture_time": (Column.CAPTURED,),
}


def stars(rating: int) -> str:
    return "★" * rating if rating else ""


def label_colour(label: str | None) -> QColor | None:
    if not label:
        return None
    hex_colour = LABEL_COLOURS.get(label.casefold())
    return QColor(hex_colour) if hex_colour else None


def format_score(item: PhotoItem) -> str:
    if item.status == "ok" and item.score is not None:
        return f"{item.score:.3f}"
    if item.status == "error":
        return "error"
    return "…"


def _runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in sorted(set(rows)):
        if runs and row == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


class ThumbnailSource(Protocol):
    """What the model asks for thumbnails (the window's ThumbnailLoader)."""

    def get(self, item: PhotoItem) -> QImage | None:
        """The thumbnail when it is ready; otherwise None, and its load is queued."""

    def error(self, item: PhotoItem) -> str | None:
        """Why the photo has no thumbnail, once that is known."""


class PhotoTableModel(QAbstractTableModel):
    """A flat table over a list of :class:`PhotoItem`; rows keep insertion (scan) order."""

    def __init__(self, parent=None, *, thumbnails: ThumbnailSource | None = None) -> None:
        super().__init__(parent)
        self._items: list[PhotoItem] = []
        self._rows: dict[str, int] = {}
        self._bursts: dict[int, list[PhotoItem]] | None = None  # burst id → its frames here, best first
        self.thumbnails = thumbnails

    # -- access ---------------------------------------------------------------------------------------------
    @property
    def items(self) -> Sequence[PhotoItem]:
        return self._items

    def item(self, row: int) -> PhotoItem:
        return self._items[row]

    def row_of(self, path: str | os.PathLike[str]) -> int | None:
        return self._rows.get(os.fspath(path))

    def item_for(self, path: str | os.PathLike[str]) -> PhotoItem | None:
        row = self.row_of(path)
        return None if row is None else self._items[row]

    def index_for(self, path: str | os.PathLike[str], column: int = 0) -> QModelIndex:
        row = self.row_of(path)
        return QModelIndex() if row is None else self.index(row, column)

    # -- bursts ---------------------------------------------------------------------------------------------
    def bursts(self) -> dict[int, list[PhotoItem]]:
        """Every burst among these photos: its id → its frames, best ranked first (kept until a change)."""
        if self._bursts is None:
            index: dict[int, list[PhotoItem]] = {}
            for item in self._items:
                if item.burst is not None:
                    index.setdefault(item.burst, []).append(item)
            for frames in index.values():
                frames.sort(key=lambda it: (it.burst_rank is None, it.burst_rank or 0, it.sort_name))
            self._bursts = index
        return self._bursts

    def burst_info(self, item: PhotoItem) -> BurstInfo | None:
        """Where ``item`` stands in its burst (None: in no burst)."""
        frames = self.bursts().get(item.burst) if item.burst is not None else None
        if not frames:
            return None
        tie = any(frame.burst_tie for frame in frames)
        return BurstInfo(item.burst, item.burst_rank, len(frames), tie, frames[0] is item)

    # -- Qt interface ---------------------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(Column):
            return HEADERS[Column(section)]
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, column)
        if role == Role.Item:
            return item
        if role == Role.Path:
            return item.path
        if role == Role.Sort:
            return _SORT_KEYS[Column(column)](item) if 0 <= column < len(Column) else None
        if role == Role.Score:
            return item.score
        if role == Role.Spread:
            return item.spread
        if role == Role.Status:
            return item.status
        if role == Role.Error:
            return item.error
        if role == Role.Rating:
            return item.rating
        if role == Role.Flag:
            return item.flag
        if role == Role.Label:
            return item.label
        if role == Role.CaptureTime:
            return item.capture_time
        if role == Role.Thumbnail:
            return self.thumbnails.get(item) if self.thumbnails is not None else None
        if role == Role.ThumbnailError:
            return self.thumbnails.error(item) if self.thumbnails is not None else None
        if role == Role.Burst:
            return self.burst_info(item)
        if role == Qt.ItemDataRole.ToolTipRole:
            pair = "".join(f"\n+ {c}" for c in item.companions)
            burst = self.burst_info(item)
            where = f"\nBurst {burst_text(burst)}" if burst is not None else ""
            return item.path + pair + where + (f"\n{item.error}" if item.error else "")
        if role == Qt.ItemDataRole.DecorationRole and column == Column.NAME:
            return label_colour(item.label)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (Column.SCORE, Column.SPREAD, Column.DETAIL):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == Column.STATUS and item.status == "error":
                return QColor("#e5484d")
            if column == Column.FLAG and item.flag:
                return QColor("#46a758" if item.flag == "pick" else "#e5484d")
            if column == Column.SCORE and item.status != "ok":
                return QColor("#8a8a8a")
        return None

    def _display(self, item: PhotoItem, column: int) -> str | None:
        if column == Column.NAME:
            return item.display_name
        if column == Column.SCORE:
            return format_score(item)
        if column == Column.SPREAD:
            return f"±{item.spread:.3f}" if item.status == "ok" and item.spread is not None else ""
        if column == Column.DETAIL:
            return f"{item.detail:.3f}" if item.status == "ok" and item.detail is not None else ""
        if column == Column.BURST:
            return burst_text(self.burst_info(item))
        if column == Column.RATING:
            return stars(item.rating)
        if column == Column.FLAG:
            return FLAG_TEXT.get(item.flag or "", "")
        if column == Column.LABEL:
            return (item.label or "").capitalize() if item.label in LABEL_COLOURS else (item.label or "")
        if column == Column.CAPTURED:
            return item.capture_time.replace("T", " ")[:19] if item.capture_time else ""
        if column == Column.STATUS:
            return {"ok": "scored", "pending": "waiting"}.get(item.status, item.error or item.status)
        if column == Column.FOLDER:
            return item.folder
        return None

    # -- changes --------------------------------------------------------------------------------------------
    def clear(self) -> None:
        self.beginResetModel()
        self._items = []
        self._rows = {}
        self._bursts = None
        self.endResetModel()

    def add_items(self, items: Iterable[PhotoItem]) -> int:
        """Append items (one beginInsertRows for the batch); items whose path is already here update it."""
        new: list[PhotoItem] = []
        seen: set[str] = set()
        for item in items:
            if item.path in self._rows or item.path in seen:
                self.replace_item(item)
            else:
                seen.add(item.path)
                new.append(item)
        if not new:
            return 0
        first = len(self._items)
        self._bursts = None
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for offset, item in enumerate(new):
            self._rows[item.path] = first + offset
        self._items.extend(new)
        self.endInsertRows()
        return len(new)

    def replace_item(self, item: PhotoItem) -> None:
        row = self._rows.get(item.path)
        if row is None:
            self.add_items([item])
            return
        self._items[row] = item
        self._bursts = None
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))

    def remove_paths(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Remove the rows of ``paths`` (unknown paths ignored), one beginRemoveRows per run of rows."""
        rows = [r for p in paths if (r := self._rows.get(os.fspath(p))) is not None]
        runs = _runs(rows)
        self._bursts = None
        for first, last in reversed(runs):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._items[first : last + 1]
            self._reindex(first)
            self.endRemoveRows()
        return sum(last - first + 1 for first, last in runs)

    def _reindex(self, start: int = 0) -> None:
        if start == 0:
            self._rows = {}
        else:
            for path in [p for p, r in self._rows.items() if r >= start]:
                del self._rows[path]
        for row in range(start, len(self._items)):
            self._rows[self._items[row].path] = row

    def _emit_rows(self, rows: Iterable[int], roles: list[int], first_column: int = 0, last_column: int = -1) -> None:
        last_column = len(Column) - 1 if last_column < 0 else last_column
        for first, last in _runs(rows):
            self.dataChanged.emit(self.index(first, first_column), self.index(last, last_column), roles)

    def apply_results(self, results: Iterable[tuple[str, float | None, float | None, str, str | None]]) -> int:
        """Scores from the worker: (path, score, spread, status, error) tuples; returns the rows changed."""
        rows = []
        for path, score, spread, status, error in results:
            row = self._rows.get(path)
            if row is None:
                continue
            item = self._items[row]
            item.score, item.spread, item.status, item.error = score, spread, status, error
            item.score_model = None  # the current model's own score now
            rows.append(row)
        self._emit_rows(rows, _RESULT_ROLES)
        return len(rows)

    def set_details(self, values: dict[str, dict[str, Any]]) -> int:
        """The detail scores, crops and bursts (:data:`.items.DETAIL_FIELDS`) of the photos at the paths;
        returns how many changed. Every frame of a burst that changed is redrawn (its count and lead)."""
        rows = []
        for path, fields in values.items():
            row = self._rows.get(path)
            if row is not None and self._items[row].set_details(fields):
                rows.append(row)
        if rows:  # the grid's cell (column 0) and the two columns; not the sort column of the score
            self._bursts = None
            self._emit_rows(rows, _DETAIL_ROLES, Column.NAME, Column.NAME)
            self._emit_rows(rows, _DETAIL_ROLES, Column.DETAIL, Column.BURST)
        return len(rows)

    def set_field(self, paths: Iterable[str | os.PathLike[str]], name: str, value: Any) -> list[str]:
        """Set ``rating``, ``flag``, ``label`` or ``capture_time`` of the photos at ``paths``; returns the
        paths that changed."""
        return self.set_fields(name, {os.fspath(p): value for p in paths})

    def set_fields(self, name: str, values: dict[str, Any]) -> list[str]:
        """Per-path values of one field (``rating``, ``flag``, ``label``, ``capture_time``)."""
        if name not in _FIELD_ROLES:
            raise ValueError(f"not an editable field: {name}")
        rows, changed = [], []
        for path, value in values.items():
            row = self._rows.get(path)
            if row is None or getattr(self._items[row], name) == value:
                continue
            setattr(self._items[row], name, value)
            rows.append(row)
            changed.append(path)
        for column in _FIELD_COLUMNS[name]:
            roles = [Role.Item] if column == Column.NAME else _FIELD_ROLES[name]
            self._emit_rows(rows, roles, column, column)
        return changed

    def thumbnail_ready(self, path: str) -> None:
        row = self._rows.get(path)
        if row is not None:
            index = self.index(row, Column.NAME)
            self.dataChanged.emit(index, index, [Role.Thumbnail, Role.ThumbnailError])

    def all_thumbnails_changed(self) -> None:
        if self._items:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._items) - 1, 0), [Role.Thumbnail])


def _begin_filter_change(proxy: QSortFilterProxyModel) -> None:
    if hasattr(proxy, "beginFilterChange"):  # Qt 6.9+; invalidateFilter() is deprecated there
        proxy.beginFilterChange()


def _end_filter_change(proxy: QSortFilterProxyModel) -> None:
    if hasattr(proxy, "endFilterChange"):
        proxy.endFilterChange(QSortFilterProxyModel.Direction.Rows)
    else:  # pragma: no cover - older Qt
        proxy.invalidateFilter()


class PhotoFilterProxy(QSortFilterProxyModel):
    """Sorts by any column (missing values last) and filters by flag, score, rating and name."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._hide_rejected = False
        self._min_score: float | None = None
        self._min_rating = 0
        self._text = ""
        self._stacks = False
        self.setDynamicSortFilter(True)
        self.setSortRole(Role.Sort)

    # -- filters --------------------------------------------------------------------------------------------
    @property
    def hide_rejected(self) -> bool:
        return self._hide_rejected

    @property
    def min_score(self) -> float | None:
        return self._min_score

    @property
    def min_rating(self) -> int:
        return self._min_rating

    @property
    def text(self) -> str:
        return self._text

    def _change(self, attr: str, value: Any) -> None:
        if getattr(self, attr) == value:
            return
        _begin_filter_change(self)
        setattr(self, attr, value)
        _end_filter_change(self)

    def set_hide_rejected(self, hide: bool) -> None:
        self._change("_hide_rejected", bool(hide))

    def set_min_score(self, score: float | None) -> None:
        """Only photos scored at least ``score`` (None: no threshold; unscored photos are shown)."""
        self._change("_min_score", None if score is None else float(score))

    def set_min_rating(self, rating: int) -> None:
        if not 0 <= rating <= 5:
            raise ValueError(f"rating must be 0..5, got {rating}")
        self._change("_min_rating", int(rating))

    def refilter(self) -> None:
        """Filter every row again (the frame a stack shows may have changed with a burst's ranks)."""
        _begin_filter_change(self)
        _end_filter_change(self)

    @property
    def stacks(self) -> bool:
        return self._stacks

    def set_stacks(self, stacked: bool) -> None:
        """Each burst shows as its best ranked frame only (the grid's badge counts the frames), or all frames."""
        self._change("_stacks", bool(stacked))

    def set_text(self, text: str) -> None:
        """Only photos whose file name contains ``text`` (case-insensitive)."""
        self._change("_text", text.strip().casefold())

    @property
    def filtering(self) -> bool:
        return self._hide_rejected or self._min_score is not None or self._min_rating > 0 or bool(self._text)

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, PhotoTableModel):
            return True
        item = model.item(source_row)
        if self._hide_rejected and item.flag == "reject":
            return False
        if self._stacks and item.burst is not None and not getattr(model.burst_info(item), "lead", True):
            return False
        if item.rating < self._min_rating:
            return False
        if self._min_score is not None and (not item.scored or item.score < self._min_score):
            return False
        return not (self._text and self._text not in item.name.casefold())

    # -- sorting --------------------------------------------------------------------------------------------
    def sort_by(self, name: str, order: Qt.SortOrder | None = None) -> None:
        """Sort by one of :data:`SORT_KEYS` (its natural order unless ``order`` is given)."""
        column, natural = SORT_KEYS[name]
        self.sort(column, natural if order is None else order)

    def sort_key(self, item: PhotoItem, column: int) -> Any:
        """What ``item`` sorts by in ``column`` (None: no value, sorted last); :mod:`.order` may hold it still."""
        return _SORT_KEYS.get(Column(column), _SORT_KEYS[Column.NAME])(item)

    def lessThan(self, left: ModelIndex, right: ModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, PhotoTableModel):
            return super().lessThan(left, right)
        a, b = model.item(left.row()), model.item(right.row())
        ka, kb = self.sort_key(a, left.column()), self.sort_key(b, left.column())
        descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
        if ka is not None and kb is not None and ka != kb:
            return ka < kb
        if (ka is None) != (kb is None):
            # Qt reverses the comparison for a descending sort; "missing" must land last either way.
            return (ka is None) == descending
        # ties (and two missing values): by name then path, A→Z in both orders
        ta, tb = (a.sort_name, a.path), (b.sort_name, b.path)
        return ta > tb if descending else ta < tb

    # -- access ---------------------------------------------------------------------------------------------
    def item_at(self, row: int) -> PhotoItem:
        return self.data(self.index(row, 0), Role.Item)

    def visible_items(self) -> list[PhotoItem]:
        """The items in view order (what the grid shows, top to bottom)."""
        model = self.sourceModel()
        if not isinstance(model, PhotoTableModel):
            return []
        return [model.item(self.mapToSource(self.index(r, 0)).row()) for r in range(self.rowCount())]
