"""BALD with MC dropout (Houlsby et al. 2011; Gal, Islam & Ghahramani 2017).

The score is the mutual information between the prediction and the model parameters,
estimated from ``T`` dropout samples: ``I = H[mean_t p_t] - mean_t H[p_t]``. It is large when
the samples disagree (epistemic uncertainty) and zero when they agree, however uncertain each
one is. The samples come from :func:`ml_engine.inference.predict` with
``mc_dropout_passes=T`` (T = 10 as in distil), which samples only the dropout modules and
leaves BatchNorm in eval mode; distil's ``model.train()`` instead sampled BatchNorm batch
statistics and changed its running averages (docs/reference-implementations.md §2.6).
"""

from __future__ import annotations

import numpy as np
import torch

from ml_engine.strategies.base import SelectionInputs, required, top_by_score

_CHUNK = 65_536


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -torch.xlogy(p, p).sum(dim=-1)


def mutual_information(mc_probabilities: np.ndarray) -> np.ndarray:
    """BALD score per face from ``(T, N, C)`` samples; ``xlogy`` keeps it finite at ``p = 0``.

    Computed in chunks of faces so the temporary ``T x chunk x C`` arrays stay small. Values
    are clipped at 0 (the estimate is non-negative up to rounding).
    """
    samples = np.asarray(mc_probabilities)
    scores = np.empty(samples.shape[1], dtype=np.float64)
    for start in range(0, samples.shape[1], _CHUNK):
        p = torch.as_tensor(samples[:, start : start + _CHUNK], dtype=torch.float64)
        information = _entropy(p.mean(dim=0)) - _entropy(p).mean(dim=0)
        scores[start : start + _CHUNK] = information.clamp_min(0.0).numpy()
    return scores


def select_bald(inputs: SelectionInputs, batch_size: int, seed: int) -> np.ndarray:
    """Highest mutual information first; ties go to the lower pool index (``seed`` is unused)."""
    mc_probabilities = required(inputs.mc_probabilities, "mc_probabilities")
    candidates = inputs.candidates()
    return top_by_score(mutual_information(mc_probabilities)[candidates], candidates, batch_size)
