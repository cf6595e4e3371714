"""2-D projections of the clustering space, for scatter plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA


def project_2d(values: pd.DataFrame, *, random_state: int = 0) -> tuple[pd.DataFrame, list[float]]:
    """Principal components of the transformed feature matrix.

    Parameters
    ----------
    values : (n_customers, n_features) transformed (logged / scaled) features, indexed by customer.

    Returns
    -------
    (frame, explained): ``frame`` has columns ``pc1`` and ``pc2`` (same index; ``pc2`` is 0 when there is only
    one feature), ``explained`` the share of variance each component explains (0-1).
    """
    X = values.to_numpy(dtype=float)
    n_components = min(2, X.shape[1], X.shape[0])
    pca = PCA(n_components=n_components, random_state=random_state, svd_solver="auto")
    coords = pca.fit_transform(X)
    # Fix the sign of each axis (PCA's is arbitrary): the largest loading is positive.
    signs = np.sign(pca.components_[np.arange(n_components), np.abs(pca.components_).argmax(axis=1)])
    coords = coords * np.where(signs == 0, 1, signs)
    if n_components < 2:
        coords = np.column_stack([coords[:, 0], np.zeros(len(coords))])
    explained = [float(x) for x in pca.explained_variance_ratio_] + [0.0] * (2 - n_components)
    return pd.DataFrame(coords[:, :2], index=values.index, columns=["pc1", "pc2"]), explained
