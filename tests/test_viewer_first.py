"""The order users hit: napari's window and GL context first, then the plugin.

With Mesa GL, importing triton after the viewer exists segfaults (triton's LLVM
against Mesa's libLLVM); torchvision's import pulls triton in, and so does torch's
own first use of torch._dynamo (an Adam optimiser, torch.compile). The engine builds
VGG19 itself (no torchvision) and blocks triton before torch is first imported when
libLLVM is mapped (napari_nst/engine/optimise/_torch.py). A fresh process is needed, since
torch may already be imported in this one.
"""

import subprocess
import sys
import textwrap


def test_viewer_first_then_widget_then_a_run_in_a_fresh_process():
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import napari
        from qtpy.QtWidgets import QApplication

        viewer = napari.Viewer(show=False)
        assert "torch" not in sys.modules
        viewer.add_image(np.random.default_rng(0).random((32, 40)), name="c")
        viewer.add_image(np.random.default_rng(1).random((32, 32)), name="s")
        _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
        widget.size.value = 32
        widget.auto_stop.value = False
        widget.steps.value = 3
        run = widget.start()
        app = QApplication.instance()
        while run.running:
            app.processEvents()
        print("llvm", any("libLLVM" in l for l in open("/proc/self/maps")))
        triton = sys.modules.get("triton", "absent")
        print("torchvision", "torchvision" in sys.modules, "triton", triton)
        from napari_nst.engine.run import last_step, stylize
        flat = np.ones((16, 16))
        last = last_step(stylize(flat, flat, size=16, steps=2, optimizer="adam"))
        print("adam", last.iteration)
        print("shape", run.output.data.shape, "steps", len(run.history), "error", run.error)
        viewer.close()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "shape (26, 32, 3) steps 3 error None" in out.stdout
    # With libLLVM mapped, triton is blocked (None), not imported; torchvision never is.
    if "llvm True" in out.stdout:
        assert "torchvision False triton None" in out.stdout
    assert "adam 2" in out.stdout  # torch._dynamo's first use, which imports triton
    # Under Xvfb with Mesa (as in CI), the clash's precondition holds: libLLVM is mapped.
    print(out.stdout)
