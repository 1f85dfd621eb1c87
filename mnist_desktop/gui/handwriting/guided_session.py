"""A guided session: ask for every digit a few times, each round in a new random order."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class GuidedSession:
    """The prompts of one session and how far the person got (plain data, no Qt)."""

    times: int
    queue: list[tuple[int, int]] = field(default_factory=list)  # (digit, round)
    pos: int = 0
    added: int = 0
    skipped: int = 0

    @classmethod
    def start(cls, times: int, seed: int | None = None) -> "GuidedSession":
        rng = random.Random(seed)
        queue: list[tuple[int, int]] = []
        for round_ in range(1, times + 1):
            digits = list(range(10))
            rng.shuffle(digits)
            queue += [(d, round_) for d in digits]
        return cls(times=times, queue=queue)

    def current(self) -> tuple[int, int]:
        """(digit, round) asked for now."""
        return self.queue[self.pos]

    def advance(self) -> bool:
        """Go to the next prompt; True when the session is over."""
        self.pos += 1
        return self.pos >= len(self.queue)
