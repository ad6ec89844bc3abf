"""The built-in captioning data: deterministic given the seed, read as a user's files are,
captions that describe what is drawn, boxes that hold it, and digits of test strips written on
forms never used in training."""

import difflib
import itertools
import json
import re

import numpy as np
import pytest
from PIL import Image

from lstmkit.data import caption_builtin
from lstmkit.data.caption_builtin import builtin_caption
from lstmkit.data.caption_digits import FORM_STARTS, FORM_TEMPLATE
from lstmkit.data.caption_scenes import COLOURS, HELD_OUT, SHAPES
from lstmkit.data.captions import read_captions
from lstmkit.errors import UserError

SIZE = (12, 6, 6)
WORDS = "zero one two three four five six seven eight nine".split()
OBJECT = r"a (?:(small|large) )?(\w+) (circle|square|triangle|star)"
CAPTION = re.compile(rf"{OBJECT} (to the left of|to the right of|above|below) {OBJECT}")
OPPOSITE = {"to the left of": "to the right of", "above": "below"}
OPPOSITE |= {b: a for a, b in OPPOSITE.items()}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def metadata(corpus):
    return [json.loads(line) for line in corpus.metadata.read_text().splitlines()]


def files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["scenes", "digits"])
def test_generation_is_deterministic_given_the_seed_and_read_as_user_files(name, cache, tmp_path):
    corpus = builtin_caption(name, size=SIZE, seed=1)
    assert corpus.folder.parent == cache / "caption"
    again = builtin_caption(name, size=SIZE, seed=1, cache=tmp_path / "other")
    assert files(corpus.folder) == files(again.folder)
    other = builtin_caption(name, size=SIZE, seed=2)
    assert corpus.train.read_text() != other.train.read_text()
    per_image = 4 if name == "scenes" else 1
    splits = [corpus.train, corpus.valid, corpus.test]
    counts = list(SIZE)
    if name == "scenes":  # as many novel images as test ones
        splits, counts = [*splits, corpus.novel], [*counts, SIZE[2]]
    else:
        assert corpus.novel is None
    for split, count in zip(splits, counts, strict=True):
        captions = read_captions(split)
        assert len(captions) == count
        assert {len(refs) for refs in captions.references} == {per_image}
    with Image.open(corpus.folder / "test" / "000000.png") as image:
        assert image.size == corpus.image_size[::-1]
    assert len(metadata(corpus)) == sum(counts)


def test_a_built_corpus_is_reused_not_regenerated(cache, monkeypatch):
    first = builtin_caption("scenes", size=(2, 1, 1))
    monkeypatch.setattr(caption_builtin, "_generate", lambda *a: pytest.fail("regenerated"))
    assert builtin_caption("scenes", size=(2, 1, 1)) == first


def test_every_scene_reference_describes_the_drawn_objects_and_their_relation(cache):
    corpus = builtin_caption("scenes", size=SIZE, seed=0)
    records = {r["image"]: r for r in metadata(corpus)}
    for split in (corpus.train, corpus.valid, corpus.test, corpus.novel):
        captions = read_captions(split)
        for image, refs in zip(captions.images, captions.references, strict=True):
            record = records[image.relative_to(corpus.folder.resolve()).as_posix()]
            (a, b), relation = record["objects"], record["relation"]
            described = set()
            for ref in refs:
                found = CAPTION.fullmatch(ref)
                assert found, ref
                first = dict(zip(("size", "colour", "shape"), found.groups()[:3], strict=True))
                second = dict(zip(("size", "colour", "shape"), found.groups()[4:], strict=True))
                if first["colour"] == a["colour"]:  # named in the drawn order
                    pair, said = (a, b), found[4]
                else:  # the other way round, with the opposite relation
                    pair, said = (b, a), OPPOSITE[found[4]]
                assert said == relation, ref
                for obj, named in zip(pair, (first, second), strict=True):
                    assert (named["colour"], named["shape"]) == (obj["colour"], obj["shape"])
                    assert named["size"] in (None, obj["size"]), ref
                described.add((pair[0]["colour"], found[1] is None))
            assert len(described) == 4  # both ways round, with and without the sizes


def test_scene_boxes_hold_exactly_their_objects_pixels_and_the_relation_holds(cache):
    corpus = builtin_caption("scenes", size=SIZE, seed=0)
    for record in metadata(corpus):
        pixels = np.asarray(Image.open(corpus.folder / record["image"]).convert("RGB"))
        height, width, _ = pixels.shape
        boxes = record["boxes"]
        for obj, (x0, y0, x1, y1) in zip(record["objects"], boxes, strict=True):
            assert 0 <= x0 < x1 <= width
            assert 0 <= y0 < y1 <= height
            mask = (pixels == COLOURS[obj["colour"]]).all(axis=2)
            ys, xs = np.nonzero(mask)  # the colour's pixels: inside the box, filling its extent
            assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == [x0, y0, x1, y1]
            big = (x1 - x0) > 16 or (y1 - y0) > 16
            assert big == (obj["size"] == "large"), record
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes
        relation = record["relation"]
        separated = {
            "to the left of": ax1 < bx0, "to the right of": bx1 < ax0,
            "above": ay1 < by0, "below": by1 < ay0,
        }  # fmt: skip
        assert [r for r, holds in separated.items() if holds] == [relation], record
        assert record["objects"][0]["colour"] != record["objects"][1]["colour"]


def test_held_out_colour_shape_pairs_are_in_every_novel_image_and_nowhere_else(cache):
    corpus = builtin_caption("scenes", size=(300, 80, 60), seed=0)
    held, drawn = {split: [] for split in ("train", "valid", "test", "novel")}, set()
    for r in metadata(corpus):
        pairs = {(o["colour"], o["shape"]) for o in r["objects"]}
        assert r["held_out"] == bool(pairs & set(HELD_OUT))
        held[r["split"]].append(r["held_out"])
        drawn |= pairs
    assert [len(flags) for flags in held.values()] == [300, 80, 60, 60]
    assert not any(held["train"] + held["valid"] + held["test"])
    assert all(held["novel"])
    assert drawn == {(c, s) for c in COLOURS for s in SHAPES}  # every pair drawn somewhere


def test_digit_strips_say_their_digits_and_test_digits_are_never_trained_on(cache):
    from sklearn.datasets import load_digits

    labels = load_digits().target
    corpus = builtin_caption("digits", size=(60, 20, 20), seed=0)
    records = metadata(corpus)
    captions = {}
    for split in (corpus.train, corpus.valid, corpus.test):
        for line in split.read_text().splitlines():
            image, caption = line.split("\t")
            captions[image] = caption
    used = {"train": set(), "valid": set(), "test": set()}
    forms = {"train": set(), "valid": set(), "test": set()}
    for r in records:
        assert 3 <= len(r["labels"]) <= 5
        assert captions[r["image"]] == " ".join(WORDS[d] for d in r["labels"])
        assert [int(labels[i]) for i in r["samples"]] == r["labels"]
        used[r["split"]] |= set(r["samples"])
        forms[r["split"]] |= set(r["forms"])
        pixels = np.asarray(Image.open(corpus.folder / r["image"]))  # (H, W) grey
        lefts = [box[0] for box in r["boxes"]]
        assert lefts == sorted(lefts)  # the boxes in reading order, as the caption
        for x0, y0, x1, y1 in r["boxes"]:
            assert 0 <= x0 < x1 <= pixels.shape[1]
            assert 0 <= y0 < y1 <= pixels.shape[0]
            assert pixels[y0:y1, x0:x1].min() < pixels.max() - 60  # ink inside
    for held in ("valid", "test"):
        assert used[held]
        assert not used["train"] & used[held]
        assert not forms["train"] & forms[held]


def test_the_form_boundaries_follow_the_labels_pattern():
    from sklearn.datasets import load_digits

    labels = "".join(map(str, load_digits().target))
    bounds = [*FORM_STARTS, len(labels)]
    for start, end in itertools.pairwise(bounds):
        form = labels[start:end]
        same = difflib.SequenceMatcher(None, FORM_TEMPLATE, form, autojunk=False)
        assert sum(m.size for m in same.get_matching_blocks()) >= len(form) - 1, start
    assert FORM_TEMPLATE.startswith("0123456789" * 3)
    assert len(FORM_TEMPLATE) == 130


def test_bad_names_sizes_and_seeds_are_refused(cache):
    with pytest.raises(UserError, match="name: expected one of scenes, digits, got 'faces'"):
        builtin_caption("faces")
    with pytest.raises(UserError, match=r"size: expected \(train, valid, test\) non-negative"):
        builtin_caption("scenes", size=(0, 1, 1))
    with pytest.raises(UserError, match=r"seed: expected an integer, got 1\.5"):
        builtin_caption("digits", seed=1.5)
    assert not cache.exists()
