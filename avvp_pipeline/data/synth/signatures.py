"""How each class looks and sounds (:func:`signatures`).

Class ``i`` of ``spec.classes`` (``n`` classes) gets:

* visual: a saturated colour (hue ``i/n``), a shape (disc, square, triangle, ring, cross, bar) and a
  motion (horizontal sweep, vertical bounce, circular orbit, pulsing size, diagonal zigzag,
  figure eight): one of the 36 pairs each, a pair shared only by classes far apart in hue (up to 108
  classes: at least 100 degrees); about a third of the frame height, drawn on a mildly noisy
  dark-grey background; it is visible exactly in the frames whose time lies in ``[onset, offset)`` of
  its visual event. Classes visible in the same clip sit in different cells of a grid laid over the frame.
* audio: a base frequency (evenly spaced in mel between 250 and 4000 Hz) and a temporal pattern
  (steady tone, 4 Hz beeps, rising chirp every second, two-tone alternation, 6 Hz amplitude
  modulation, harmonic stack; pattern ``i % 6``, so classes sharing one are 6 frequency steps apart),
  audible exactly in ``[onset, offset)`` of its audio event with 10 ms fades, over low white noise;
  the mix is scaled down where it would clip.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

from avvp_pipeline.data.synth.spec import SynthSpec

SHAPES: tuple[str, ...] = ("disc", "square", "triangle", "ring", "cross", "bar")
MOTIONS: tuple[str, ...] = ("sweep", "bounce", "orbit", "pulse", "zigzag", "figure8")
PATTERNS: tuple[str, ...] = ("steady", "beeps", "chirp", "two_tone", "am", "harmonics")

_MIN_FREQ, _MAX_FREQ = 250.0, 4000.0


@dataclass(frozen=True)
class ClassSignature:
    """How a class looks and sounds: RGB colour, shape, motion, base frequency (Hz), pattern."""

    name: str
    colour: tuple[int, int, int]
    shape: str
    motion: str
    base_freq: float
    pattern: str


def _mel(f: float) -> float:
    return 2595.0 * math.log10(1.0 + f / 700.0)


def _inv_mel(m: float) -> float:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def _look(i: int, n: int) -> tuple[str, str]:
    """Shape and motion of class ``i`` of ``n``: the 36 pairs are dealt to the classes in rounds of
    ``ceil(n / rounds)``, so classes that share a pair lie about ``1 / rounds`` of the hue circle apart
    (with ``n <= 36`` every class has a pair of its own)."""
    pairs = len(SHAPES) * len(MOTIONS)
    rounds = math.ceil(n / pairs)
    k = i % math.ceil(n / rounds)
    return SHAPES[k % len(SHAPES)], MOTIONS[(k + k // len(SHAPES)) % len(MOTIONS)]


def signatures(spec: SynthSpec) -> dict[str, ClassSignature]:
    """The visual and audio signature of every class of ``spec`` (by its index in ``spec.classes``)."""
    n = len(spec.classes)
    lo, hi = _mel(_MIN_FREQ), _mel(_MAX_FREQ)
    out = {}
    for i, name in enumerate(spec.classes):
        r, g, b = colorsys.hsv_to_rgb(i / n, 1.0, 1.0)
        shape, motion = _look(i, n)
        mel = (lo + hi) / 2 if n == 1 else lo + (hi - lo) * i / (n - 1)
        out[name] = ClassSignature(
            name=name,
            colour=(int(round(r * 255)), int(round(g * 255)), int(round(b * 255))),
            shape=shape,
            motion=motion,
            base_freq=round(_inv_mel(mel), 3),
            pattern=PATTERNS[i % len(PATTERNS)],
        )
    return out
