"""A titled section of the dock that opens and closes (for the controls most runs leave)."""

from __future__ import annotations


class Fold:
    """An arrow button that shows or hides a magicgui Container below it."""

    def __init__(self, title: str, container, expanded: bool = False):
        from qtpy.QtCore import Qt
        from qtpy.QtWidgets import QToolButton

        self.container = container
        self.button = QToolButton()
        self.button.setText(title)
        self.button.setCheckable(True)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        self.button.toggled.connect(self.set_expanded)
        self.set_expanded(expanded)

    @property
    def expanded(self) -> bool:
        return self.button.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        from qtpy.QtCore import Qt

        if self.button.isChecked() != expanded:
            self.button.setChecked(expanded)  # comes back here through toggled
            return
        arrow = Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow
        self.button.setArrowType(arrow)
        self.container.native.setVisible(expanded)

    def add_to(self, layout) -> None:
        layout.addWidget(self.button)
        layout.addWidget(self.container.native)
