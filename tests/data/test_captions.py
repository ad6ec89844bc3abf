"""Captions files (TSV, CSV, Flickr8k tokens, COCO JSON), their bad inputs, the split by image,
and images: checked, converted to RGB, resized and normalised as documented."""

import json
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lstmkit.data.captions import Captions, read_captions, split_captions
from lstmkit.data.images import (
    ImageHeader,
    ImageTooLarge,
    augment_image,
    decode_image,
    image_header,
    image_size,
    load_image,
    normalise_image,
    read_image,
    scan_images,
)
from lstmkit.errors import Notice, UserError

REFERENCES = {
    "a.png": ["a dog runs", "a brown dog, running"],
    "b.png": ["two cats"],
    "sub/c.png": ["a red star above a blue circle", "a star"],
}


@pytest.fixture
def folder(tmp_path):
    for i, name in enumerate(REFERENCES):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4 + i, 4), (i * 50, 0, 0)).save(tmp_path / name)
    return tmp_path


def expected(folder):
    names = list(REFERENCES)
    return [(folder / n).resolve() for n in names], [tuple(REFERENCES[n]) for n in names]


def rows():
    return [(name, text) for name, texts in REFERENCES.items() for text in texts]


def read(path, **kwargs):
    captions = read_captions(path, **kwargs)
    return list(captions.images), list(captions.references)


def coco(folder):
    names = list(REFERENCES)
    images = [{"id": 10 + i, "file_name": n, "height": 4} for i, n in enumerate(names)]
    notes = [
        {"id": k, "image_id": 10 + names.index(name), "caption": text}
        for k, (name, text) in enumerate(rows())
    ]
    return {"info": {}, "images": images, "annotations": notes}


# ---------------------------------------------------------------- the formats


def test_the_three_formats_and_csv_read_to_the_same_result(folder):
    (folder / "c.tsv").write_text("".join(f"{n}\t{t}\n" for n, t in rows()))
    csv_rows = "".join(f'{n},"{t}"\n' for n, t in rows())
    (folder / "c.csv").write_text("image,caption\n" + csv_rows)
    token = "".join(f"{n}#{i}\t{t}\n" for n, t in rows() for i in [REFERENCES[n].index(t)])
    (folder / "Flickr8k.token.txt").write_text(token)
    (folder / "captions.json").write_text(json.dumps(coco(folder)))
    want = expected(folder)
    for name in ("c.tsv", "c.csv", "Flickr8k.token.txt", "captions.json"):
        assert read(folder / name) == want, name


def test_csv_without_header_keeps_unquoted_commas_and_crlf_and_bom(folder):
    (folder / "c.txt").write_text("\ufeffa.png,a brown dog, running\r\n\r\nb.png,two cats\r\n")
    _, refs = read(folder / "c.txt")
    assert refs == [("a brown dog, running",), ("two cats",)]
    assert read_captions(folder / "c.txt").where == (
        f"{folder / 'c.txt'}:1",
        f"{folder / 'c.txt'}:3",
    )


def test_header_columns_in_any_order_and_images_folder_elsewhere(folder, tmp_path_factory):
    other = tmp_path_factory.mktemp("lists")
    (other / "c.tsv").write_text("caption\tid\tfile_name\nnice\t1\tb.png\n")
    captions = read_captions(other / "c.tsv", images=folder)
    assert captions.images == ((folder / "b.png").resolve(),)
    assert captions.references == (("nice",),)
    assert captions.source == str(other / "c.tsv")


def test_coco_images_without_captions_are_left_out_with_a_note(folder):
    data = coco(folder)
    data["images"].append({"id": 99, "file_name": "b.png"})
    (folder / "c.json").write_text(json.dumps(data))
    with pytest.warns(Notice, match="left out 1 images without a caption"):
        assert read(folder / "c.json") == expected(folder)


# ---------------------------------------------------------------- bad captions files


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("c.tsv", "a.png\tok\nnope.png\tfine\n", "c.tsv:2: image nope.png not found in "),
        (
            "c.tsv",
            "a.png\tok\nb.png\t  \n",
            "c.tsv:2: expected a caption of b.png, got an empty one",
        ),
        (
            "c.csv",
            'image,caption\na.png,""\n',
            "c.csv:2: expected a caption of a.png, got an empty one",
        ),
        (
            "c.txt",
            "just some words\n",
            "c.txt:1: expected a captions file in one of the formats: TSV or CSV",
        ),
        ("c.txt", "\n\nonly\n", "c.txt:3: expected a captions file in one of the formats"),
        ("c.txt", "", "c.txt: expected a captions file in one of the formats"),
        (
            "c.tsv",
            "a.png\tx\ty\n",
            "c.tsv:1: expected 2 tab-separated columns (image, caption), got 3",
        ),
        ("c.tsv", "a.png#0\tx\nb.png\ty\n", "c.tsv:2: expected name#N as in Flickr8k's token file"),
        ("c.tsv", "\t\tx\n", "c.tsv:1: expected 2 tab-separated columns"),
        ("c.tsv", " \tx\n", "c.tsv:1: expected an image file name, got an empty field"),
        ("c.tsv", "a\0.png\tx\n", "c.tsv:1: expected an image file name, got 'a\\x00.png'"),
        ("c.tsv", "../outside.png\tx\n", "c.tsv:1: expected an image inside the images folder"),
        ("c.tsv", "sub\tx\n", "c.tsv:1: expected an image file, got a folder: sub"),
        ("c.csv", 'a.png,"x\n', "c.csv:1: expected CSV fields"),
        ("c.json", "[1, 2]", "c.json: expected a captions file in one of the formats: TSV or CSV"),
        (
            "c.json",
            '{"images": []}',
            "got JSON without 'images' and 'annotations' lists (keys images)",
        ),
        ("c.json", "{", "c.json: expected a captions file in one of the formats"),
        (
            "c.json",
            '{"images": [{"id": 1}], "annotations": []}',
            "c.json: images[0]: expected keys id and file_name, got id",
        ),
        (
            "c.json",
            '{"images": [{"id": "1", "file_name": "a.png"}], "annotations": []}',
            "c.json: images[0]: expected an integer for 'id', got str",
        ),
    ],
)
def test_bad_captions_files_name_the_file_line_and_what_was_expected(folder, name, text, message):
    (folder / name).write_text(text)
    with pytest.raises(UserError) as error:
        read_captions(folder / name)
    assert message in str(error.value)


def test_coco_annotation_of_an_unknown_image_and_an_empty_caption(folder):
    data = coco(folder)
    data["annotations"][1]["caption"] = " "
    (folder / "c.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"c.json: annotations\[1\]: expected a caption of a.png"):
        read_captions(folder / "c.json")
    data["annotations"][1] = {"image_id": 7, "caption": "x"}
    (folder / "c.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"annotations\[1\]: expected an image_id listed in images"):
        read_captions(folder / "c.json")
    data["images"][1]["file_name"] = "gone.png"
    del data["annotations"][1]
    (folder / "c.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"c.json: images\[1\]: image gone.png not found"):
        read_captions(folder / "c.json")


def test_paths_leading_out_of_the_images_folder_are_refused(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.png"
    Image.new("RGB", (2, 2)).save(outside)
    (folder / "link.png").symlink_to(outside)
    for name in (str(outside), os.path.relpath(outside, folder / "sub"), "link.png"):
        (folder / "c.tsv").write_text(f"{name}\tx\n".replace("..", "sub/..", 1))
        with pytest.raises(UserError, match="which leads outside it"):
            read_captions(folder / "c.tsv")
    (folder / "c.tsv").write_text("sub/../a.png\tx\n")  # inside after all
    assert read_captions(folder / "c.tsv").images == ((folder / "a.png").resolve(),)


def test_skip_missing_leaves_out_missing_images_with_a_note(folder):
    (folder / "c.tsv").write_text("a.png\tx\ngone.png\ty\ngone.png\tz\n")
    with pytest.warns(
        Notice, match=r"left out 2 captions of images not found, the first: .*c.tsv:2"
    ):
        captions = read_captions(folder / "c.tsv", skip_missing=True)
    assert captions.references == (("x",),)


def test_no_such_file_or_images_folder(folder):
    with pytest.raises(UserError, match="no such file"):
        read_captions(folder / "none.tsv")
    with pytest.raises(UserError, match="images: expected a folder of images, got no such folder"):
        read_captions(folder / "none.tsv", images=folder / "nope")


# ---------------------------------------------------------------- the split


def numbered(n):
    images = tuple(Path(f"{i}.png") for i in range(n))
    return Captions(images, tuple((f"t{i}", f"u{i}") for i in range(n)), ("w",) * n, "c.tsv")


def test_split_by_image_is_disjoint_complete_deterministic_and_seeded():
    captions = numbered(40)
    parts = split_captions(captions, 0.1, 0.2, seed=3)
    assert [len(p) for p in parts] == [28, 4, 8]
    sets = [set(p.images) for p in parts]
    assert sum(len(s) for s in sets) == len(set().union(*sets))  # disjoint
    assert sets[0] | sets[1] | sets[2] == set(captions.images)
    for part in parts:  # all of an image's references travel with it
        for image, refs in zip(part.images, part.references, strict=True):
            assert refs == (f"t{image.stem}", f"u{image.stem}")
    assert split_captions(captions, 0.1, 0.2, seed=3) == parts
    assert split_captions(captions, 0.1, 0.2, seed=4)[2].images != parts[2].images


def test_split_refuses_bad_fractions():
    with pytest.raises(UserError, match=r"valid_fraction: expected a number in \[0, 1\), got 1.5"):
        split_captions(numbered(5), 1.5)
    with pytest.raises(UserError, match="expected less than 1 to leave images for training"):
        split_captions(numbered(5), 0.5, 0.5)
    with pytest.raises(UserError, match="images too few to split: expected at least 3"):
        split_captions(numbered(2), 0.5, 0.4)


def test_captions_check_their_lengths():
    with pytest.raises(UserError, match="expected as many reference lists and places as images"):
        Captions((Path("a.png"),), (), (), "c")
    with pytest.raises(UserError, match=r"expected a caption of a\.png, got none"):
        Captions((Path("a.png"),), ((),), ("w",), "c")


# ---------------------------------------------------------------- images


def test_load_image_normalises_by_the_documented_formula(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    got = load_image(tmp_path / "x.png", (6, 5))
    assert got.shape == (3, 6, 5)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, (pixels.transpose(2, 0, 1) / 255 - 0.5) / 0.5, atol=1e-6)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    got = load_image(tmp_path / "x.png", (6, 5), mean=mean, std=std)
    want = (pixels / 255 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(got, want.transpose(2, 0, 1), atol=1e-5)


def test_grey_palette_alpha_sixteen_bit_and_cmyk_become_rgb(tmp_path):
    Image.new("L", (3, 3), 80).save(tmp_path / "grey.png")
    palette = Image.new("P", (3, 3), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    palette.save(tmp_path / "palette.png")
    Image.new("RGBA", (3, 3), (200, 0, 100, 64)).save(tmp_path / "alpha.png")
    Image.new("LA", (3, 3), (0, 0)).save(tmp_path / "clear.png")
    Image.fromarray(np.full((3, 3), 257 * 40, dtype=np.uint16)).save(tmp_path / "deep.png")
    Image.new("CMYK", (3, 3), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    alpha = 64 / 255
    blended = [round(alpha * c + (1 - alpha) * 255) for c in (200, 0, 100)]
    for name, rgb in [
        ("grey.png", [80, 80, 80]),
        ("palette.png", [10, 200, 30]),
        ("alpha.png", blended),
        ("clear.png", [255, 255, 255]),  # transparent: laid on white
        ("deep.png", [40, 40, 40]),  # 16 bits scaled, not clipped
    ]:
        got = read_image(tmp_path / name, 3)
        assert np.abs(got.astype(int) - rgb).max() <= 1, (name, got[0, 0])
    red = read_image(tmp_path / "cmyk.jpg", 3)[1, 1]
    assert red[0] > 200
    assert max(red[1:]) < 50


def test_resizing_keeps_a_flat_colour_and_jpeg_exif_orientation_is_applied(tmp_path):
    Image.new("RGB", (300, 100), (20, 120, 220)).save(tmp_path / "wide.png")
    got = read_image(tmp_path / "wide.png", (8, 16))
    assert got.shape == (8, 16, 3)
    assert (got == [20, 120, 220]).all()
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: the camera was held sideways
    stored = np.full((20, 40, 3), 255, dtype=np.uint8)
    stored[:, :20] = 0  # the stored left half, shown on top
    Image.fromarray(stored).save(tmp_path / "turned.jpg", exif=exif)
    got = read_image(tmp_path / "turned.jpg", (40, 20))
    assert got[:16].mean() < 30
    assert got[24:].mean() > 225
    assert scan_images([tmp_path / "turned.jpg"], 8) == [(40, 20)]  # the header's own


def png_header(width, height):
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunks = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def test_unreadable_truncated_huge_and_special_images_are_named(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "full.png").read_bytes()[:300])
    (tmp_path / "bomb.png").write_bytes(png_header(10_000, 10_000))
    (tmp_path / "vast.png").write_bytes(png_header(100_000, 100_000))
    Image.new("RGB", (2, 2)).save(tmp_path / "pic.gif")
    cases = {
        "text.png": "c.tsv:4: {}: expected a PNG or JPEG image, got a file Pillow does not "
        "recognise as one",
        "pic.gif": "expected a PNG or JPEG image, got a file Pillow does not recognise as one",
        "cut.png": "expected a PNG or JPEG image Pillow can read, got an unreadable file (image "
        "file is truncated",
        "bomb.png": "{}: expected at most 67,108,864 pixels, got 10000x10000",
        "vast.png": "{}: expected at most 67,108,864 pixels, got 10,000,000,000",
        "missing.png": "c.tsv:4: {}: no such image file",
        ".": "expected an image file, got a folder or a special file",
    }
    for name, message in cases.items():
        with pytest.raises(UserError) as error:
            load_image(tmp_path / name, 8, where="c.tsv:4")
        assert message.format(tmp_path / name) in str(error.value), name
    with pytest.raises(UserError, match="expected at most 67,108,864 pixels, got 10000x10000"):
        scan_images([tmp_path / "full.png", tmp_path / "bomb.png"], 8)


def test_an_image_in_memory_is_checked_and_decoded_as_its_file_would_be(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # turned a quarter: the header's size is the stored one
    pixels = np.random.default_rng(1).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.jpg", exif=exif)
    Image.fromarray(pixels).convert("RGBA").save(tmp_path / "a.png")
    for name, header in (("a.jpg", ("JPEG", 50, 30)), ("a.png", ("PNG", 50, 30))):
        data = (tmp_path / name).read_bytes()
        assert image_header(data) == ImageHeader(*header)
        assert np.array_equal(decode_image(data, (12, 20)), read_image(tmp_path / name, (12, 20)))
    data = (tmp_path / "a.png").read_bytes()
    with pytest.raises(ImageTooLarge, match=r"^upload: expected at most 1,000 pixels, got 50x30$"):
        image_header(data, "upload", max_pixels=1000)
    with pytest.raises(ImageTooLarge, match=r"^image: expected at most 10 pixels, got 10,000,000,"):
        image_header(png_header(100_000, 100_000), max_pixels=10)  # over Pillow's own limit too
    with pytest.raises(UserError, match=r"^image: expected a PNG or JPEG image, got a file Pillow"):
        image_header(b"GIF89a" + bytes(30))
    with pytest.raises(UserError, match=r"^image: expected a PNG or JPEG image Pillow can read, "):
        decode_image(data[:200], 8)
    assert not issubclass(UserError, ImageTooLarge)


def test_scan_images_notes_wildly_different_sizes(tmp_path):
    for name, size in {"a.png": (64, 48), "b.png": (80, 60), "c.png": (300, 200)}.items():
        Image.new("RGB", size).save(tmp_path / name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scan_images([tmp_path / "a.png", tmp_path / "b.png"], 32) == [(64, 48), (80, 60)]
    with pytest.warns(Notice) as notes:
        scan_images([tmp_path / n for n in ("a.png", "b.png", "c.png")], (32, 48))
    assert str(notes[0].message) == (
        "images differ widely in size, from 64x48 (a.png) to 300x200 (c.png), aspect ratios "
        "(width/height) from 1.33 to 1.50: all are resized to 32x48 (height x width)"
    )
    Image.new("RGB", (20, 100)).save(tmp_path / "tall.png")
    with pytest.warns(Notice, match=r"aspect ratios \(width/height\) from 0.20 to 1.33"):
        scan_images([tmp_path / "a.png", tmp_path / "tall.png"], 32)


def test_sizes_are_checked():
    assert image_size(64) == (64, 64)
    assert image_size([32, 160]) == (32, 160)
    for bad in (0, (32,), (32, 0), 5000, "64", (32.0, 8), True):
        with pytest.raises(UserError, match="size: expected a side or"):
            image_size(bad)


def test_normalise_a_batch_and_augment_without_flipping():
    pixels = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    assert normalise_image(pixels).shape == (2, 3, 3, 4)
    image = np.zeros((20, 20, 3), dtype=np.uint8)
    image[:, :5] = 200  # a bright left edge stays on the left
    rng = np.random.default_rng(1)
    for _ in range(10):
        out = augment_image(image, rng)
        assert (out.shape, out.dtype) == (image.shape, np.uint8)
        assert out[:, 0].mean() > 100
        assert out[:, -1].mean() < 50
    same = augment_image(image, rng, shift=0, brightness=0, contrast=0)
    assert (same == image).all()
