"""ONNX export of an image captioner: onnxruntime gives PyTorch's regions, states, attention and
log-probabilities on batches of other sizes than the traced one (max abs diff <= 1e-4), a greedy
caption run entirely in onnxruntime equals ``Captioner.describe``'s, the manifest alone prepares
an image, the export checks itself, and mistakes are named."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from lstmkit.caption import Captioner
from lstmkit.cli.main import main
from lstmkit.data.caption_builtin import builtin_caption
from lstmkit.data.images import normalise_image, read_image
from lstmkit.decode.greedy import next_log_probs
from lstmkit.errors import UserError
from lstmkit.export import caption_onnx
from lstmkit.export.caption_onnx import (
    CaptionEncoderGraph,
    CaptionStepGraph,
    OnnxCaptioner,
    check_graphs,
    write_caption,
)
from lstmkit.export.onnx import export_graph, export_onnx
from lstmkit.models.caption import CaptionConfig, build_captioner
from lstmkit.tokenizers import load_tokenizer

TOL = 1e-4
TINY = {"channels": [4, 8, 8, 8], "hidden_size": 16, "embedding_size": 8, "dropout": 0.0}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return builtin_caption("scenes", size=(48, 8, 8), cache=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def fitted(scenes, tmp_path_factory):
    """A tiny captioner trained for seconds on the scenes, its run folder and its export."""
    root = tmp_path_factory.mktemp("caption-onnx")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy 2-core machine: one thread trains fastest
    try:
        captioner = Captioner(
            batch_size=8,
            model=TINY,
            optim={"lr": 1e-2, "warmup_steps": 0},
            train={"epochs": 3},
        ).fit(scenes, out=root / "run", progress=False)
        manifest = export_onnx(root / "run", root / "onnx")
    finally:
        torch.set_num_threads(threads)
    return captioner, root, manifest


@pytest.fixture(scope="module")
def test_images(scenes):
    return [str(scenes.folder / f"test/{i:06d}.png") for i in range(8)]


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def outputs(runner, feeds):
    names = [o.name for o in runner.get_outputs()]
    wanted = {i.name for i in runner.get_inputs()}
    found = runner.run(names, {k: v for k, v in feeds.items() if k in wanted})
    return dict(zip(names, found, strict=True))


def assert_close(got, want):
    want = want.detach().numpy()
    assert got.shape == want.shape
    finite = np.isfinite(want)
    assert (np.isfinite(got) == finite).all()
    assert np.abs(got[finite] - want[finite]).max() <= TOL


def assert_steps_match(model, encoder_path, step_path, images, steps=4):
    """``steps`` greedy steps of the exported graphs against the network's own ``encode`` and
    ``decode_step``, the log-probabilities as ``lstmkit.decode`` computes them."""
    with torch.no_grad():
        memory, state = model.encode(torch.from_numpy(images))
    enc = outputs(session(encoder_path), {"images": images})
    assert_close(enc["memory_states"], memory.states)
    assert_close(enc["h"], state.h)
    assert_close(enc["c"], state.c)
    if model.attention is not None:
        assert_close(enc["memory_keys"], memory.keys)
    step = session(step_path)
    tokens = torch.full((len(images),), model.bos_id)
    feeds = {k: v for k, v in enc.items() if k.startswith("memory_")}
    feeds |= {"h": enc["h"], "c": enc["c"]}
    for _ in range(steps):
        with torch.no_grad():
            logits, state = model.decode_step(tokens, state, memory)
        want = next_log_probs(model, logits, torch.zeros(len(images), dtype=torch.bool))
        got = outputs(step, {**feeds, "tokens": tokens.numpy()})
        assert_close(got["log_probs"], want)
        assert_close(got["h_out"], state.h)
        assert_close(got["c_out"], state.c)
        if model.attention is not None:
            assert_close(got["attention"], state.weights)
        assert np.isneginf(got["log_probs"][:, [model.pad_id, model.bos_id]]).all()
        feeds |= {"h": got["h_out"], "c": got["c_out"]}
        tokens = want.argmax(-1)


# ---------------------------------------------------------------------------- the trained model
def test_greedy_captions_in_onnxruntime_equal_describe(fitted, test_images):
    captioner, root, _ = fitted
    runner = OnnxCaptioner(root / "onnx", threads=1)
    want = captioner.describe(test_images)
    assert runner.describe(test_images) == want
    assert len(set(want)) >= 2  # the model tells images apart: equal lists mean something
    pixels = [read_image(p, (48, 40)) for p in test_images[:3]]  # resized as describe resizes
    assert runner.describe(pixels) == captioner.describe(pixels)
    assert runner.describe(test_images[0]) == want[:1]
    assert runner.describe([]) == []


def test_graphs_match_pytorch_on_a_batch_of_another_size(fitted, test_images):
    captioner, root, _ = fitted
    images = OnnxCaptioner(root / "onnx").images(test_images[:5])  # traced with 2
    model = captioner.model_.eval()
    assert_steps_match(
        model, root / "onnx" / "encoder.onnx", root / "onnx" / "decoder_step.onnx", images
    )


@pytest.mark.parametrize(
    ("settings", "opset"),
    [
        ({"attention": "none", "gate": False, "num_layers": 2}, 14),
        ({"attention": "bahdanau", "gate": False, "channels": (4, 6)}, 17),
        ({"attention": "bahdanau", "gate": True, "num_layers": 2, "channels": (5,)}, 20),
    ],
)
def test_graphs_match_the_network_for_other_architectures_and_opsets(tmp_path, settings, opset):
    config = CaptionConfig(vocab_size=11, embedding_size=5, hidden_size=6, **settings)
    model = build_captioner(config).eval()
    for norm in model.encoder.modules():  # running statistics that are not the identity's
        if isinstance(norm, torch.nn.BatchNorm2d):
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
    encoder, step = CaptionEncoderGraph(model, (16, 24)), CaptionStepGraph(model)
    encoder_path, step_path = tmp_path / "encoder.onnx", tmp_path / "decoder_step.onnx"
    export_graph(encoder, encoder.example(), encoder_path, opset)
    export_graph(step, step.example(encoder), step_path, opset)
    assert onnx.load(str(step_path)).opset_import[0].version == opset
    assert_steps_match(model, encoder_path, step_path, torch.randn(3, 3, 16, 24).numpy())
    assert check_graphs(tmp_path, encoder, step)["max_abs_diff"] <= TOL


def test_manifest_holds_the_graphs_tokenizer_image_settings_and_check(fitted):
    captioner, root, manifest = fitted
    assert json.loads((root / "onnx" / "manifest.json").read_text()) == manifest
    assert (manifest["format"], manifest["kind"], manifest["opset"]) == (
        "lstmkit-onnx",
        "caption",
        17,
    )
    encoder, step = manifest["graphs"]["encoder"], manifest["graphs"]["decoder_step"]
    assert (encoder["file"], step["file"]) == ("encoder.onnx", "decoder_step.onnx")
    assert encoder["inputs"] == [{"name": "images", "shape": ["B", 3, 64, 64], "dtype": "float32"}]
    assert [v["name"] for v in encoder["outputs"]] == ["memory_states", "memory_keys", "h", "c"]
    assert [v["name"] for v in step["inputs"]] == [
        "tokens", "h", "c", "memory_states", "memory_keys",
    ]  # fmt: skip
    V = captioner.tokenizer_.vocab_size
    assert step["outputs"][0] == {"name": "log_probs", "shape": ["B", V], "dtype": "float32"}
    assert step["outputs"][-1]["name"] == "attention"
    tok = captioner.tokenizer_
    assert manifest["special_ids"] == {
        "pad": tok.pad_id, "unk": tok.unk_id, "bos": tok.bos_id, "eos": tok.eos_id,
    }  # fmt: skip
    image = manifest["image"]
    assert (image["size"], image["regions"], image["layout"]) == ([64, 64], 16, "NCHW")
    assert (image["mean"], image["std"], image["formats"]) == (
        [0.5] * 3,
        [0.5] * 3,
        ["PNG", "JPEG"],
    )
    assert manifest["decoding"] == {"method": "greedy", "max_len": 30, "lowercase": True}
    assert manifest["config"] == captioner.model_config_
    assert 0 <= manifest["check"]["max_abs_diff"] <= manifest["check"]["tolerance"] == TOL
    copy = load_tokenizer(root / "onnx" / "tokenizer")
    assert [copy.id_to_token(i) for i in range(copy.vocab_size)] == [
        tok.id_to_token(i) for i in range(tok.vocab_size)
    ]


def test_the_manifest_alone_prepares_an_image(fitted, test_images, tmp_path):
    """An image decoded, resized and normalised from the manifest's settings with Pillow and
    numpy, as a user without lstmkit would, is what the captioner feeds its network."""
    _, root, manifest = fitted
    s = manifest["image"]
    Image.open(test_images[2]).convert("RGB").resize((90, 70)).save(tmp_path / "big.jpg")
    for path in (test_images[2], tmp_path / "big.jpg"):
        image = Image.open(path).convert(s["mode"])
        image = image.resize(tuple(s["size"][::-1]), Image.Resampling.BILINEAR)
        x = (np.asarray(image, np.float32) / s["scale"] - s["mean"]) / s["std"]
        ours = x.transpose(2, 0, 1)[None]  # NCHW
        want = normalise_image(read_image(path, s["size"]))[None]
        assert np.abs(ours - want).max() <= 1e-6
        assert np.array_equal(OnnxCaptioner(root / "onnx").images([path]), want)


def test_lstmkit_export_writes_the_caption_folder_with_the_opset_asked(fitted, tmp_path, capsys):
    _, root, _ = fitted
    argv = ["export", str(root / "run"), "--out", str(tmp_path / "out"), "--opset", "14"]
    assert main([*argv, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["kind"], printed["opset"]) == ("caption", 14)
    assert printed["graphs"] == {"encoder": "encoder.onnx", "decoder_step": "decoder_step.onnx"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "decoder_step.onnx", "encoder.onnx", "manifest.json", "tokenizer",
    ]  # fmt: skip
    for name in ("encoder.onnx", "decoder_step.onnx"):
        assert onnx.load(str(tmp_path / "out" / name)).opset_import[0].version == 14
    assert main(argv) == 2  # the folder exists: refused as for every task
    assert "already exists and is not empty" in capsys.readouterr().err
    assert main([*argv, "--overwrite", "--opset", "21"]) == 2
    assert "opset: expected an integer from 14 to 20, got 21" in capsys.readouterr().err


# ---------------------------------------------------------------------------- refusals
def test_the_check_refuses_graphs_that_differ_from_pytorch(fitted, tmp_path):
    captioner, root, _ = fitted
    encoder = CaptionEncoderGraph(captioner.model_, captioner.image_size_)
    step = CaptionStepGraph(captioner.model_)
    with torch.no_grad():
        step.model.decoder.output.weight.mul_(1.5)  # PyTorch's copy no longer the exported one
    with pytest.raises(RuntimeError, match=r"^decoder_step.onnx: log_probs: onnxruntime differs"):
        check_graphs(root / "onnx", encoder, step)


def test_an_export_that_fails_its_check_leaves_no_folder(fitted, tmp_path, monkeypatch):
    def failing(*args):
        raise RuntimeError("encoder.onnx: memory_states: onnxruntime differs from PyTorch")

    monkeypatch.setattr(caption_onnx, "check_graphs", failing)
    with pytest.raises(RuntimeError, match="onnxruntime differs"):
        export_onnx(fitted[1] / "run", tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_an_unfitted_captioner_is_named(tmp_path):
    with pytest.raises(UserError, match=r"^captioner: expected a fitted Captioner .* an unfitted "):
        write_caption(Captioner(), tmp_path, 17)
    assert not any(tmp_path.iterdir())


def test_bad_images_and_foreign_folders_are_named(fitted, test_images, tmp_path):
    runner = OnnxCaptioner(fitted[1] / "onnx", threads=1)
    with pytest.raises(
        UserError, match=r"^images: expected \(B, 3, 64, 64\), got shape \(2, 3, 32, 32\)"
    ):
        runner.encode(np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(UserError, match=r"^images\[1\]: expected uint8 RGB pixels \(H, W, 3\)"):
        runner.describe([test_images[0], np.zeros((8, 8), np.uint8)])
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(UserError, match=r"bad\.png: expected a PNG or JPEG image"):
        runner.describe([tmp_path / "bad.png"])
    with pytest.raises(UserError, match=r"^folder: expected an lstmkit ONNX export with manifest"):
        OnnxCaptioner(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "lstmkit-onnx", "kind": "speech"}')
    with pytest.raises(UserError, match=r"expected a lstmkit-onnx export of a caption model, got"):
        OnnxCaptioner(tmp_path)


def test_the_graph_modules_stay_in_eval_mode(fitted):
    model = fitted[0].model_
    for graph in (CaptionEncoderGraph(model, (64, 64)), CaptionStepGraph(model)):
        assert not graph.train().training
        assert not graph.model.training
