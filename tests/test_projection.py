"""2-D projection: exact on a line, sign fixed, variance shares."""

import numpy as np
import pandas as pd
import pytest

from analysis.projection import project_2d


def test_points_on_a_line_project_onto_pc1():
    values = pd.DataFrame({"a": [-2.0, -1.0, 0.0, 1.0, 2.0], "b": [-4.0, -2.0, 0.0, 2.0, 4.0]},
                          index=list("vwxyz"))
    frame, explained = project_2d(values)
    assert list(frame.index) == list("vwxyz")
    # Distance along the line from the mean, signed so that the largest loading is positive.
    assert frame["pc1"].to_numpy() == pytest.approx(np.array([-2, -1, 0, 1, 2]) * np.sqrt(5))
    assert frame["pc2"].to_numpy() == pytest.approx(np.zeros(5), abs=1e-9)
    assert explained == pytest.approx([1.0, 0.0], abs=1e-9)


def test_single_feature():
    frame, explained = project_2d(pd.DataFrame({"a": [1.0, 2.0, 3.0]}))
    assert frame["pc1"].to_numpy() == pytest.approx([-1, 0, 1])
    assert (frame["pc2"] == 0).all() and explained == [1.0, 0.0]
