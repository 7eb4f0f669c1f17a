"""Best-rated settings: the store's rating report (rated personas grouped by the templates,
model, length, tone and critique that made them), best mean rating first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from persona_studio.errors import PersonaStudioError

if TYPE_CHECKING:  # for annotations only: importing the store loads SQLAlchemy
    from persona_studio.store import Store

HEADERS = ("Settings", "Rated", "Mean", "Best personas")


def best_text(best) -> str:
    return ", ".join(f"{name} ({rating}★)" for _pid, name, rating in best)


class RatingsReportDialog(QDialog):
    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Best-rated settings")
        self.tree = QTreeWidget()
        self.tree.setObjectName("ratingReport")
        self.tree.setAccessibleName("Rating groups")
        self.tree.setRootIsDecorated(False)
        self.tree.setWordWrap(True)
        self.tree.setHeaderLabels(list(HEADERS))
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        try:
            groups = store.personas.rating_report()
        except PersonaStudioError as exc:
            groups = []
            self.summary.setText(f"The report could not be read: {exc}")
        else:
            self.summary.setText(
                "Rated personas, grouped by how they were made, best mean rating first."
                if groups
                else "No persona is rated yet: rate some in the editor (Personas tab)."
            )
        for group in groups:
            item = QTreeWidgetItem(
                [group.label, str(group.count), f"{group.mean_rating:.2f}", best_text(group.best)]
            )
            item.setToolTip(0, group.label)
            self.tree.addTopLevelItem(item)
        self.tree.setColumnWidth(0, 420)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.resize(900, 420)
