"""Captioner: fit, save, load and describe; exact resume; a pretrained frozen encoder; settings
refused before any work; a tiny model learns the built-in scenes."""

import math

import pytest
import torch
from safetensors.torch import save_file

from lstmkit.caption import Captioner
from lstmkit.checkpoint import load_checkpoint
from lstmkit.data.caption_builtin import builtin_caption
from lstmkit.errors import UserError
from lstmkit.models.caption import ConvEncoder

TINY = {"channels": [4, 8, 8, 8], "hidden_size": 16, "embedding_size": 8, "dropout": 0.0}


@pytest.fixture(autouse=True)
def one_thread():
    # Two threads on a busy 2-core machine made a step 15x slower than one (measured).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return builtin_caption("scenes", size=(48, 8, 8), cache=tmp_path_factory.mktemp("cache"))


def tiny(epochs=1, model=None, **settings):
    train = {"epochs": epochs, **settings.pop("train", {})}
    return Captioner(
        batch_size=8,
        model={**TINY, **(model or {})},
        optim={"lr": 1e-2, "warmup_steps": 0},
        train=train,
        **settings,
    )


def test_fit_save_load_describe_gives_the_same_captions(scenes, tmp_path):
    fitted = tiny().fit(scenes, progress=False)
    images = [str(scenes.folder / f"test/{i:06d}.png") for i in range(4)]
    before = fitted.describe(images)
    fitted.save(tmp_path / "model")
    loaded = Captioner.load(tmp_path / "model")
    assert loaded.describe(images) == before
    assert loaded.describe(images, method="beam", beam_size=3) == fitted.describe(
        images, method="beam", beam_size=3
    )
    assert loaded.image_size_ == (64, 64)
    scores = loaded.evaluate(scenes)
    assert scores["images"] == 8
    assert set(scores) >= {"bleu1", "bleu4", "cider", "rouge_l", "exact", "hypotheses"}


def test_a_resumed_run_ends_with_the_weights_of_one_that_never_stopped(scenes, tmp_path):
    whole = tiny(epochs=2, augment=True).fit(scenes, out=tmp_path / "whole", progress=False)
    assert whole.progress_.step == 12  # 6 batches an epoch
    tiny(epochs=2, augment=True, train={"max_steps": 8}).fit(
        scenes, out=tmp_path / "part", progress=False
    )
    stopped = load_checkpoint(tmp_path / "part" / "last").state_dict
    resumed = Captioner(train={"epochs": 2}).fit(
        scenes, out=tmp_path / "part", progress=False, resume=tmp_path / "part" / "last"
    )
    assert resumed.augment is True  # the run's settings were taken over
    a = load_checkpoint(tmp_path / "whole" / "last").state_dict
    b = load_checkpoint(tmp_path / "part" / "last").state_dict
    assert not all(torch.equal(stopped[k], b[k]) for k in a)  # it did train on
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_pretrained_encoder_is_loaded_and_kept_frozen(scenes, tmp_path):
    torch.manual_seed(7)
    pretrained = ConvEncoder(tuple(TINY["channels"])).state_dict()
    save_file(pretrained, tmp_path / "encoder.safetensors")
    fitted = tiny(
        encoder_weights=tmp_path / "encoder.safetensors", model={"freeze_encoder": True}
    ).fit(scenes, progress=False)
    for name, tensor in fitted.model_.encoder.state_dict().items():
        assert torch.equal(tensor, pretrained[name]), name
    save_file(ConvEncoder((4, 8)).state_dict(), tmp_path / "wrong.safetensors")
    with pytest.raises(UserError, match="encoder_weights: expected the encoder's tensors"):
        tiny(encoder_weights=tmp_path / "wrong.safetensors").fit(scenes, progress=False)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tokenizer": "bpe"}, "tokenizer: expected one of word, char, got 'bpe'"),
        ({"batch_size": 0}, "batch_size: expected a positive integer, got 0"),
        ({"image_size": 0}, "image_size: "),
        ({"augment": "yes"}, "augment: expected true or false, got 'yes'"),
        ({"model": {"vocab_size": 9}}, "model.vocab_size, model.pad_id.*set by the tokenizer"),
        ({"model": {"attention": "luong"}}, "model.attention: expected one of bahdanau, none"),
        ({"model": {"hiden_size": 9}}, "model.hiden_size: expected one of the CaptionConfig"),
        ({"train": {"epochs": 0}}, "epochs: expected a positive integer, got 0"),
        ({"encoder_weights": "missing.pt"}, "encoder_weights: expected a .safetensors or .pt"),
    ],
)
def test_bad_settings_are_named_before_any_work(settings, message, tmp_path):
    with pytest.raises(UserError, match=message):  # not the missing captions file's error
        Captioner(**settings).fit(tmp_path / "no-such.tsv", out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_describe_refuses_what_it_cannot_read(scenes):
    fitted = tiny(train={"max_steps": 1}).fit(scenes, progress=False)
    with pytest.raises(UserError, match="method: expected one of greedy, beam, got 'sample'"):
        fitted.describe(str(scenes.folder / "test/000000.png"), method="sample")
    with pytest.raises(UserError, match=r"images: expected uint8 RGB pixels \(H, W, 3\)"):
        fitted.describe([torch.zeros(8, 8).numpy()])


@pytest.mark.slow
def test_a_tiny_model_learns_the_scenes_captions_language(tmp_path):
    """256 images, 8 epochs (about 10 s on one core): the validation loss per token falls far
    below chance (log V, a uniform guess). Shown here is only that it learns how the captions
    are written; at this size and budget its captions barely depend on the image yet (BLEU-4 is
    near that of shuffled references, ~32, since every scene caption has one template)."""
    corpus = builtin_caption("scenes", size=(256, 32, 32), cache=tmp_path)
    fitted = tiny(epochs=8, model={"hidden_size": 48, "embedding_size": 16, "penalty": 0.0})
    fitted.batch_size = 16
    fitted.fit(corpus, progress=False)
    chance = math.log(fitted.tokenizer_.vocab_size)
    assert fitted.progress_.history[-1]["loss"] < 0.4 * chance
