"""Spectral relevance analysis (SpRAy): the strategies of one class, found in its maps.

Lapuschkin et al. (2019), "Unmasking Clever Hans predictors and assessing what machines really
learn", Nat. Commun. 10:1096. Each map of a class is made small (``map_size`` x ``map_size``) and
normalised to sum 1; a k-nearest-neighbour graph links similar maps; the eigenvalues of its
normalised Laplacian tell how many groups the maps fall into (the *eigengap*: a large jump after
the k-th eigenvalue means k clearly separate groups); k-means on the spectral embedding assigns
each map to one. The horse class of PASCAL VOC fell into a group whose maps sat on a copyright
tag in the lower-left corner: a *Clever Hans* strategy.

The graph, the embedding and the clustering are scikit-learn's
(:func:`sklearn.neighbors.kneighbors_graph`, :func:`sklearn.manifold.spectral_embedding`,
:class:`sklearn.cluster.KMeans`); the Laplacian is SciPy's. What a cluster means is for a person
to look at: it is a hypothesis about the model, not a proof.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csgraph, identity
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from skimage.transform import resize

__all__ = ["SprayResult", "affinity_graph", "choose_n_clusters", "exclusive_region",
           "laplacian_eigenvalues", "small_maps", "spray"]

#: Below this many maps the Laplacian's spectrum is computed densely.
_DENSE_BELOW = 1500


def small_maps(maps: np.ndarray, *, size: int) -> np.ndarray:
    """Maps resized to ``size`` x ``size`` (bilinear), clipped at 0 and normalised to sum 1.

    An all-zero (degenerate) map stays all zero. Returns float32 ``(N, size, size)``.

    Examples
    --------
    >>> m = small_maps(np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]]), size=4)
    >>> m.shape, float(m[0].sum()), float(m[1].sum()), bool(m[0, :, 0].sum() < m[0, :, 3].sum())
    ((2, 4, 4), 1.0, 0.0, True)
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (N, height, width); got shape {maps.shape}")
    out = np.empty((len(maps), size, size), np.float32)
    for i, m in enumerate(maps):
        out[i] = m if m.shape == (size, size) else resize(
            m, (size, size), order=1, mode="edge", anti_aliasing=False, preserve_range=True)
    np.clip(out, 0.0, None, out=out)
    totals = out.sum(axis=(1, 2), keepdims=True)
    np.divide(out, totals, out=out, where=totals > 0)
    return out


def affinity_graph(x: np.ndarray, *, n_neighbors: int):
    """The symmetric k-nearest-neighbour connectivity graph of the rows of ``x`` (sparse):
    1 where both are among each other's neighbours, 0.5 where one is."""
    from sklearn.neighbors import kneighbors_graph

    k = min(n_neighbors, len(x) - 1)
    graph = kneighbors_graph(x, n_neighbors=k, mode="connectivity", include_self=False)
    return 0.5 * (graph + graph.T)


def laplacian_eigenvalues(graph, *, k: int, seed: int) -> np.ndarray:
    """The ``k`` smallest eigenvalues of the graph's normalised Laplacian, ascending."""
    n = graph.shape[0]
    k = min(k, n)
    laplacian = csgraph.laplacian(graph, normed=True)
    if n < _DENSE_BELOW or k >= n - 1:
        values = np.linalg.eigvalsh(laplacian.toarray())[:k]
    else:
        # The largest eigenvalues of I - L are the smallest of L, and ARPACK finds the largest
        # fast; the starting vector is seeded so the result does not vary between runs.
        v0 = np.random.default_rng(seed).uniform(-1, 1, n)
        try:
            values = 1.0 - eigsh(identity(n) - laplacian, k=k, which="LA", v0=v0,
                                 tol=1e-6, return_eigenvectors=False)
        except ArpackNoConvergence as exc:  # keep what converged
            values = 1.0 - np.asarray(exc.eigenvalues)
    return np.sort(np.clip(np.real(values), 0.0, 2.0))


def choose_n_clusters(eigenvalues: np.ndarray, *, max_clusters: int) -> tuple[int, float]:
    """The number of clusters by the eigengap, and the gap.

    ``k`` clusters when the jump from the ``k``-th to the ``(k+1)``-th smallest eigenvalue
    (``eigenvalues[k] - eigenvalues[k - 1]``) is the largest for ``k`` in 1 .. max_clusters.

    Examples
    --------
    >>> choose_n_clusters(np.array([0.0, 0.01, 0.02, 0.6, 0.7]), max_clusters=4)
    (3, 0.58)
    >>> choose_n_clusters(np.array([0.0, 0.5, 0.6, 0.7]), max_clusters=3)
    (1, 0.5)
    """
    values = np.asarray(eigenvalues, dtype=np.float64)
    top = min(max_clusters, len(values) - 1)
    if top < 1:
        return 1, 0.0
    gaps = np.diff(values[:top + 1])
    k = int(np.argmax(gaps)) + 1
    return k, round(float(gaps[k - 1]), 12)


@dataclass(frozen=True)
class SprayResult:
    """One class's strategies.

    Attributes
    ----------
    labels : ndarray of int
        The cluster of each map (0 .. n_clusters - 1; clusters numbered by size, largest 0).
    n_clusters : int
    eigengap : float
        The jump in the Laplacian's spectrum that chose ``n_clusters``.
    eigenvalues : ndarray
        The smallest ``max_clusters + 1`` eigenvalues of the normalised Laplacian.
    embedding : ndarray
        ``(N, 2)``: the second and third spectral coordinates, for a plot.
    """

    labels: np.ndarray
    n_clusters: int
    eigengap: float
    eigenvalues: np.ndarray
    embedding: np.ndarray


def spray(maps: np.ndarray, *, max_clusters: int = 6, n_neighbors: int = 10,
          seed: int = 0) -> SprayResult:
    """Cluster one class's small normalised maps into strategies.

    Parameters
    ----------
    maps : ndarray
        ``(N, h, w)`` or ``(N, h * w)`` maps, each normalised to sum 1 (:func:`small_maps`).
    max_clusters : int
        The most clusters the eigengap may choose.
    n_neighbors : int
        Neighbours per map in the affinity graph (at most ``N - 1``).
    seed : int
        Seeds the spectral embedding, the eigen-solver's start and k-means.

    Returns
    -------
    SprayResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> left, right = np.zeros((20, 4, 4)), np.zeros((20, 4, 4))
    >>> left[:, :, 0], right[:, :, 3] = 1.0, 1.0
    >>> maps = small_maps(np.concatenate([left, right]) + rng.uniform(0, .1, (40, 4, 4)), size=4)
    >>> result = spray(maps, max_clusters=4, n_neighbors=5)
    >>> result.n_clusters, sorted(np.bincount(result.labels).tolist())
    (2, [20, 20])
    >>> bool((result.labels[:20] == result.labels[0]).all())
    True
    """
    from sklearn.cluster import KMeans
    from sklearn.manifold import spectral_embedding

    x = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    if len(x) < 3:
        raise ValueError(f"spray needs at least 3 maps; got {len(x)}")
    graph = affinity_graph(x, n_neighbors=n_neighbors)
    eigenvalues = laplacian_eigenvalues(graph, k=max_clusters + 1, seed=seed)
    n_clusters, gap = choose_n_clusters(eigenvalues, max_clusters=max_clusters)
    with warnings.catch_warnings():  # a disconnected graph is a finding here, not a problem
        warnings.simplefilter("ignore", UserWarning)
        embedding = spectral_embedding(graph, n_components=max(n_clusters, 3),
                                       drop_first=False, random_state=seed)
    if n_clusters == 1:
        labels = np.zeros(len(x), np.int64)
    else:
        labels = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(
            embedding[:, :n_clusters])
    # Number clusters by size, largest first (ties by first member), so names are stable.
    sizes = np.bincount(labels, minlength=n_clusters)
    first = np.array([np.flatnonzero(labels == c)[0] for c in range(n_clusters)])
    order = sorted(range(n_clusters), key=lambda c: (-sizes[c], first[c]))
    rename = np.empty(n_clusters, np.int64)
    rename[order] = np.arange(n_clusters)
    return SprayResult(labels=rename[labels], n_clusters=n_clusters, eigengap=gap,
                       eigenvalues=eigenvalues, embedding=embedding[:, 1:3].astype(np.float32))


def exclusive_region(mean_map: np.ndarray, others: np.ndarray, *,
                     ratio: float = 4.0) -> tuple[float, float]:
    """``(mass, area)``: the share of ``mean_map`` (sum 1) lying where ``others`` (a map of
    sum 1: the class's other clusters' mean) puts less than ``1 / ratio`` of its weight, where
    they do not look; and that region's share of the image. A corner tag has a large mass on
    a small area.

    Examples
    --------
    >>> tagged, centre = np.zeros((4, 4)), np.zeros((4, 4))
    >>> tagged[0, 0], tagged[1:3, 1:3], centre[1:3, 1:3] = 0.9, 0.025, 0.25
    >>> exclusive_region(tagged, centre)
    (0.9, 0.0625)
    >>> exclusive_region(centre, centre)
    (0.0, 0.0)
    """
    mean_map = np.asarray(mean_map, np.float64)
    others = np.asarray(others, np.float64)
    unused = others * ratio < mean_map
    return round(float(mean_map[unused].sum()), 12), round(float(unused.mean()), 12)
