"""The bad-input sweep's cases for `lstmkit caption`: captions files and images a captioner cannot
use, and options out of range (`lstmkit serve`'s /describe limits among them, and
`lstmkit inspect`'s --image).

The workspace gets ``caption/``: three small PNG images, a file that is not an image, and
captions files that name a missing image, hold an empty caption, name the broken image, lead out
of the images folder, or are in none of the formats.
"""

from __future__ import annotations

from pathlib import Path

from bad_input_case import Case

TRAIN = "caption train --out {ws}/new --no-progress --captions {ws}/caption"
FORMATS = (
    "TSV or CSV with an image and a caption a row (image<TAB>caption or image,caption, a header "
    "naming the columns optional), Flickr8k's token file (name.jpg#0<TAB>caption) or COCO's "
    "captions JSON (images and annotations)"
)

CASES: list[Case] = [
    Case(
        "caption-train-missing-image",
        "a captions line naming a missing image",
        f"{TRAIN}/missing.tsv",
        "<tmp>/caption/missing.tsv:2: image gone.png not found in <tmp>/caption",
        file="caption/missing.tsv",
        line=2,
    ),
    Case(
        "caption-train-empty-caption",
        "an empty caption",
        f"{TRAIN}/empty.tsv",
        "<tmp>/caption/empty.tsv:2: expected a caption of 1.png, got an empty one",
        file="caption/empty.tsv",
        line=2,
    ),
    Case(
        "caption-train-unreadable-image",
        "a captions line naming a file that is not an image",
        f"{TRAIN}/bad-image.tsv",
        "<tmp>/caption/bad-image.tsv:2: <tmp>/caption/bad.png: expected a PNG or JPEG image, got "
        "a file Pillow does not recognise as one",
        file="caption/bad-image.tsv",
        line=2,
    ),
    Case(
        "caption-train-outside",
        "an image name that leads out of the images folder",
        f"{TRAIN}/outside.tsv",
        "<tmp>/caption/outside.tsv:2: expected an image inside the images folder <tmp>/caption, "
        "got '../escape.png', which leads outside it",
        file="caption/outside.tsv",
        line=2,
    ),
    Case(
        "caption-train-format",
        "a captions file in none of the formats",
        f"{TRAIN}/words.txt",
        f"<tmp>/caption/words.txt:1: expected a captions file in one of the formats: {FORMATS}; "
        "got a line with neither a tab nor a comma: 'a red square'",
        file="caption/words.txt",
        line=1,
    ),
    Case(
        "caption-train-image-size",
        "--image-size 0",
        f"{TRAIN}/good.tsv --image-size 0",
        "argument --image-size: expected a positive integer, got '0'",
        usage=True,
        option="--image-size",
    ),
    Case(
        "caption-train-penalty",
        "--penalty -1 (the attention penalty's weight)",
        f"{TRAIN}/good.tsv --penalty -1",
        "argument --penalty: expected a number >= 0, got '-1'",
        usage=True,
        option="--penalty",
    ),
    Case(
        "caption-serve-max-image-bytes",
        "serve: --max-image-bytes 0 (the largest /describe upload)",
        "serve {ws}/lm --max-image-bytes 0 --port 0",
        "argument --max-image-bytes: expected a positive integer, got '0'",
        usage=True,
        option="--max-image-bytes",
    ),
    Case(
        "caption-serve-max-image-pixels",
        "serve: --max-image-pixels 1e6 (not an integer)",
        "serve {ws}/lm --max-image-pixels 1e6 --port 0",
        "argument --max-image-pixels: expected a positive integer, got '1e6'",
        usage=True,
        option="--max-image-pixels",
    ),
    Case(
        "caption-describe-unreadable-image",
        "describe: a file that is not an image (named before the model is read)",
        "caption describe {ws}/lm {ws}/caption/bad.png",
        "<tmp>/caption/bad.png: expected a PNG or JPEG image, got a file Pillow does not "
        "recognise as one",
        file="caption/bad.png",
    ),
    Case(
        "caption-inspect-unreadable-image",
        "inspect: --image a file that is not an image (named before the model is read)",
        "inspect {ws}/lm --image {ws}/caption/bad.png --out {ws}/new.html",
        "--image <tmp>/caption/bad.png: expected a PNG or JPEG image, got a file Pillow does not "
        "recognise as one",
        option="--image",
        file="caption/bad.png",
    ),
]


def prepare(ws: Path) -> None:
    """Adds ``caption/`` to the sweep's workspace."""
    from PIL import Image

    folder = ws / "caption"
    folder.mkdir()
    for i, colour in enumerate(("red", "blue", "green")):
        Image.new("RGB", (16, 16), colour).save(folder / f"{i}.png")
    (folder / "bad.png").write_bytes(b"not an image at all")
    files = {
        "good.tsv": "0.png\ta red square\n1.png\ta blue square\n2.png\ta green square\n",
        "missing.tsv": "0.png\ta red square\ngone.png\ta lost square\n2.png\ta green square\n",
        "empty.tsv": "0.png\ta red square\n1.png\t \n2.png\ta green square\n",
        "bad-image.tsv": "0.png\ta red square\nbad.png\ta broken square\n",
        "outside.tsv": "0.png\ta red square\n../escape.png\ta square\n",
        "words.txt": "a red square\na blue square\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
