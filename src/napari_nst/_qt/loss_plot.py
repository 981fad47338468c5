"""A small live plot of the losses against the step, on a log scale (QPainter only)."""

from __future__ import annotations

import math

from qtpy.QtCore import QPointF, Qt
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import QSizePolicy, QWidget

SERIES = (
    ("total", QColor(240, 240, 240)),
    ("content", QColor(80, 170, 255)),
    ("style", QColor(255, 150, 60)),
)


class LossPlot(QWidget):
    """Weighted content (α·J_c), style (β·J_s) and total J against the step."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Loss against step (log scale): total J, α·content and β·style.")
        self.points: dict[str, list[tuple[int, float]]] = {name: [] for name, _ in SERIES}

    def clear(self):
        for series in self.points.values():
            series.clear()
        self.update()

    def add(self, iteration: int, values: dict[str, float]):
        for name, _ in SERIES:
            v = values.get(name)
            if v is not None and v > 0 and math.isfinite(v):
                self.points[name].append((iteration, math.log10(v)))
        self.update()

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(38, 41, 48))
        every = [p for series in self.points.values() for p in series]
        margin = 6
        w, h = self.width() - 2 * margin, self.height() - 2 * margin - 12
        if not every or w <= 0 or h <= 0:
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "losses appear here")
            return
        x0, x1 = min(p[0] for p in every), max(p[0] for p in every)
        y0, y1 = min(p[1] for p in every), max(p[1] for p in every)
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1e-6)
        for name, colour in SERIES:
            series = self.points[name]
            poly = QPolygonF(
                [
                    QPointF(
                        margin + (x - x0) / (x1 - x0) * w, margin + (1 - (y - y0) / (y1 - y0)) * h
                    )
                    for x, y in series
                ]
            )
            painter.setPen(QPen(colour, 1.5))
            painter.drawPolyline(poly)
        painter.setPen(QColor(190, 190, 190))
        baseline = self.height() - 4
        text = f"log10 J {y0:.1f}–{y1:.1f}, steps {x0}–{x1}"
        painter.drawText(margin, baseline, text)
        x = margin + painter.fontMetrics().horizontalAdvance(text) + 10
        for name, colour in SERIES:  # a legend in the lines' own colours
            painter.setPen(colour)
            painter.drawText(x, baseline, name)
            x += painter.fontMetrics().horizontalAdvance(name) + 8
