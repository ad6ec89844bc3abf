"""`lstmkit inspect` on an image captioner: the attention maps, the gate β and the decoder's gates
checked against the decoder run step by step by hand (the formulas in this file), each map a
distribution over the regions, the report's image and heat maps inline, a Show and Tell model
without attention, and the CLI's --image with its mistakes."""

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lstmkit.caption import Captioner
from lstmkit.cli.main import main
from lstmkit.data.caption_builtin import builtin_caption
from lstmkit.errors import UserError
from lstmkit.inspect import report_caption
from lstmkit.inspect.caption import caption_trace, caption_trace_for
from lstmkit.inspect.report import write_report
from lstmkit.inspect.report_caption import heat, overlay
from lstmkit.lm import LanguageModel
from lstmkit.models import LMConfig, LSTMLanguageModel
from lstmkit.tokenizers import train_tokenizer

# A 64x32 image (height x width) and four blocks: a 4x2 grid, so rows and columns differ.
TINY = {"channels": [4, 8, 8, 8], "hidden_size": 16, "embedding_size": 8, "dropout": 0.0}
SIZE = (64, 32)
STEPS = 6  # max_len of the traces below: a few words keep the by-hand loop short
PNG = b"\x89PNG\r\n\x1a\n"
ATOL = 1e-5


@pytest.fixture(autouse=True)
def one_thread():
    # As the captioner's other tests: one thread is the faster on a busy 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return builtin_caption("scenes", size=(48, 8, 8), cache=tmp_path_factory.mktemp("cache"))


def fit(scenes, folder: Path, **model) -> Captioner:
    captioner = Captioner(
        batch_size=8,
        image_size=SIZE,
        model={**TINY, **model},
        optim={"lr": 1e-2, "warmup_steps": 0},
        train={"epochs": 1},
    )
    return captioner.fit(scenes, out=folder, progress=False)


@pytest.fixture(scope="module")
def fitted(scenes, tmp_path_factory):
    run = tmp_path_factory.mktemp("inspect-caption") / "run"
    return fit(scenes, run), run


@pytest.fixture(scope="module")
def plain(scenes, tmp_path_factory):
    """Show and Tell: no attention, no gate."""
    run = tmp_path_factory.mktemp("inspect-caption") / "plain"
    return fit(scenes, run, attention="none", gate=False), run


@pytest.fixture(scope="module")
def image(scenes) -> str:
    return str(scenes.folder / "test" / "000001.png")


@pytest.fixture(scope="module")
def trace(fitted, image):
    return caption_trace(fitted[0], image, max_len=STEPS)


# ---------------------------------------------------------------------------- the trace
def pixels_by_hand(path) -> np.ndarray:
    """The image as the model reads it: RGB, resized bilinearly to 32 wide and 64 high."""
    with Image.open(path) as opened:
        resized = opened.convert("RGB").resize(SIZE[::-1], Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def decode_by_hand(model, pixels: np.ndarray, words: list[int]) -> dict:
    """Runs the captioner's decoder one step at a time from its formulas (Show, Attend and
    Tell's soft attention and gate, the LSTM cell, the bridge from the mean region), feeding it
    ``words``, and keeps each step's attention (rows, cols), β, gates and state, and the word
    the step's logits rank first (pad and bos banned, as every decoder does)."""
    x = torch.from_numpy((pixels / 255.0 - 0.5) / 0.5).float().permute(2, 0, 1)[None]
    d, a = model.decoder, model.attention
    with torch.no_grad():
        grid = model.encoder(x)[0].permute(1, 2, 0)  # (rows, cols, C): region (r, c)
        pooled = grid.mean((0, 1))  # (C,)
        h = torch.tanh(model.bridge.h_layers[0](pooled))  # (H,)
        c = model.bridge.c_layers[0](pooled)
        keys = grid @ a.key_layer.weight.T  # (rows, cols, A)
        found = {k: [] for k in ("attention", "gate", "i", "f", "g", "o", "c", "h", "best")}
        for prev in [model.bos_id, *words]:
            scores = torch.tanh(a.query_layer.weight @ h + keys) @ a.v.weight[0]  # (rows, cols)
            alpha = scores.flatten().softmax(0).view_as(scores)
            beta = torch.sigmoid(d.gate.weight[0] @ h + d.gate.bias[0])
            context = beta * (alpha[..., None] * grid).sum((0, 1))  # (C,)
            step_in = torch.cat([d.embed.weight[prev], context])
            pre = d.lstm.weight_ih_l0 @ step_in + d.lstm.bias_ih_l0
            pre = pre + d.lstm.weight_hh_l0 @ h + d.lstm.bias_hh_l0
            i, f, g, o = pre.chunk(4)  # torch.nn.LSTM's order
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            out = torch.tanh(d.combine(torch.cat([h, context])))
            logits = d.output(out)
            logits[[model.pad_id, model.bos_id]] = -torch.inf
            for key, value in zip(found, (alpha, beta, i, f, g, o, c, h), strict=False):
                found[key].append(value.numpy().copy())
            found["best"].append(int(logits.argmax()))
    return {k: np.array(v) for k, v in found.items()}


def test_attention_gate_and_gates_are_the_decoders_run_by_hand(fitted, image, trace):
    captioner, _ = fitted
    model, tok = captioner.model_, captioner.tokenizer_
    cap = trace["caption"]
    np.testing.assert_array_equal(cap["pixels"], pixels_by_hand(image))
    words = [tok.token_to_id(w) for w in cap["words"]]
    assert words[-1] == model.eos_id
    hand = decode_by_hand(model, cap["pixels"], words[:-1])
    # Each step's word is the one its logits rank first; the last is eos, chosen or (at
    # max_len) the only word allowed.
    assert hand["best"][:-1].tolist() == words[:-1]
    assert cap["grid"] == [4, 2]
    assert cap["attention"].shape == (len(words), 4, 2)
    np.testing.assert_allclose(cap["attention"], hand["attention"], atol=ATOL)
    np.testing.assert_allclose(cap["gate"], hand["gate"], atol=ATOL)
    (p,) = trace["panels"]
    assert (p["name"], p["layers"], p["directions"], p["tokens"]) == ("decoder", 1, 1, cap["words"])
    for q in "ifgoch":
        assert p["quantities"][q].shape == (1, len(words), 16)
        np.testing.assert_allclose(p["quantities"][q][0], hand[q], atol=ATOL)
    assert not model.training


def test_each_map_is_a_distribution_over_the_regions(fitted, image, trace):
    captioner, _ = fitted
    cap = trace["caption"]
    np.testing.assert_allclose(cap["attention"].sum((1, 2)), 1, atol=ATOL)
    assert (cap["attention"] >= 0).all()
    assert cap["caption"] == captioner.describe(image, max_len=STEPS)[0]
    assert cap["image_size"] == [64, 32]
    # The report's word x region matrix is the same weights, the regions row by row.
    att = trace["attention"]
    assert att["src"] == ["r0c0", "r0c1", "r1c0", "r1c1", "r2c0", "r2c1", "r3c0", "r3c1"]
    assert att["tgt"] == cap["words"]
    np.testing.assert_array_equal(att["weights"].reshape(-1, 4, 2), cap["attention"])
    findings = trace["findings"]
    assert findings[0].startswith(f"Greedy caption: {cap['caption']!r}")
    assert findings[1].startswith("The gate β (how much of the attended image enters a step)")
    assert any(f.startswith("Attention, each output token and the region") for f in findings)
    assert findings[-1].startswith("decoder layer 0: mean forget gate")


def test_a_map_lies_over_its_own_region():
    """One-hot attention on region (row 1, column 0) of a 4x2 grid over a 64x32 image: the heat
    peaks in that region's 16x16 block, the block of rows 16-31 and columns 0-15."""
    weights = np.zeros((4, 2))
    weights[1, 0] = 1.0
    h = heat(weights, (64, 32), top=1.0)
    rows, cols = np.nonzero(h == h.max())
    assert set(rows.tolist()) <= set(range(16, 32))
    assert set(cols.tolist()) <= set(range(16))
    assert h[:8].max() == 0  # two regions away, nothing
    assert h[40:].max() == 0
    white = np.full((64, 32, 3), 255, np.uint8)
    green = overlay(white, weights, top=1.0)[..., 1].astype(float)  # viridis: green rises with it
    assert green[20:28, 4:12].mean() > green[50:60, 20:30].mean() + 80


def test_show_and_tell_has_the_gates_and_no_maps(plain, image, tmp_path):
    captioner, _ = plain
    t = caption_trace(captioner, image, max_len=STEPS)
    cap = t["caption"]
    assert cap["attention"] is None
    assert cap["gate"] is None
    assert t["attention"] is None
    assert cap["caption"] == captioner.describe(image, max_len=STEPS)[0]
    assert t["panels"][0]["tokens"] == cap["words"]
    assert t["findings"][1].startswith("Show and Tell (no attention)")
    paths = write_report(t, tmp_path / "plain.html")
    assert [p.name for p in paths] == ["plain.html", "plain-gates.png", "plain-caption.png"]
    html = paths[0].read_text(encoding="utf-8")
    assert 'id="no-attention"' in html
    assert "no heat maps" in html
    assert html.count("<img ") == 1  # the image alone
    assert 'id="attention"' not in html


def test_bad_images_are_named(fitted, tmp_path):
    captioner, _ = fitted
    with pytest.raises(UserError, match=r"nope\.png: no such image file"):
        caption_trace(captioner, tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(UserError, match=r"bad\.png: expected a PNG or JPEG image, got a file"):
        caption_trace(captioner, bad)
    with pytest.raises(UserError, match=r"^label: only a language model"):
        caption_trace_for(captioner, bad, {"label": "x", "directory": "run"})


# ---------------------------------------------------------------------------- the report
def page_json(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def inline_images(html: str) -> list[np.ndarray]:
    found = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(b)))) for b in found]


def test_report_holds_the_image_and_a_heat_map_per_word_inline(trace, tmp_path):
    paths = write_report(trace, tmp_path / "cap.html")
    names = ["cap.html", "cap-gates.png", "cap-attention.png", "cap-caption.png"]
    assert [p.name for p in paths] == names
    for png in paths[1:]:
        assert png.read_bytes().startswith(PNG)
    html = paths[0].read_text(encoding="utf-8")
    for external in ("http://", "https://", "//cdn", "url("):
        assert external not in html
    assert html.count("<script") == 2
    assert html.count("<img ") == len(re.findall(r"<img [^>]*src=\"data:image/png;base64,", html))
    cap = trace["caption"]
    image, *maps = inline_images(html)
    np.testing.assert_array_equal(image, cap["pixels"])  # small: embedded as it is
    assert len(maps) == len(cap["words"])
    top = cap["attention"].max()
    for k, shown in enumerate(maps):
        np.testing.assert_array_equal(shown, overlay(cap["pixels"], cap["attention"][k], top))
    page = page_json(html)["caption"]
    assert page["words"] == cap["words"]
    assert page["grid"] == [4, 2]
    np.testing.assert_allclose(page["gate"], cap["gate"], atol=1e-4)
    np.testing.assert_allclose(page["peaks"], cap["attention"].max((1, 2)), atol=1e-4)
    assert f'<q id="caption">{cap["caption"]}</q>' in html


def test_page_caps_the_maps_and_says_so(trace, tmp_path, monkeypatch):
    monkeypatch.setattr(report_caption, "MAX_WORDS", 2)
    steps = len(trace["caption"]["words"])
    html = write_report(trace, tmp_path / "capped.html")[0].read_text(encoding="utf-8")
    assert html.count("<img ") == 1 + 2
    assert f"the attention maps of the first 2 of {steps} steps" in html


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.pop("pixels"), r"trace\['caption'\]: missing key 'pixels'"),
        (
            lambda c: c.update(attention=c["attention"][:, :, :1]),
            r"\['attention'\]: expected shape \(len\(words\), rows, cols\)",
        ),
        (lambda c: c.update(grid=[4]), r"\['grid'\]: expected \[rows, cols\], two integers"),
        (lambda c: c.update(gate=c["gate"][:-1]), r"\['gate'\]: expected shape \(len\(words\),\)"),
        (
            lambda c: c.update(pixels=c["pixels"][..., 0]),
            r"\['pixels'\]: expected shape \(H, W, 3\)",
        ),
    ],
)
def test_malformed_caption_is_refused_with_the_place(trace, tmp_path, edit, message):
    bad = {**trace, "caption": dict(trace["caption"])}
    edit(bad["caption"])
    with pytest.raises(UserError, match=message):
        write_report(bad, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------------------- the CLI
def inspect(*args, capsys) -> tuple[int, str, str]:
    code = main(["inspect", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_the_report_and_the_numbers(fitted, image, tmp_path, capsys):
    captioner, run = fitted
    out = tmp_path / "report.html"
    code, text, err = inspect(run, "--image", image, "--out", out, "--json", capsys=capsys)
    assert code == 0, err
    result = json.loads(text)
    assert result["kind"] == "caption"
    assert [Path(f).name for f in result["files"]] == [
        "report.html",
        "report-gates.png",
        "report-attention.png",
        "report-caption.png",
    ]
    assert all(Path(f).exists() for f in result["files"])
    assert result["caption"] == captioner.describe(image)[0]
    assert result["grid"] == [4, 2]
    steps = result["steps"]
    assert [s["word"] for s in steps][-1] == "<eos>"
    assert " ".join(s["word"] for s in steps[:-1]) == result["caption"]
    expected = caption_trace(captioner, image)["caption"]
    for k, step in enumerate(steps):
        assert np.asarray(step["attention"]).shape == (4, 2)
        np.testing.assert_allclose(step["attention"], expected["attention"][k], atol=1e-6)
        assert step["gate"] == pytest.approx(float(expected["gate"][k]), abs=1e-6)
    code, text, err = inspect(run, "--image", image, "--out", out, "--overwrite", capsys=capsys)
    assert code == 0, err
    assert "wrote " + str(out) in text


def test_cli_on_show_and_tell_gives_no_maps(plain, image, tmp_path, capsys):
    _, run = plain
    code, text, err = inspect(run, "--image", image, "--out", tmp_path / "r.html", "--json",
                              capsys=capsys)  # fmt: skip
    assert code == 0, err
    result = json.loads(text)
    assert all(s["attention"] is None and s["gate"] is None for s in result["steps"])


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    lm = LanguageModel("word", batch_size=2, bptt=8)
    lm.tokenizer_ = train_tokenizer("word", "the cat sat\n")
    config = LMConfig(lm.tokenizer_.vocab_size, embedding_size=4, hidden_size=4, num_layers=1)
    lm.model_ = LSTMLanguageModel(config).eval()
    folder = tmp_path_factory.mktemp("inspect-lm") / "lm"
    lm.save(folder)
    return folder


def test_cli_names_the_mistakes_in_one_line(fitted, image, lm_run, tmp_path, capsys):
    _, run = fitted
    out = tmp_path / "r.html"
    bad, missing = tmp_path / "bad.png", tmp_path / "nope.png"
    bad.write_bytes(b"not a png")
    unreadable = f"--image {bad}: expected a PNG or JPEG image, got a file Pillow does not"
    mistakes = [
        ([run, "--image", bad], unreadable),
        ([tmp_path / "no-run", "--image", bad], unreadable),  # named before any model is read
        ([run, "--image", missing], f"--image {missing}: no such image file"),
        ([run, "--image", tmp_path], f"--image {tmp_path}: expected an image file, got a folder"),
        ([run, "--text", "a"], f"--text: {run} holds an image captioner; give its image with "),
        ([lm_run, "--image", image], f"--image: {lm_run} holds a language model; give text with"),
        ([run, "--image", image, "--label", "a"], "--label: only a language model"),
        ([run, "--image", image, "--text", "a"], "expected one of them, got --text and --image"),
    ]
    for args, message in mistakes:
        code, _, err = inspect(*args, "--out", out, capsys=capsys)
        assert code == 2, args
        assert message in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert not out.exists()
