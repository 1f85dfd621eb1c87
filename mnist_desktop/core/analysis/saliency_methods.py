"""The saliency methods the app offers: names, integration steps, labels, the default.

Kept apart from :mod:`.insight` (which imports JAX) so the GUI can list the
methods before JAX has loaded; the worker, the analysis and the saliency view
all read :data:`DEFAULT_SALIENCY` from here, so there is one default.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SaliencyMethod:
    name: str
    # gradient evaluations per drawing: "integrated" samples the path from blank to the
    # drawing at 32 midpoints, so its attributions sum to within a few % of the score change (measured)
    steps: int
    label: str
    description: str


METHODS: tuple[SaliencyMethod, ...] = (
    SaliencyMethod(
        "integrated", 32, "Integrated gradients",
        "Integrated gradients (Sundararajan et al. 2017): the gradient averaged along the way from a blank "
        "input to your drawing, times the drawing. It lies on the ink, and the pixels' shares add up to how "
        "much the drawing raised the class's score over a blank one."),
    SaliencyMethod(
        "gradient", 1, "Plain gradient",
        "The gradient of the class score with respect to each pixel (Simonyan et al. 2013): how the score "
        "would change if that pixel's ink changed a little. Exact, but for a convnet with strided filters "
        "it looks like a speckled grid."),
)
SALIENCY_METHODS: dict[str, int] = {method.name: method.steps for method in METHODS}
DEFAULT_SALIENCY = METHODS[0].name  # integrated gradients: for the strided CNN the plain gradient is speckle


def check_method(method: str) -> None:
    if method not in SALIENCY_METHODS:
        raise ValueError(f"unknown saliency method {method!r}; choose one of {', '.join(SALIENCY_METHODS)}")
