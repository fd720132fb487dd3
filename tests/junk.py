"""Anti-copy junk in the seed's manner (shared/seed/report-raw.txt), for import tests.

What the seed shows: tokens of 1-2 printable ASCII characters (``x-``, ``F6``, ``]``,
``7``), a letter or digit often followed by punctuation or a digit, never two
letters; runs of 1-15 tokens separated by single spaces, before a line's text
(the last token glued to it: ``K一是``) and after it (the first token glued:
``。9 k&``), and whole junk lines between paragraphs. Glued tokens are single
characters. Where the text itself starts or ends with ASCII (``2021年``, ``5G``) the
run is kept one space apart, as the seed never glues junk to ASCII text.
"""

from __future__ import annotations

import random
import string

_FIRST = string.ascii_letters + string.digits + "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\""
_SECOND = string.digits + "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\""
# glued to Chinese text: the seed glues letters and brackets at the start...
_GLUED_START = string.ascii_letters + "{}[]|~`^\\"
# ... and digits and punctuation after the closing punctuation at the end
_GLUED_END = string.digits + "*#$^`~|\\"
RUN_MAX = 15  # the seed's longest run has 15 tokens


def token(rng: random.Random) -> str:
    first = rng.choice(_FIRST)
    if rng.random() < 0.3 or first.isdigit():  # the seed's digit tokens stand alone
        return first
    return first + rng.choice(_SECOND)


def run(rng: random.Random) -> str:
    return " ".join(token(rng) for _ in range(rng.randint(1, RUN_MAX)))


def _ascii(char: str) -> bool:
    return " " <= char <= "~"


def salt(text: str, seed: int, density: float) -> str:
    """The text with junk on about ``density`` of its line ends and as whole lines."""
    rng = random.Random(seed)
    out = []
    for line in text.splitlines():
        if not line.strip():
            out.append(line)
            continue
        if rng.random() < density / 3:
            out.append(run(rng))
        if rng.random() < density:
            if _ascii(line[0]):
                line = f"{run(rng)} {line}"
            else:
                line = f"{run(rng)} {rng.choice(_GLUED_START)}{line}"
        if rng.random() < density:
            if line[-1] in "。！？；”":
                line = f"{line}{rng.choice(_GLUED_END)} {run(rng)}"
            else:
                line = f"{line} {run(rng)}"
        out.append(line)
    if rng.random() < density:
        out.append(run(rng))
    return "\n".join(out) + "\n"
