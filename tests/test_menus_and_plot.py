"""The plugin's place in napari's menus, and the loss plot's drawing."""

import math

import numpy as np


def test_the_layers_filter_menu_opens_the_widget(qtbot, make_napari_viewer):
    from qtpy.QtWidgets import QMenu

    viewer = make_napari_viewer()
    bar = viewer.window._qt_window.menuBar()  # the test reads napari's own menu bar
    found = []
    for top in bar.actions():
        if top.text().replace("&", "") != "Layers" or top.menu() is None:
            continue
        for sub in top.menu().actions():
            if sub.text().replace("&", "") == "Filter" and isinstance(sub.menu(), QMenu):
                found += [a for a in sub.menu().actions() if a.text().startswith("Style")]
    assert [a.text() for a in found] == ["Style Transfer (napari-nst)"]
    found[0].trigger()
    assert any("Style Transfer" in name for name in viewer.window.dock_widgets)


def test_the_loss_plot_keeps_positive_finite_values_on_a_log_scale(qtbot):
    from napari_nst._qt.loss_plot import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(300, 120)
    empty = plot.grab().toImage()
    plot.add(1, {"total": 100.0, "content": 10.0, "style": 0.0})  # 0: no point on a log scale
    plot.add(2, {"total": 10.0, "content": math.inf, "style": 1.0})
    assert plot.points["total"] == [(1, 2.0), (2, 1.0)]
    assert plot.points["content"] == [(1, 1.0)] and plot.points["style"] == [(2, 0.0)]
    drawn = plot.grab().toImage()
    assert drawn != empty  # the lines and their legend are drawn
    plot.clear()
    assert all(not series for series in plot.points.values())
    assert np.array_equal(_pixels(plot.grab().toImage()), _pixels(empty))


def _pixels(image):
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    return np.frombuffer(ptr, np.uint8).copy()
