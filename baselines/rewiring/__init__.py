"""Graph rewiring as PyG transforms, written from the papers: FoSR (spectral), SDRF (curvature)."""

from baselines.rewiring.fosr import FoSR
from baselines.rewiring.sdrf import SDRF, balanced_forman_curvature, code_curvature

__all__ = ["SDRF", "FoSR", "balanced_forman_curvature", "code_curvature"]
