"""The main window: wires the panels to the store, the watcher and the worker thread.

Two tabs hold the two jobs a writer does (generate; read and edit), the queue sits below
both. The database is opened off the GUI thread (a first open migrates and backs the file
up), so the window is on screen and usable at once; the model loads later still, on the
worker thread, when the first job needs it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QWidget,
)

from persona_studio import paths
from persona_studio.core.events import JobFinished, JobStarted, TextWritten
from persona_studio.errors import PersonaStudioError
from persona_studio.llm.threads import SlowWatch, SpeedRecord, load_average, slowdown_message
from persona_studio.ui.compare import CompareDialog
from persona_studio.ui.current_model import CurrentModel
from persona_studio.ui.editor import PersonaEditor
from persona_studio.ui.generate_form import GenerateForm
from persona_studio.ui.heap import long_lived
from persona_studio.ui.history import HistoryDialog
from persona_studio.ui.labels import error_color, first_sentence, model_label
from persona_studio.ui.model_manager import ModelManagerDialog
from persona_studio.ui.persona_list import PersonaListPanel
from persona_studio.ui.preferences import (
    DEFAULT_CONTEXT,
    Preferences,
    PreferencesDialog,
    apply_theme,
)
from persona_studio.ui.queue_panel import QueuePanel
from persona_studio.ui.ratings_report import RatingsReportDialog
from persona_studio.ui.regenerate_dialog import RegenerateDialog
from persona_studio.ui.run_elsewhere import RunElsewhereDialog
from persona_studio.ui.stream_view import StreamView
from persona_studio.ui.tasks import TaskGroup
from persona_studio.ui.template_editor import TemplateEditorDialog
from persona_studio.ui.transfer import ImportResult, import_paths, local_files, report_text
from persona_studio.ui.watcher import StoreWatcher
from persona_studio.ui.worker_thread import WorkerThread

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

log = logging.getLogger(__name__)

GENERATE_TAB, PERSONAS_TAB = 0, 1
DB_FILTER = "FORLLM database (*.db *.sqlite *.sqlite3);;All files (*)"


def _open_store(path: Path | None) -> Store:
    with long_lived():
        # Imported here: this runs on an executor thread, so the GUI thread never pays for
        # the store's imports (SQLAlchemy) before the window is up.
        from persona_studio.store import Store

        return Store.open(path)


class MainWindow(QMainWindow):
    closed = Signal()  # everything the window started has stopped; the file is closed

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.store: Store | None = None
        self._dialogs: list[QWidget] = []
        self._tasks = TaskGroup()  # coroutines of the window itself (opening a file)
        self.writes = TaskGroup()  # store writes started here and in the dialogs
        self._finishing: asyncio.Task | None = None
        self._refreshing = False
        self._refresh_again = False
        self._running_job_name = ""
        # The running job's live speed against what this machine usually does with its model.
        self._speed: tuple[int, str, SlowWatch] | None = None
        # One Models dialog for the window's life: a download it runs outlives its closing
        # only until its cancel is noticed; shutdown waits for that.
        self.model_manager: ModelManagerDialog | None = None
        self.hub_endpoint: str | None = None  # None: HF_ENDPOINT or huggingface.co
        self.setWindowTitle("Persona Studio")

        # The model jobs are queued for and the editor measures with; the form's picker sets it.
        self.current_model = CurrentModel(self)
        self.form = GenerateForm(prefs, current_model=self.current_model)
        self.stream = StreamView()
        self.personas = PersonaListPanel()
        self.editor = PersonaEditor(current_model=self.current_model)
        self.queue = QueuePanel()
        self.watcher = StoreWatcher(self)
        self.worker = WorkerThread(self)

        generate_split = QSplitter(Qt.Orientation.Horizontal)
        generate_split.addWidget(self.form)
        generate_split.addWidget(self.stream)
        generate_split.setStretchFactor(0, 2)
        generate_split.setStretchFactor(1, 3)
        generate_split.setSizes([520, 700])
        personas_split = QSplitter(Qt.Orientation.Horizontal)
        personas_split.addWidget(self.personas)
        personas_split.addWidget(self.editor)
        personas_split.setStretchFactor(0, 2)
        personas_split.setStretchFactor(1, 3)
        personas_split.setSizes([460, 760])
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Views")
        self.tabs.addTab(generate_split, "Generate")
        self.tabs.addTab(personas_split, "Personas")
        self.setCentralWidget(self.tabs)

        self.queue_dock = QDockWidget("Queue", self)
        self.queue_dock.setObjectName("queueDock")
        self.queue_dock.setWidget(self.queue)
        self.queue_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.queue_dock)
        self.resizeDocks([self.queue_dock], [220], Qt.Orientation.Vertical)

        self.model_state = QLabel("Starting the worker…")
        self.model_state.setObjectName("modelState")
        self.db_label = QLabel("Opening the database…")
        self.db_label.setObjectName("databaseLabel")
        self.statusBar().addPermanentWidget(self.model_state)
        self.statusBar().addPermanentWidget(self.db_label)

        self.personas.model.export_format = lambda: self.prefs.export_format
        # A card exported from the list holds the saved card extras; the status bar says so
        # when the editor has changes to them that are not saved.
        self.personas.model.card_unsaved = lambda persona_id: (
            self.editor.persona_id == persona_id and self.editor.card_panel.is_dirty()
        )
        self.setAcceptDrops(True)  # persona files dropped anywhere on the window import
        self.import_results: list[ImportResult] = []  # the last drop's, as reported

        self._build_menus()
        self._connect()
        self.editor.set_context_hint(self._context_hint())
        self.resize(1360, 860)
        geometry, state = prefs.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    # -- building -------------------------------------------------------------------------

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(
            file_menu,
            "&New database…",
            self.choose_new_database,
            tip="Create an empty FORLLM database file",
        )
        self._action(
            file_menu,
            "&Open database…",
            self.choose_database,
            QKeySequence.StandardKey.Open,
            "Open FORLLM's forllm_data.db or another file",
        )
        file_menu.addSeparator()
        self._action(
            file_menu,
            "&Models…",
            self.open_model_manager,
            tip="Recommended models to download, and which fits this machine",
        )
        self._action(
            file_menu, "&Preferences…", self.open_preferences, QKeySequence.StandardKey.Preferences
        )
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit_menu = bar.addMenu("&Edit")
        self.find_action = self._action(
            edit_menu, "&Find persona", self.focus_search, QKeySequence.StandardKey.Find
        )
        self.save_action = self._action(
            edit_menu,
            "&Save persona",
            self.save_persona,
            QKeySequence.StandardKey.Save,
            "Save the persona in the editor as a new version",
        )
        edit_menu.addSeparator()
        self._action(
            edit_menu,
            "Prompt &templates…",
            self.open_template_editor,
            tip="Edit the prompts each generation stage sends to the model",
        )

        generate_menu = bar.addMenu("&Generate")
        self.generate_action = self._action(
            generate_menu,
            "&Generate",
            self.generate,
            ["Ctrl+Return", "Ctrl+Enter"],
            "Queue what the Generate form describes",
        )
        self.stop_action = self._action(
            generate_menu,
            "&Stop the running job",
            self.stop_running_job,
            tip="Stop the generation that is running now",
        )

        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.queue_dock.toggleViewAction())
        self._action(
            view_menu, "&Generate tab", lambda: self.tabs.setCurrentIndex(GENERATE_TAB), "Ctrl+1"
        )
        self._action(
            view_menu, "&Personas tab", lambda: self.tabs.setCurrentIndex(PERSONAS_TAB), "Ctrl+2"
        )
        view_menu.addSeparator()
        self.compare_action = self._action(
            view_menu,
            "&Compare personas…",
            self.open_compare,
            tip="Ask two personas, or two versions of one, the same question side by side",
        )
        self.report_action = self._action(
            view_menu,
            "&Best-rated settings…",
            self.open_rating_report,
            tip="Which templates, models and options made the best-rated personas",
        )

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About Persona Studio", self._about)

    def _connect(self) -> None:
        worker = self.worker
        # Each job's events: the stream view and the queue take what they show; the window
        # keeps the status bar (what the model does, a slow run, how the job ended).
        worker.jobEvent.connect(self.stream.show_job_event)
        worker.jobEvent.connect(self.queue.show_job_event)
        worker.jobEvent.connect(self._job_event)
        worker.modelLoading.connect(self._model_loading)
        worker.modelLoaded.connect(self._model_loaded)
        worker.tokensCounted.connect(self.editor.set_exact_count)
        worker.problem.connect(self._worker_problem)
        worker.ready.connect(self._worker_ready)
        try_panel = self.editor.try_panel
        try_panel.replyWanted.connect(self._ask_persona)
        try_panel.stopWanted.connect(worker.stop_chat)
        worker.chatStarted.connect(self._chat_started)
        worker.chatText.connect(try_panel.reply_text)
        worker.chatFinished.connect(self._chat_finished)
        check_panel = self.editor.check_panel
        check_panel.checkWanted.connect(self._check_persona)
        check_panel.stopWanted.connect(worker.stop_check)
        worker.checkStarted.connect(self._check_started)
        worker.checkAnswered.connect(check_panel.answered)
        worker.checkFinished.connect(self._check_finished)
        card_panel = self.editor.card_panel
        card_panel.writeWanted.connect(self._write_card_extras)
        card_panel.stopWanted.connect(worker.stop_card_extras)
        worker.extrasStarted.connect(card_panel.started)
        worker.extrasProgress.connect(card_panel.progress)
        worker.extrasFinished.connect(self._card_extras_finished)
        rewriter = self.editor.rewriter
        rewriter.rewriteWanted.connect(self._rewrite_section)
        rewriter.stopWanted.connect(worker.stop_rewrite)
        worker.rewriteStarted.connect(self._rewrite_started)
        worker.rewriteText.connect(rewriter.text_arrived)
        worker.rewriteFinished.connect(self._rewrite_finished)
        rewriter.prefillWanted.connect(worker.prefill)
        self.editor.try_button.setChecked(self.prefs.try_panel_shown)
        self.editor.try_button.toggled.connect(
            lambda shown: setattr(self.prefs, "try_panel_shown", shown)
        )

        self.watcher.changed.connect(self.refresh_views)
        self.watcher.failed.connect(lambda text: self.statusBar().showMessage(text, 15000))

        self.form.queued.connect(self._queued)
        self.form.personaRequested.connect(self.show_persona)
        current = self.current_model
        current.changed.connect(try_panel.follow_form_model)
        current.listed.connect(lambda: try_panel.set_models(current.entries(), current.model_id()))
        self.form.model_picker.moreRequested.connect(self.open_model_manager)
        self.stream.stopRequested.connect(self.stop_job)
        self.stream.openPersona.connect(self.show_persona)
        self.queue.personaRequested.connect(self.show_persona)
        self.queue.cancelRequested.connect(self.worker.cancel)
        self.queue.pauseToggled.connect(self._pause_toggled)
        self.queue.retryWaitingRequested.connect(self.worker.retry_waiting)
        self.queue.otherModelRequested.connect(self.run_elsewhere)
        self.personas.personaSelected.connect(self._persona_selected)
        self.personas.message.connect(lambda text: self.statusBar().showMessage(text, 15000))
        self.editor.tokensWanted.connect(self.worker.count_tokens)
        for signal in (
            self.editor.saved,
            self.editor.renamed,
            self.editor.deleted,
            self.editor.rated,
            self.editor.checked,
        ):
            signal.connect(self._persona_changed)
        self.editor.historyRequested.connect(self.open_history)
        self.editor.regenerateRequested.connect(self.open_regenerate)

    # -- the database ---------------------------------------------------------------------

    def open_database(self, path: Path | None, *, fallback_to_default: bool = False):
        """Open ``path`` (None: the default file) off the GUI thread; returns the task."""
        return self._tasks.start(self._open_database(path, fallback_to_default))

    async def _open_database(self, path: Path | None, fallback_to_default: bool) -> None:
        self.db_label.setText(f"Opening {path or 'the default database'}…")
        loop = asyncio.get_running_loop()
        try:
            store = await loop.run_in_executor(None, _open_store, path)
        except PersonaStudioError as exc:
            if fallback_to_default and path is not None:
                self.statusBar().showMessage(
                    f"Could not open {path}: {exc} Opened the default database instead.", 20000
                )
                store = await loop.run_in_executor(None, _open_store, None)
            else:
                self.db_label.setText(
                    str(self.store.path) if self.store is not None else "No database open"
                )
                self.show_error("The database could not be opened", str(exc))
                return
        self.use_store(store)

    def use_store(self, store: Store) -> None:
        """Switch every view, the watcher and the worker to ``store``."""
        self.watcher.stop()
        self.worker.stop()
        old, self.store = self.store, store
        if old is not None and old is not store:
            self._tasks.start(self._close_when_written(old))
        self.prefs.last_database = str(store.path)
        self.setWindowTitle(f"Persona Studio · {store.path.name}")
        self.db_label.setText(store.path.name)
        self.db_label.setToolTip(f"The FORLLM database file in use: {store.path}")
        notes = []
        if store.created:
            notes.append(f"Created a new FORLLM database at {store.path}.")
        if store.backup_path is not None:
            notes.append(f"Before updating it, a backup was saved to {store.backup_path}.")
        if notes:
            self.statusBar().showMessage(" ".join(notes), 20000)
        self.form.set_store(store)
        self.personas.set_store(store)
        self.editor.set_store(store)
        self.queue.set_store(store)
        self.watcher.start(store)
        self.worker.start(store.path, self.prefs.model_settings)

    async def _close_when_written(self, store: Store) -> None:
        """Close a store once the writes that may still use it have ended."""
        for group in self._write_groups():
            await group.wait()
        store.close()

    def refresh_views(self) -> None:
        """Something committed to the file (us, our worker, FORLLM): bring the views up to
        date, one view per event-loop turn so the window never stalls for all of them at once;
        a change noticed meanwhile runs the round again."""
        if self.store is None:
            return
        if self._refreshing:
            self._refresh_again = True
            return
        self._refreshing = True
        steps = [self.queue.refresh, self.personas.refresh, self.form.refresh, self.editor.reload]

        def step(index: int) -> None:
            if self.store is None:
                self._refreshing = False
                return
            if index == len(steps):
                self._refreshing = False
                if self._refresh_again:
                    self._refresh_again = False
                    self.refresh_views()
                return
            steps[index]()
            QTimer.singleShot(0, lambda: step(index + 1))

        step(0)

    def choose_database(self) -> None:
        start = str(self.store.path.parent) if self.store is not None else str(paths.data_dir())
        path, _ = QFileDialog.getOpenFileName(self, "Open a FORLLM database", start, DB_FILTER)
        if path:
            self.editor.confirm_leave(lambda: self.open_database(Path(path)))

    def choose_new_database(self) -> None:
        start = str(paths.data_dir() / "forllm_data.db")
        path, _ = QFileDialog.getSaveFileName(
            self,
            "New FORLLM database",
            start,
            DB_FILTER,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not path:
            return

        def open_it() -> None:
            if Path(path).exists():
                self.statusBar().showMessage(
                    f"{path} already exists: it was opened as it is, not replaced.", 15000
                )
            self.open_database(Path(path))

        self.editor.confirm_leave(open_it)

    # -- worker signals -------------------------------------------------------------------

    def _job_event(self, event) -> None:
        """The window's part of a job's events: the status bar and the slow-speed watch."""
        match event:
            case JobStarted():
                self._job_started(event)
            case TextWritten():
                self._watch_speed(event)
            case JobFinished():
                self._job_finished(event)

    def _job_started(self, event: JobStarted) -> None:
        self._running_job_name = event.name
        model_id = event.model_id
        self._speed = (event.request_id, model_id, SlowWatch(self.prefs.usual_speed(model_id)))
        self.model_state.setText(f"Generating “{event.name}”")

    def _watch_speed(self, event: TextWritten) -> None:
        """Far below this machine's usual speed for the model: the status bar says why."""
        if self._speed is None or self._speed[0] != event.request_id:
            return
        _rid, model_id, watch = self._speed
        rate = event.tokens_per_s
        if watch.sample(rate) and watch.usual:
            self.statusBar().showMessage(
                slowdown_message(rate, watch.usual, model_label(model_id), load_average()),
                30000,
            )

    def _model_loading(self, model_id: str) -> None:
        self.model_state.setText(f"Loading model {model_label(model_id)}…")
        if self.worker.current_request is not None:
            self.stream.model_loading(model_id)
            self.queue.show_loading(self.worker.current_request, True)
        else:  # loading for a question in the "Try it" panel, or a persona check
            self.editor.model_loading(model_id)

    def _model_loaded(self, model_id: str, seconds: float) -> None:
        self.model_state.setText(f"Model {model_label(model_id)} ready")
        if self.worker.current_request is not None:
            self.stream.model_loaded(model_id, seconds)
            self.queue.show_loading(self.worker.current_request, False)
        self.editor.update_size()

    def _learn_speed(self, outcome: JobFinished) -> None:
        """A job that ended well teaches what this machine usually does with its model."""
        speed, self._speed = self._speed, None
        if speed is None or speed[0] != outcome.request_id or outcome.persona_id is None:
            return
        _rid, model_id, watch = speed
        usual = SpeedRecord(self.prefs.usual_speed(model_id)).job_done(watch.job_rate())
        if usual:
            self.prefs.set_usual_speed(model_id, usual)

    def _job_finished(self, outcome: JobFinished) -> None:
        self._learn_speed(outcome)
        self.model_state.setText("Model ready; waiting for jobs")
        if outcome.persona_id is not None:
            renamed = f" (“{outcome.requested_name}” was taken)" if outcome.renamed else ""
            self.statusBar().showMessage(
                f"Job #{outcome.request_id} done: “{outcome.persona_name}”{renamed}.", 15000
            )
            # Next turn of the event loop: the views' reads and the editor's layout are
            # work enough for a turn of their own.
            QTimer.singleShot(0, lambda: self._open_result(outcome))
        elif outcome.cancelled:
            self.statusBar().showMessage(f"Job #{outcome.request_id} stopped.", 10000)
        else:
            self.statusBar().showMessage(
                f"Job #{outcome.request_id} failed: {first_sentence(outcome.error)} "
                "(the queue shows the whole message)",
                20000,
            )
        self.refresh_views()

    def _open_result(self, outcome: JobFinished) -> None:
        if self.store is None or outcome.persona_id is None:
            return
        if self.editor.is_dirty() and self.editor.persona_id != outcome.persona_id:
            self.statusBar().showMessage(
                f"“{outcome.persona_name}” is ready; it was not opened because the editor "
                "has unsaved changes.",
                15000,
            )
            return
        self.personas.refresh()  # the new persona must be in the list to be selected
        self.show_persona(outcome.persona_id)

    # -- the "Try it" panel -------------------------------------------------------------------

    def _ask_persona(self, request) -> None:
        """A question from the Try it panel goes to the worker thread; if a job is running
        there, it waits for it, and the panel says for what."""
        self.worker.ask(request)
        if self.worker.current_request is not None:
            self.editor.try_panel.waiting_for(self._running_job_name)

    def _show_model_idle(self) -> None:
        """After a Try it reply, a check, card extras or a rewrite: the model is free again
        unless a job is running (a side request may end while a job runs or waits)."""
        if self.worker.current_request is None:
            self.model_state.setText("Model ready; waiting for jobs")

    def _chat_started(self, chat_id: int) -> None:
        self.editor.try_panel.reply_started(chat_id)
        self.model_state.setText("Answering in Try it")

    def _chat_finished(self, reply) -> None:
        self.editor.try_panel.reply_finished(reply)
        self._show_model_idle()

    # -- the editor's persona check -----------------------------------------------------------

    def _check_persona(self, request) -> None:
        """A check from the editor goes to the worker thread like a Try it question: after
        the running job, if there is one (the editor says so)."""
        self.worker.check(request)
        if self.worker.current_request is not None:
            self.editor.check_panel.waiting_for(self._running_job_name)

    def _check_started(self, check_id: int) -> None:
        self.editor.check_panel.started(check_id)
        self.model_state.setText("Checking the persona")

    def _check_finished(self, outcome) -> None:
        self.editor.check_panel.finished(outcome)
        self._show_model_idle()
        if outcome.saved_version is not None:
            self._persona_changed(outcome.persona_id)  # the list shows the new score

    # -- the editor's card extras ---------------------------------------------------------------

    def _write_card_extras(self, request) -> None:
        """Card extras go to the worker thread like a Try it question: after the running
        job, if there is one (the Card tab says so)."""
        self.worker.write_card_extras(request)
        if self.worker.current_request is not None:
            self.editor.card_panel.waiting_for(self._running_job_name)

    def _card_extras_finished(self, outcome) -> None:
        self.editor.card_panel.finished(outcome)
        self._show_model_idle()

    # -- the editor's section rewrites ---------------------------------------------------------

    def _rewrite_section(self, request) -> None:
        """A section rewrite goes to the worker thread like a check: after the running job."""
        self.worker.rewrite(request)
        if self.worker.current_request is not None:
            self.editor.rewriter.waiting_for(self._running_job_name)

    def _rewrite_started(self, rewrite_id: int) -> None:
        self.editor.rewriter.started(rewrite_id)
        self.model_state.setText("Rewriting a section")

    def _rewrite_finished(self, outcome) -> None:
        self.editor.rewriter.finished(outcome)
        self._show_model_idle()

    def _pause_toggled(self, paused: bool) -> None:
        self.worker.set_paused(paused)
        self.statusBar().showMessage(
            "Queue paused: no new job starts until you resume it." if paused else "Queue resumed.",
            8000,
        )

    def _worker_ready(self) -> None:
        self.model_state.setStyleSheet("")
        self.model_state.setText("Ready · the model loads with the first job")

    def _worker_problem(self, text: str) -> None:
        self.model_state.setText("Worker problem (see the status bar)")
        self.model_state.setStyleSheet(f"color: {error_color().name()};")
        self.statusBar().showMessage(text, 30000)

    # -- dropping files in ------------------------------------------------------------------

    def _wants(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> bool:
        # Our own list's drag would import copies of what is already there.
        return event.source() is not self.personas.view and bool(local_files(event.mimeData()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if self._wants(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt's name
        if self._wants(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        if not self._wants(event):
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_files(local_files(event.mimeData()))

    def import_files(self, files: list[Path]):
        """Import ``files`` off the GUI thread; then a dialog lists what became of each."""
        store = self.store
        if store is None or not files:
            self.statusBar().showMessage("Open a database first, then drop the files.", 10000)
            return None
        self.statusBar().showMessage(f"Importing {len(files)} file(s)…")

        def done(results: list[ImportResult]) -> None:
            self.import_results = results
            ok = sum(r.ok for r in results)
            box = QMessageBox(
                QMessageBox.Icon.Information if ok == len(results) else QMessageBox.Icon.Warning,
                "Import",
                f"Imported {ok} of {len(results)} persona file(s).",
                QMessageBox.StandardButton.Ok,
                self,
            )
            box.setObjectName("importReport")
            box.setInformativeText(report_text(results))
            self._show_dialog(box)
            self.statusBar().showMessage(f"Imported {ok} of {len(results)} file(s).", 10000)
            self.refresh_views()

        return self.writes.off_thread(lambda: import_paths(store, files), done)

    # -- actions --------------------------------------------------------------------------

    def generate(self) -> bool:
        """Ctrl+Enter: queue the form (switching to it first if another tab is showing)."""
        if self.tabs.currentIndex() != GENERATE_TAB:
            self.tabs.setCurrentIndex(GENERATE_TAB)
            return False
        return self.form.generate()

    def _queued(self, ids: list[int]) -> None:
        self.queue.refresh()
        if ids:
            self.queue.select_request(ids[0])
        self.statusBar().showMessage(f"Queued {len(ids)} job(s).", 5000)

    def stop_job(self, request_id: int) -> None:
        """Stop: the flag the token loop checks (at once), and the stored cancel request (so
        the job ends as cancelled even if another process runs it)."""
        self.worker.cancel(request_id)
        store = self.store
        if store is None:
            return

        def failed(exc: PersonaStudioError) -> None:
            self.statusBar().showMessage(str(exc), 15000)

        self.writes.off_thread(
            lambda: store.queue.cancel(request_id), lambda _status: self.queue.refresh(), failed
        )

    def run_elsewhere(self, waiting) -> RunElsewhereDialog:
        """Ask on which model to run a job that waits for its own; then change the job
        (off the GUI thread) and, if asked, remember the choice for that model name."""
        current = self.current_model
        dialog = RunElsewhereDialog(waiting, current.entries(), current.model_id(), self)

        def accepted() -> None:
            store, model_id = self.store, dialog.model_id()
            remember = dialog.remember.isChecked()
            if store is None or not model_id:
                return

            def change() -> None:
                from persona_studio.llm.availability import Substitutes

                store.queue.change_model(waiting.request_id, model_id)
                if remember:
                    Substitutes().remember(waiting.model_id, model_id)

            def done(_result) -> None:
                self.statusBar().showMessage(
                    f"Job #{waiting.request_id} will run on {model_label(model_id)}.", 10000
                )
                self.worker.retry_waiting(waiting.request_id)
                self.queue.refresh()

            def failed(exc: PersonaStudioError) -> None:
                self.statusBar().showMessage(str(exc), 15000)

            self.writes.off_thread(change, done, failed)

        dialog.accepted.connect(accepted)
        self._show_dialog(dialog)
        return dialog

    def stop_running_job(self) -> None:
        if self.worker.current_request is not None:
            self.stop_job(self.worker.current_request)
        else:
            self.statusBar().showMessage("No generation is running here.", 5000)

    def focus_search(self) -> None:
        self.tabs.setCurrentIndex(PERSONAS_TAB)
        self.personas.focus_search()

    def save_persona(self) -> None:
        if self.editor.persona is None:
            self.statusBar().showMessage("Open a persona first (Personas tab).", 5000)
            return
        self.tabs.setCurrentIndex(PERSONAS_TAB)
        self.editor.save()

    def show_persona(self, persona_id: int) -> None:
        """Open ``persona_id`` in the editor (asking first about unsaved edits)."""
        self.tabs.setCurrentIndex(PERSONAS_TAB)
        if self.editor.persona_id == persona_id:
            self.editor.reload()
            self._select_in_list(persona_id)
            return

        def load() -> None:
            if self.editor.load(persona_id):
                self._select_in_list(persona_id)

        self.editor.confirm_leave(load)

    def _select_in_list(self, persona_id: int) -> None:
        if not self.personas.select_persona(persona_id):  # filtered out: show everything
            self.personas.search.clear()
            self.personas.model.set_filter("", self.personas.source.currentData())
            self.personas.select_persona(persona_id)

    def _persona_selected(self, persona_id: int) -> None:
        if self.editor.persona_id == persona_id:
            return
        shown = self.editor.persona_id

        def stay() -> None:
            if shown is not None:
                self.personas.select_persona(shown)

        self.editor.confirm_leave(lambda: self.editor.load(persona_id), stay)

    def _persona_changed(self, _persona_id: int) -> None:
        if self._finishing is not None:
            return  # closing: a rating saved on the way out needs no list refresh
        self.personas.refresh()
        self.form.refresh()

    def open_history(self, persona_id: int) -> HistoryDialog | None:
        if self.store is None:
            return None
        dialog = HistoryDialog(
            self.store, persona_id, self, self.editor.confirm_leave, writes=self.writes
        )
        dialog.restored.connect(self._restored)
        self._show_dialog(dialog)
        return dialog

    def _restored(self, persona_id: int) -> None:
        if self.editor.persona_id == persona_id:
            self.editor.load(persona_id)
        self.personas.refresh()

    def open_regenerate(self, persona_id: int) -> RegenerateDialog | None:
        if self.store is None:
            return None
        try:
            dialog = RegenerateDialog(self.store, persona_id, self.prefs, self, self.writes)
        except PersonaStudioError as exc:
            self.show_error("Cannot regenerate", str(exc))
            return None
        dialog.accepted.connect(lambda: self._queued([dialog.request_id]))
        self._show_dialog(dialog)
        return dialog

    def open_template_editor(self) -> TemplateEditorDialog:
        dialog = TemplateEditorDialog(self)
        self._show_dialog(dialog)
        return dialog

    def open_rating_report(self) -> RatingsReportDialog | None:
        if self.store is None:
            self.statusBar().showMessage("Open a database first.", 5000)
            return None
        dialog = RatingsReportDialog(self.store, self)
        self._show_dialog(dialog)
        return dialog

    def open_compare(self) -> CompareDialog | None:
        """The split Try it view: the persona in the editor (its current version) on the
        left, its previous version (else the next persona) on the right; questions go to
        the worker thread like Try it's."""
        if self.store is None:
            self.statusBar().showMessage("Open a database first.", 5000)
            return None
        dialog = CompareDialog(self.store, self.editor.try_panel.model_id, self)
        shown = self.editor.persona
        if shown is not None:
            dialog.choose(0, shown.persona_id)
            if shown.version > 1:
                dialog.choose(1, shown.persona_id, shown.version - 1)
        dialog.askWanted.connect(lambda request: self._compare_ask(dialog, request))
        dialog.stopWanted.connect(self.worker.stop_chat)
        dialog.rated.connect(self._compare_rated)
        self.worker.chatText.connect(dialog.reply_text)
        self.worker.chatFinished.connect(dialog.reply_finished)

        def closed(_result: int) -> None:
            self.worker.chatText.disconnect(dialog.reply_text)
            self.worker.chatFinished.disconnect(dialog.reply_finished)

        dialog.finished.connect(closed)
        self._show_dialog(dialog)
        return dialog

    def _compare_ask(self, dialog: CompareDialog, request) -> None:
        self.worker.ask(request)
        if self.worker.current_request is not None:
            dialog.waiting_for(self._running_job_name)

    def _compare_rated(self, persona_id: int) -> None:
        if self.editor.persona_id == persona_id and not self.editor.is_dirty():
            self.editor.load(persona_id)  # the editor shows the new rating and note
        self._persona_changed(persona_id)

    def open_model_manager(self) -> ModelManagerDialog:
        if self.model_manager is None:
            self.model_manager = ModelManagerDialog(self, endpoint=self.hub_endpoint)
            self.model_manager.downloaded.connect(self._model_downloaded)
        if self.model_manager.isVisible():
            self.model_manager.raise_()  # already open, perhaps behind: bring it forward
        else:
            self.model_manager.open()
        return self.model_manager

    def _model_downloaded(self, model_id: str) -> None:
        """A model arrived in the models folder: every model list shows it, and the form
        (which the Try it panel follows) selects it."""
        self.form.refresh_models(select=model_id)
        for dialog in self._dialogs:
            if isinstance(dialog, RegenerateDialog):
                dialog.model_picker.refresh()
        self.statusBar().showMessage(
            f"{model_label(model_id)} is downloaded and selected in the Generate form.", 15000
        )

    def open_preferences(self) -> PreferencesDialog:
        dialog = PreferencesDialog(self.prefs, self)
        dialog.accepted.connect(self._preferences_changed)
        self._show_dialog(dialog)
        return dialog

    def _preferences_changed(self) -> None:
        apply_theme(self.prefs.theme)
        self.worker.apply_settings(self.prefs.model_settings)
        self.form.refresh_models()
        self.editor.set_context_hint(self._context_hint())

    def _context_hint(self) -> int:
        return self.prefs.model_settings.context_size or DEFAULT_CONTEXT

    def _show_dialog(self, dialog: QWidget) -> None:
        """Window-modal but not blocking: the event loop (and the generation) goes on."""
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _r: self._dialogs.remove(dialog))
        dialog.open()

    def show_error(self, title: str, text: str) -> QMessageBox:
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self
        )
        self._show_dialog(box)
        return box

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Persona Studio",
            "Persona Studio writes structured personas for small local models and keeps them "
            "in FORLLM's database, so the forum sees them at once.",
        )

    # -- closing --------------------------------------------------------------------------

    def _write_groups(self) -> list[TaskGroup]:
        return [self.writes, self.form.writes, self.queue.writes, self.editor.writes]

    def _task_groups(self) -> list[TaskGroup]:
        return [
            self._tasks,
            self.watcher.tasks,
            self.form.model_picker.tasks,
            self.personas.tasks,
            *self._write_groups(),
        ]

    def pending_tasks(self) -> int:
        return sum(len(group) for group in self._task_groups())

    def shutdown(self) -> None:
        """Stop watching and listing, stop the worker thread; then, once the writes in
        flight have ended, close the store and emit ``closed``."""
        self.watcher.stop()
        self.form.model_picker.tasks.cancel_all()
        self._tasks.cancel_all()
        if self.model_manager is not None:
            # Cancelled at the next megabyte; the library deletes its partial file.
            self.model_manager.cancel_download()
            self.model_manager.wait(10)
        self.worker.stop()
        self._finishing = asyncio.get_running_loop().create_task(self._finish())

    async def _finish(self) -> None:
        for group in self._task_groups():
            await group.wait()
        if self.store is not None:
            self.store.close()
            self.store = None
        self.closed.emit()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self._finishing is not None:
            event.accept()
            return
        if self.editor.is_dirty():
            event.ignore()
            self.editor.confirm_leave(lambda: QTimer.singleShot(0, self.close))
            return
        self.editor.save_pending_rating()  # awaited with the other writes before closing
        self.prefs.save_window_state(self.saveGeometry(), self.saveState())
        self.prefs.sync()
        self.shutdown()
        event.accept()
