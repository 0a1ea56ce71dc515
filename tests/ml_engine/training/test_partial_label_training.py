from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.labels import candidate_sets
from ml_engine.training import TrainConfig
from ml_engine.training.partial_label import initial_confidence, revise_confidence, train_partial_label


def test_initial_confidence_from_votes_inside_the_candidates() -> None:
    votes = np.array([[4, 0, 0, 1, 3, 2, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0], [0] * 8])
    candidates = candidate_sets(votes, k=2)
    confidence = initial_confidence(candidates, votes)
    np.testing.assert_allclose(confidence[0], [4 / 9, 0, 0, 0, 3 / 9, 2 / 9, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(confidence[1], [0.5, 0.5, 0, 0, 0, 0, 0, 0])
    assert not confidence[2].any()  # no candidate: no target
    np.testing.assert_allclose(
        initial_confidence(candidates)[0], [1 / 3, 0, 0, 0, 1 / 3, 1 / 3, 0, 0], rtol=1e-6
    )
    # candidates that got no vote (given by the caller) start uniform over the set
    np.testing.assert_allclose(
        initial_confidence(np.array([[True, True, False]]), np.array([[0, 0, 5]])), [[0.5, 0.5, 0]]
    )


def test_revision_step_by_hand() -> None:
    confidence = torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    probabilities = torch.tensor([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]])
    candidates = torch.tensor([[1, 1, 0], [1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.bool)
    # row 0: phi*C = (.3, .15, 0), gap .15 <= .2 -> RC update (.6, .3)/.9
    # row 1: same with threshold .1 is tested below; row 2: mass outside Y is ignored
    # row 3: a singleton set stays itself even when the model disagrees
    revised = revise_confidence(confidence, probabilities, candidates, threshold=0.2)
    expected = torch.tensor([[2 / 3, 1 / 3, 0], [2 / 3, 1 / 3, 0], [0.5, 0.5, 0], [0, 0, 1]])
    torch.testing.assert_close(revised, expected)
    decided = revise_confidence(confidence[:1], probabilities[:1], candidates[:1], threshold=0.1)
    torch.testing.assert_close(decided, torch.tensor([[1.0, 0.0, 0.0]]))


def test_revised_confidence_stays_a_distribution_inside_the_candidates() -> None:
    generator = torch.Generator().manual_seed(0)
    candidates = torch.rand(64, 7, generator=generator) < 0.4
    candidates[torch.arange(64), torch.randint(0, 7, (64,), generator=generator)] = True
    confidence = torch.as_tensor(initial_confidence(candidates.numpy()))
    for threshold in (0.0, 0.05, 0.3, 0.99):
        probabilities = torch.randn(64, 7, generator=generator).mul(3).softmax(dim=1)
        confidence = revise_confidence(confidence, probabilities, candidates, threshold)
        torch.testing.assert_close(confidence.sum(dim=1), torch.ones(64))
        assert not confidence[~candidates].any()
        assert (confidence >= 0).all()


def _ambiguous_faces(n: int = 48, seed: int = 0) -> tuple[FaceDataset, np.ndarray, np.ndarray]:
    """Three classes marked by a bright bar at one of three heights (flip-invariant); half the faces carry
    their true class plus a wrong one as candidates, with the wrong one voted as often."""
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % 3
    images = rng.integers(0, 60, (n, 16, 16)).astype(np.uint8)
    for index, label in enumerate(truth):
        images[index, 1 + 5 * label : 5 + 5 * label, 5:11] += 170
    votes = np.zeros((n, 3), dtype=np.int64)
    votes[np.arange(n), truth] = 5
    ambiguous = np.arange(n) % 2 == 0
    votes[np.flatnonzero(ambiguous), (truth[ambiguous] + 1) % 3] = 5
    faces = FaceDataset(
        ("a", "b", "c"), [f"f{i}" for i in range(n)], images, np.full(n, -1), np.array(["train"] * n)
    )
    return faces, votes, truth


def test_partial_label_training_disambiguates_and_loss_falls() -> None:
    faces, votes, truth = _ambiguous_faces()
    config = TrainConfig(
        model="small_cnn", model_kwargs={"width": 8}, image_size=16, epochs=4, batch_size=8, lr=0.05
    )
    candidates = candidate_sets(votes, k=1)
    result = train_partial_label(config, faces, candidates, votes=votes, threshold=0.3, warmup_epochs=1)
    losses = [record["train_loss"] for record in result.history]
    assert losses[-1] < losses[0]
    confidence = result.confidence
    np.testing.assert_allclose(confidence.sum(axis=1), 1.0, rtol=1e-5)
    assert not confidence[~candidates].any()
    ambiguous = np.arange(len(truth)) % 2 == 0
    # started at 50/50 between the true and the wrong class; revision moved it to the truth
    assert (confidence[ambiguous].argmax(axis=1) == truth[ambiguous]).mean() >= 0.8
    assert result.history[0]["disambiguated"] == 0.0  # warm-up epoch: nothing revised yet
    # the share of two-candidate faces whose confidence is now one-hot, read off the returned confidence
    one_hot = confidence[ambiguous].max(axis=1) >= 1.0 - 1e-6
    assert one_hot.any() and result.metrics["disambiguated"] == pytest.approx(one_hot.mean())
    assert [record["epoch"] for record in result.history] == list(range(1, 5))


def test_rejects_mismatched_candidates() -> None:
    faces, votes, _ = _ambiguous_faces(n=6)
    with pytest.raises(ValueError):
        train_partial_label(TrainConfig(model="small_cnn"), faces, candidate_sets(votes)[:, :2])
