"""The built-in ``scenes`` of the captioning task: two coloured shapes and where one is.

Each 64x64 image shows two objects on a plain grey background: a shape (:data:`SHAPES`), a
colour (:data:`COLOURS`, the two objects' colours differ) and a size (small, about 11 pixels
across, or large, about 23) each, one to the left of, to the right of, above or below the
other. The objects are apart by at least 3 pixels along the relation's axis and their centres
within 5 pixels across it, so that exactly one relation holds. At 64 pixels two large objects
(up to 25 pixels) fit side by side with room to move, a small star (10 pixels) keeps its points,
and a convolutional encoder's three halvings leave an 8x8 grid to attend over. Drawing is
without anti-aliasing, so an object's pixels have exactly its colour.

Every image has four reference captions, both ways round, with and without the sizes::

    a large red star above a small blue circle
    a small blue circle below a large red star
    a red star above a blue circle
    a blue circle below a red star

Each object's box, ``[x0, y0, x1, y1]`` (pixels, ``x1`` and ``y1`` exclusive), is the
smallest that holds its drawn pixels. The colour-shape pairs of :data:`HELD_OUT` never occur in
train, valid or test, which are drawn alike; every image of the ``novel`` split shows one of
them (``held_out`` in the metadata), to measure captions of combinations never seen apart from
the test images.

Example:
    >>> scene = scene_plan(1, seed=0, split="test")[0]
    >>> scene_captions(scene)[0] == f"{scene.objects[0].phrase()} {scene.relation} " + (
    ...     scene.objects[1].phrase())
    True
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

SCENE_SIZE = (64, 64)  # (height, width)
SHAPES = ("circle", "square", "triangle", "star")
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (50, 90, 230),
    "yellow": (235, 210, 40),
    "purple": (150, 60, 200),
    "white": (245, 245, 245),
}
SIZES = {"small": (10, 12), "large": (21, 25)}  # the side's range, in pixels
RELATIONS = ("to the left of", "to the right of", "above", "below")
HELD_OUT = (("green", "star"), ("purple", "triangle"))  # (colour, shape)
_INVERSE = {"to the left of": "to the right of", "to the right of": "to the left of"}
_INVERSE |= {"above": "below", "below": "above"}
_MARGIN = 2


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene: what it is and the square it is drawn in (``side`` pixels, from
    ``(x, y)``, its top left corner)."""

    shape: str
    colour: str
    size: str
    x: int
    y: int
    side: int

    def phrase(self, sizes: bool = True) -> str:
        """``"a large red star"``, or ``"a red star"`` without the size."""
        return (
            f"a {self.size} {self.colour} {self.shape}"
            if sizes
            else f"a {self.colour} {self.shape}"
        )


@dataclass(frozen=True)
class Scene:
    """An image's two objects: ``objects[0]`` is ``relation`` ``objects[1]``."""

    objects: tuple[SceneObject, SceneObject]
    relation: str
    background: int
    held_out: bool


def scene_plan(count: int, seed: int, split: str) -> list[Scene]:
    """``count`` scenes drawn from ``seed`` and ``split`` alone (``random.Random``).

    Args:
        count: how many.
        seed: the seed.
        split: ``"novel"`` shows a pair of :data:`HELD_OUT` in every image; the others
            (``"train"``, ``"valid"``, ``"test"``) never do.

    Example:
        >>> [s.relation for s in scene_plan(3, seed=0, split="train")]
        ['above', 'to the right of', 'to the left of']
    """
    rng = random.Random(f"scenes-{seed}-{split}")
    pairs = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in HELD_OUT]
    scenes = []
    for _ in range(count):
        held_out = split == "novel"
        first = rng.choice(HELD_OUT if held_out else pairs)
        second = rng.choice([p for p in pairs if p[0] != first[0]])
        kinds = [first, second] if rng.random() < 0.5 else [second, first]
        sizes = [rng.choice(tuple(SIZES)) for _ in kinds]
        relation = rng.choice(RELATIONS)
        boxes = _place(rng, relation, [rng.randint(*SIZES[size]) for size in sizes])
        objects = tuple(
            SceneObject(colour=c, shape=s, size=size, x=x, y=y, side=side)
            for (c, s), size, (x, y, side) in zip(kinds, sizes, boxes, strict=True)
        )
        scenes.append(Scene(objects, relation, rng.randint(0, 80), held_out))
    return scenes


def _place(rng: random.Random, relation: str, sides: list[int]) -> list[tuple[int, int, int]]:
    """The two squares' ``(x, y, side)``: the first ``relation`` the second."""
    horizontal = relation in RELATIONS[:2]
    along, across = SCENE_SIZE[::-1] if horizontal else SCENE_SIZE
    gap = rng.randint(3, along - 2 * _MARGIN - sum(sides))
    start = rng.randint(_MARGIN, along - _MARGIN - sum(sides) - gap)
    if relation in ("to the left of", "above"):
        starts = [start, start + sides[0] + gap]
    else:
        starts = [start + sides[1] + gap, start]
    big = max(sides)
    centre = rng.randint(_MARGIN + big // 2 + 2, across - _MARGIN - (big + 1) // 2 - 2)
    offsets = [centre - side // 2 + rng.randint(-2, 2) for side in sides]
    if horizontal:
        return [(a, b, s) for a, b, s in zip(starts, offsets, sides, strict=True)]
    return [(b, a, s) for a, b, s in zip(starts, offsets, sides, strict=True)]


def scene_captions(scene: Scene) -> list[str]:
    """The four reference captions: both ways round, with and without the sizes."""
    first, second = scene.objects
    ways = ((first, scene.relation, second), (second, _INVERSE[scene.relation], first))
    return [
        f"{subject.phrase(sizes)} {relation} {other.phrase(sizes)}"
        for sizes in (True, False)
        for subject, relation, other in ways
    ]


def draw_scene(scene: Scene) -> tuple[Image.Image, list[list[int]]]:
    """The scene's RGB image and each object's box ``[x0, y0, x1, y1]`` (see the module's text)."""
    height, width = SCENE_SIZE
    image = Image.new("RGB", (width, height), (scene.background,) * 3)
    draw = ImageDraw.Draw(image)
    boxes = []
    for obj in scene.objects:
        mask = Image.new("L", (width, height), 0)
        _draw_shape(ImageDraw.Draw(mask), obj, 255)
        boxes.append(list(mask.getbbox()))
        _draw_shape(draw, obj, COLOURS[obj.colour])
    return image, boxes


def _draw_shape(draw: ImageDraw.ImageDraw, obj: SceneObject, fill) -> None:
    x0, y0, x1, y1 = obj.x, obj.y, obj.x + obj.side - 1, obj.y + obj.side - 1
    if obj.shape == "circle":
        draw.ellipse((x0, y0, x1, y1), fill=fill)
    elif obj.shape == "square":
        draw.rectangle((x0, y0, x1, y1), fill=fill)
    elif obj.shape == "triangle":
        draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) / 2, y0)], fill=fill)
    else:  # five points, one up; its lower points reach 0.81 of the radius, so it sits lower
        outer = (obj.side - 1) / 2
        cx, cy = x0 + outer, y0 + outer * 1.095
        points = [
            (cx + r * math.sin(math.pi * k / 5), cy - r * math.cos(math.pi * k / 5))
            for k, r in enumerate([outer, outer * 0.45] * 5)
        ]
        draw.polygon(points, fill=fill)


__all__ = [
    "COLOURS",
    "HELD_OUT",
    "RELATIONS",
    "SCENE_SIZE",
    "SHAPES",
    "SIZES",
    "Scene",
    "SceneObject",
    "draw_scene",
    "scene_captions",
    "scene_plan",
]
