"""A guided session: ask for every digit a few times, 0 to 9 in order, round after round.

The order used to be shuffled per round; people then drew the digit they
expected rather than the one asked for and saved it under the wrong label. A
fixed order is predictable, and the prompt is shown large on the canvas itself.
"""

from __future__ import annotations

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
    def start(cls, times: int) -> "GuidedSession":
        queue = [(digit, round_) for round_ in range(1, times + 1) for digit in range(10)]
        return cls(times=times, queue=queue)

    def current(self) -> tuple[int, int]:
        """(digit, round) asked for now."""
        return self.queue[self.pos]

    def advance(self) -> bool:
        """Go to the next prompt; True when the session is over."""
        self.pos += 1
        return self.pos >= len(self.queue)
