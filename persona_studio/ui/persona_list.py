"""The persona list: every persona in the file (FORLLM's own included), searchable, sortable.

The model pages through ``store.personas.list`` (fetchMore), so a file with ten thousand
personas opens as fast as one with ten; searching, filtering by source or tag and sorting are
done by SQLite, not by a proxy over rows that were never loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from persona_studio.errors import PersonaStudioError
from persona_studio.ui.labels import error_color, ok_color, source_label
from persona_studio.ui.rowdiff import sync_rows
from persona_studio.ui.tasks import TaskGroup
from persona_studio.ui.transfer import (
    CARD_FORMATS,
    DEFAULT_FORMAT,
    drag_folder,
    drag_format,
    export_report,
    extras_hint,
    file_mime_data,
    formats,
)

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

Index = QModelIndex | QPersistentModelIndex

PAGE_SIZE = 200
COLUMNS = ("Name", "Source", "Updated", "Created", "Rating", "Check")
COL_NAME, COL_SOURCE, COL_UPDATED, COL_CREATED, COL_RATING, COL_CHECK = range(len(COLUMNS))
ORDER_BY = {
    COL_NAME: "name",
    COL_SOURCE: "source",
    COL_UPDATED: "updated",
    COL_CREATED: "created",
    COL_RATING: "rating",
    COL_CHECK: "check",  # by score; unchecked personas last
}
PERSONA_ID_ROLE = Qt.ItemDataRole.UserRole + 1
SOURCES = (
    ("All sources", None),
    ("Generated", "llm_generated"),
    ("Written by hand", "user_manual"),
)
SEARCH_DELAY_MS = 200
ALL_TAGS = "All tags"


def _day(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d") if value else ""


def _when(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "unknown"


def check_text(persona) -> str:
    """The Check column: the current version's check summary ("" when unchecked)."""
    if persona.check_summary:
        return persona.check_summary
    return f"score {persona.check_score:.2f}" if persona.check_score is not None else ""


def check_tooltip(persona) -> str:
    if persona.check_score is None and not persona.check_summary:
        return "Not checked: open it and click Check to see how the model answers as it."
    score = f"{persona.check_score:.2f}" if persona.check_score is not None else "unknown"
    return (
        f"Persona check of version {persona.version}: score {score}"
        + (f" ({persona.check_summary})" if persona.check_summary else "")
        + ". The editor shows the questions and answers."
    )


class PersonaListModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.store: Store | None = None
        self._rows: list[Any] = []
        self._total = 0
        self.search = ""
        self.source: str | None = None
        self.tag: str | None = None
        self.order_by = "name"
        self.descending = False
        self.error = ""
        self._notifying_now = False
        # The format a drag writes (Preferences); Alt held at the drag's start picks another.
        self.export_format: Callable[[], str] = lambda: DEFAULT_FORMAT
        self.drag_failed: Callable[[str], None] = lambda _text: None
        # What a drag's files leave out (a card without card extras); the status bar says it.
        self.drag_note: Callable[[str], None] = lambda _text: None
        # Whether the editor holds unsaved card extras of a persona (exports take the saved).
        self.card_unsaved: Callable[[int], bool] = lambda _persona_id: False

    # -- querying -------------------------------------------------------------------------

    def _query(self, limit: int, offset: int = 0) -> list[Any]:
        if self.store is None:  # no file open yet: nothing to list
            return []
        return self.store.personas.list(
            search=self.search or None,
            source=self.source,
            tag=self.tag,
            order_by=self.order_by,
            descending=self.descending,
            limit=limit,
            offset=offset,
        )

    def _count(self) -> int:
        if self.store is None:
            return 0
        return self.store.personas.count(
            search=self.search or None, source=self.source, tag=self.tag
        )

    def set_store(self, store: Store) -> None:
        self.store = store
        self.reload()

    def reload(self) -> None:
        """The query changed (filter, sort, file): start again from the first page."""
        self.beginResetModel()
        self._rows, self._total, self.error = [], 0, ""
        if self.store is not None:
            try:
                self._total = self._count()
                self._rows = self._query(PAGE_SIZE)
            except PersonaStudioError as exc:
                self.error = str(exc)
        with self._notifying():
            self.endResetModel()

    def refresh(self) -> None:
        """The data changed (same query): update the loaded rows in place."""
        if self.store is None:
            return
        try:
            total = self._count()
            rows = self._query(max(len(self._rows), PAGE_SIZE))
        except PersonaStudioError as exc:
            self.error = str(exc)
            return
        self.error = ""
        self._total = total
        sync_rows(self, self._rows, rows, lambda summary: summary.persona_id)

    def set_filter(self, search: str, source: str | None, tag: str | None = None) -> None:
        if (search, source, tag) != (self.search, self.source, self.tag):
            self.search, self.source, self.tag = search, source, tag
            self.reload()

    def tags(self) -> list[tuple[str, int]]:
        """Every tag the shown personas carry, with how many carry it."""
        if self.store is None:
            return []
        try:
            return self.store.cards.tags()
        except PersonaStudioError:
            return []

    @property
    def total(self) -> int:
        return self._total

    def row_of(self, persona_id: int) -> int | None:
        return next((i for i, p in enumerate(self._rows) if p.persona_id == persona_id), None)

    # -- Qt model -------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return (
            not parent.isValid()
            and not self._notifying_now
            and self.store is not None
            and len(self._rows) < self._total
        )

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        try:
            more = self._query(PAGE_SIZE, len(self._rows))
        except PersonaStudioError as exc:
            self.error = str(exc)
            return
        known = {p.persona_id for p in self._rows}
        more = [p for p in more if p.persona_id not in known]
        if not more:
            self._total = len(self._rows)  # the file shrank meanwhile
            return
        with self._notifying():
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(more) - 1)
            self._rows.extend(more)
            self.endInsertRows()

    @contextmanager
    def _notifying(self) -> Iterator[None]:
        """Listeners of a reset or insertion may ask for more rows at once; fetching them from
        inside the notification would nest one change in another (and fetch the same page
        twice). They get the next page when they ask again, as a view does on its next
        layout."""
        self._notifying_now = True
        try:
            yield
        finally:
            self._notifying_now = False

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        order_by = ORDER_BY.get(column, "name")
        descending = order == Qt.SortOrder.DescendingOrder
        if (order_by, descending) != (self.order_by, self.descending):
            self.order_by, self.descending = order_by, descending
            self.reload()

    # -- dragging personas out as files ------------------------------------------------------

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else flags

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def persona_ids(self, indexes: list[QModelIndex]) -> list[int]:
        """The personas of ``indexes`` (any column), once each, in row order."""
        rows = sorted({i.row() for i in indexes if i.isValid() and i.row() < len(self._rows)})
        return [self._rows[r].persona_id for r in rows]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData | None:
        """File URLs of the selected personas, written to a fresh temporary folder in the
        format from Preferences (Alt held: the alternate one); None (no drag) on failure."""
        ids = self.persona_ids(indexes)
        if not ids or self.store is None:
            return None
        alternate = bool(QGuiApplication.keyboardModifiers() & Qt.KeyboardModifier.AltModifier)
        fmt = drag_format(self.export_format(), alternate)
        unsaved = [pid for pid in ids if self.card_unsaved(pid)]
        try:
            exported = export_report(self.store, ids, fmt, drag_folder())
        except (PersonaStudioError, OSError) as exc:
            self.drag_failed(f"The personas could not be written for dragging: {exc}")
            return None
        hint = self.export_hint(exported, fmt, unsaved)
        if hint:
            self.drag_note(hint)
        return file_mime_data(exported.paths)

    def export_hint(self, exported, fmt: str, unsaved_ids: list[int]) -> str:
        """What to say of the card extras of cards just exported ("" if nothing)."""
        if fmt not in CARD_FORMATS:
            return ""
        names = {p.persona_id: p.name for p in self._rows}
        unsaved = [names.get(pid, f"#{pid}") for pid in unsaved_ids]
        return extras_hint(exported.without_extras, unsaved)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        persona = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == COL_NAME:
                return persona.name
            if column == COL_SOURCE:
                return source_label(persona.generation_source)
            if column == COL_UPDATED:
                return _day(persona.updated_at)
            if column == COL_CREATED:
                return _day(persona.created_at)
            if column == COL_RATING:
                return "★" * persona.rating if persona.rating else ""
            if column == COL_CHECK:
                return check_text(persona)
            return None
        if role == Qt.ItemDataRole.AccessibleTextRole and column == COL_RATING:
            return f"{persona.rating} of 5" if persona.rating else "Not rated"
        if role == Qt.ItemDataRole.AccessibleTextRole and column == COL_CHECK:
            return check_text(persona) or "Not checked"
        if role == Qt.ItemDataRole.ToolTipRole and column == COL_CHECK:
            return check_tooltip(persona)
        if (
            role == Qt.ItemDataRole.ForegroundRole
            and column == COL_CHECK
            and persona.check_score is not None
        ):
            # Passed all the way, or not: told by the colour even where the text is cut.
            return ok_color() if persona.check_score >= 0.999 else error_color()
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"{persona.name}, version {persona.version}\n"
                f"Created {_when(persona.created_at)}, changed {_when(persona.updated_at)}\n"
                f"{persona.preview}"
            )
        if role == Qt.ItemDataRole.FontRole and column == COL_NAME:
            font = QFont()
            font.setBold(True)
            return font
        if role == PERSONA_ID_ROLE:
            return persona.persona_id
        return None


class PersonaListPanel(QWidget):
    personaSelected = Signal(int)
    message = Signal(str)  # for the status bar: what an export wrote, or why it failed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = PersonaListModel(self)
        self.search = QLineEdit()
        self.search.setObjectName("personaSearch")
        self.search.setPlaceholderText("Search names and text (Ctrl+F)")
        self.search.setAccessibleName("Search personas")
        self.search.setClearButtonEnabled(True)
        self.source = QComboBox()
        self.source.setAccessibleName("Show personas from")
        for label, value in SOURCES:
            self.source.addItem(label, value)
        self.tag = QComboBox()
        self.tag.setObjectName("personaTag")
        self.tag.setAccessibleName("Show personas with the tag")
        self.tag.setToolTip("Show only the personas that carry this tag (the editor's Card tab)")
        self.tag.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.tag.addItem(ALL_TAGS, None)
        self.view = QTableView()
        self.view.setObjectName("personaTable")
        self.view.setAccessibleName("Personas")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setDragEnabled(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.view.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.tasks = TaskGroup()  # exports from the context menu
        self.model.drag_failed = self.message.emit
        self.model.drag_note = self.message.emit
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        # Fixed widths from sample texts: ResizeToContents would re-measure every loaded row
        # whenever the list is refreshed.
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        metrics = self.view.fontMetrics()
        for column, sample in (
            (COL_SOURCE, "Generated: assistant"),
            (COL_UPDATED, "0000-00-00"),
            (COL_CREATED, "0000-00-00"),
            (COL_RATING, "★★★★★"),
            # The summary's start; the tooltip has it whole ("· in character").
            (COL_CHECK, "name 2/2 · domain 1/1"),
        ):
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 24)
        self.count_label = QLabel()
        self.count_label.setObjectName("personaCount")

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._apply_filter)
        self.search.textChanged.connect(self._search_timer.start)
        self.source.currentIndexChanged.connect(self._apply_filter)
        self.tag.currentIndexChanged.connect(self._apply_filter)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.model.modelReset.connect(self._update_count)
        self.model.rowsInserted.connect(self._update_count)
        self.model.rowsRemoved.connect(self._update_count)

        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(self.source)
        filters.addWidget(self.tag)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)
        self._selecting = False

    def set_store(self, store: Store) -> None:
        self.model.set_store(store)
        self._update_tags()

    def refresh(self) -> None:
        self.model.refresh()
        self._update_tags()
        self._update_count()

    def _update_tags(self) -> None:
        """The tag filter's choices: the tags in the file now (the chosen one stays chosen,
        with a count of 0 if no persona carries it any more)."""
        chosen = self.tag.currentData()
        tags = self.model.tags()
        items = [(f"{tag} ({count})", tag) for tag, count in tags]
        if chosen is not None and not any(t.casefold() == chosen.casefold() for t, _ in tags):
            items.append((f"{chosen} (0)", chosen))
        current = [(self.tag.itemText(i), self.tag.itemData(i)) for i in range(1, self.tag.count())]
        if items == current:
            return
        self.tag.blockSignals(True)
        try:
            while self.tag.count() > 1:
                self.tag.removeItem(1)
            for label, tag in items:
                self.tag.addItem(label, tag)
            index = self.tag.findData(chosen) if chosen is not None else 0
            self.tag.setCurrentIndex(max(index, 0))
        finally:
            self.tag.blockSignals(False)

    def _apply_filter(self) -> None:
        self.model.set_filter(
            self.search.text().strip(), self.source.currentData(), self.tag.currentData()
        )

    def _update_count(self, *_args) -> None:
        if self.model.error:
            self.count_label.setText(self.model.error)
            return
        shown = self.model.total
        what = "persona" if shown == 1 else "personas"
        text = f"{shown} {what}"
        if self.model.tag:
            text += f" tagged “{self.model.tag}”"
        if self.model.search:
            text += f"{',' if self.model.tag else ''} matching “{self.model.search}”"
        self.count_label.setText(text)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._selecting or not current.isValid():
            return
        persona_id = current.siblingAtColumn(COL_NAME).data(PERSONA_ID_ROLE)
        if persona_id is not None:
            self.personaSelected.emit(int(persona_id))

    def select_persona(self, persona_id: int) -> bool:
        """Select ``persona_id`` without emitting personaSelected (the caller shows it)."""
        row = self.model.row_of(persona_id)
        while row is None and self.model.canFetchMore():
            self.model.fetchMore()
            row = self.model.row_of(persona_id)
        if row is None:
            return False
        self._selecting = True
        try:
            index = self.model.index(row, COL_NAME)
            self.view.selectionModel().setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
            self.view.scrollTo(index)
        finally:
            self._selecting = False
        return True

    # -- exporting -------------------------------------------------------------------------

    def selected_ids(self) -> list[int]:
        return self.model.persona_ids(self.view.selectionModel().selectedRows(COL_NAME))

    def build_context_menu(self) -> QMenu:
        menu = QMenu(self)
        ids = self.selected_ids()
        export_as = menu.addMenu("Export as…")
        export_as.setEnabled(bool(ids))
        for key, info in formats().items():
            action = export_as.addAction(info.label)
            action.setData(key)
            action.triggered.connect(lambda _checked=False, k=key: self.export_as(k))
        to_folder = menu.addAction("Export selected to folder…")
        to_folder.setEnabled(bool(ids))
        to_folder.triggered.connect(lambda _checked=False: self.export_to_folder())
        return menu

    def _context_menu(self, pos) -> None:
        menu = self.build_context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def export_as(self, fmt: str) -> None:
        """One persona: a save dialog; several: a folder, each file named after its persona."""
        ids = self.selected_ids()
        if not ids or self.model.store is None:
            return
        info = formats()[fmt]
        if len(ids) == 1:
            from persona_studio.export.filenames import safe_filename

            name = self.model.index(self.model.row_of(ids[0]) or 0, COL_NAME).data()
            path, _ = QFileDialog.getSaveFileName(
                self,
                f"Export as {info.label}",
                safe_filename(str(name), info.suffix),
                f"{info.label} (*{info.suffix});;All files (*)",
            )
            if path:
                self._export(ids, fmt, Path(path))
            return
        folder = QFileDialog.getExistingDirectory(self, f"Export {len(ids)} as {info.label}")
        if folder:
            self._export(ids, fmt, Path(folder))

    def export_to_folder(self) -> None:
        ids = self.selected_ids()
        if not ids or self.model.store is None:
            return
        folder = QFileDialog.getExistingDirectory(self, f"Export {len(ids)} persona(s) to")
        if folder:
            self._export(ids, self.model.export_format(), Path(folder))

    def _export(self, ids: list[int], fmt: str, out: Path):
        store = self.model.store
        # Taken now, on the GUI thread: the editor's state when the writer asked.
        unsaved = [pid for pid in ids if self.model.card_unsaved(pid)]

        def done(exported) -> None:
            paths = exported.paths
            where = paths[0] if len(paths) == 1 else out
            hint = self.model.export_hint(exported, fmt, unsaved)
            text = f"Exported {len(paths)} persona(s) to {where}."
            self.message.emit(f"{text} {hint}" if hint else text)

        def failed(exc: PersonaStudioError) -> None:
            self.message.emit(f"Export failed: {exc}")

        return self.tasks.off_thread(lambda: export_report(store, ids, fmt, out), done, failed)

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()
