"""Score fusion: each member's cosine mapped to a common scale, then averaged with equal weights.

A member's cosine c becomes z = (c - impostor mean) / impostor std, the constants fitted on LFW
View 1 pairsDevTest (core.vision.fusion_specs). The fused score is the mean of the members' z.
Because z is affine in c, the fused score of a query against a sample is one dot product of the
query's scaled, concatenated vectors with the sample's concatenated vectors, minus a constant: the
matcher keeps its single matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from core.base.records import GalleryMatrix


@dataclass(frozen=True)
class MemberScale:
    model_id: str
    dim: int
    impostor_mean: float
    impostor_std: float


@dataclass(frozen=True)
class ScoreScale:
    """Turns the members' cosines into one fused score (equal weights)."""

    members: tuple[MemberScale, ...]

    @property
    def weight(self) -> float:
        return 1.0 / len(self.members)

    @property
    def offset(self) -> float:
        return float(sum(self.weight * m.impostor_mean / m.impostor_std for m in self.members))

    @property
    def dim(self) -> int:
        return sum(m.dim for m in self.members)

    def fuse_cosines(self, cosines: Sequence[np.ndarray]) -> np.ndarray:
        """The fused score from each member's cosine (same order as `members`)."""
        return cast(
            np.ndarray,
            sum(
                self.weight * (np.asarray(c, np.float64) - m.impostor_mean) / m.impostor_std
                for m, c in zip(self.members, cosines)
            ),
        )

    def scale_queries(self, queries: np.ndarray) -> np.ndarray:
        """Concatenated query vectors scaled per block, so that q' . g - offset is the fused score."""
        factors = np.concatenate([np.full(m.dim, self.weight / m.impostor_std, np.float32) for m in self.members])
        return np.asarray(queries, np.float32) * factors


def fused_gallery(galleries: Sequence[GalleryMatrix], model_id: str) -> GalleryMatrix:
    """The members' galleries side by side, on the samples every member has a vector for."""
    common = galleries[0].sample_ids
    for gallery in galleries[1:]:
        common = np.intersect1d(common, gallery.sample_ids)
    blocks = []
    for gallery in galleries:
        rows = np.searchsorted(gallery.sample_ids, common)  # sample_ids come sorted from the store
        blocks.append(gallery.vectors[rows])
    first = galleries[0]
    rows = np.searchsorted(first.sample_ids, common)
    names = {pid: name for pid, name in first.names.items()}
    return GalleryMatrix(
        model_id=model_id,
        vectors=np.concatenate(blocks, axis=1).astype(np.float32),
        sample_ids=common.astype(np.int64),
        person_ids=first.person_ids[rows],
        names=names,
        derived=None if first.derived is None else first.derived[rows],
    )
