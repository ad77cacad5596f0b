"""Near-duplicate questions grouped by embedding similarity, for the moderators' report.

Greedy centroid clustering: distinct phrasings (after folding case, spacing and end punctuation)
are taken most frequent first; each joins the group whose centroid it is closest to when that
cosine reaches `threshold`, else starts a new group. The most frequent phrasing of a group is
its example. Deterministic for given vectors, O(phrasings × groups).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

Encode = Callable[[Sequence[str]], npt.NDArray[np.float32]]

# Measured with the bundled all-MiniLM-L6-v2 (French through its gloss): paraphrases of one
# question sit at 0.75-0.95, different questions on the same topic at 0.45-0.65.
DEFAULT_THRESHOLD = 0.72

_SPACE = re.compile(r"\s+")
_EDGE = re.compile(r"^[\s\"'«»“”‘’.,;:!?¿¡…-]+|[\s\"'«»“”‘’.,;:!?¿¡…-]+$")


def phrasing_key(text: str) -> str:
    """What two texts must share to count as the same phrasing."""
    return _EDGE.sub("", _SPACE.sub(" ", text.replace("’", "'")).casefold())


def group_similar(
    texts: Sequence[str], encode: Encode, threshold: float = DEFAULT_THRESHOLD
) -> list[list[int]]:
    """Indices of `texts` in groups of near-duplicates, largest group first.

    Each group lists its members' indices, those of its most frequent phrasing first.
    """
    if not texts:
        return []
    by_key: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        by_key.setdefault(phrasing_key(text), []).append(i)
    # Most frequent phrasings first (ties: first seen), so each group's seed is its best example.
    phrasings = sorted(by_key.values(), key=lambda members: (-len(members), members[0]))
    vectors = np.asarray(encode([texts[members[0]] for members in phrasings]), dtype=np.float32)
    sums: list[npt.NDArray[np.float32]] = []  # weighted sum of each group's vectors
    groups: list[list[int]] = []
    centroids = np.zeros((0, vectors.shape[1]), dtype=np.float32)
    for members, vector in zip(phrasings, vectors, strict=True):
        best = -1
        if len(groups):
            scores = centroids @ vector
            candidate = int(np.argmax(scores))
            if scores[candidate] >= threshold:
                best = candidate
        if best < 0:
            groups.append(list(members))
            sums.append(vector * len(members))
            centroids = np.vstack([centroids, vector[None, :]])
        else:
            groups[best].extend(members)
            sums[best] = sums[best] + vector * len(members)
            norm = float(np.linalg.norm(sums[best])) or 1.0
            centroids[best] = sums[best] / norm
    order = sorted(range(len(groups)), key=lambda g: (-len(groups[g]), groups[g][0]))
    return [groups[g] for g in order]
