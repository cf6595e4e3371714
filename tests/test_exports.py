"""CSV exports cannot run formulas in a spreadsheet."""

import pandas as pd

from analysis.exports import neutralise_formulas


def test_formula_cells_are_prefixed_and_numbers_untouched():
    frame = pd.DataFrame({
        "name": ['=HYPERLINK("http://evil","x")', "+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR", "plain", None],
        "value": [-1.5, 2, 3, 4, 5, 6, 7, 8],
    })
    out = neutralise_formulas(frame)
    assert out["name"].tolist()[:7] == ["'=HYPERLINK(\"http://evil\",\"x\")", "'+1", "'-2+3", "'@SUM(A1)",
                                        "'\tTab", "'\rCR", "plain"]
    assert pd.isna(out["name"].iloc[7])
    assert out["value"].tolist() == [-1.5, 2, 3, 4, 5, 6, 7, 8]
    assert frame["name"].iloc[0].startswith("=")  # the input is not modified
    csv = out.to_csv(index=False)
    assert "\n=" not in csv and ",=" not in csv


def test_column_names_are_neutralised():
    out = neutralise_formulas(pd.DataFrame({"=cmd": [1]}))
    assert list(out.columns) == ["'=cmd"]
