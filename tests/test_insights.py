import json

import numpy as np
import pandas as pd
import pytest

from analysis.insights import segment_advice
from analysis.segments import profile_segments


@pytest.fixture
def profiles():
    features = pd.DataFrame(
        {
            "recency_days": [10.0, 20.0, 200.0, 300.0, 45.0, 250.0],
            "frequency": [5.0, 3.0, 1.0, 1.0, 4.0, 1.0],
            "monetary": [500.0, 300.0, 50.0, 70.0, 1000.0, 30.0],
        },
        index=pd.Index(list("abcdef"), name="customer_id"),
    )
    return profile_segments(features, np.array([0, 0, 1, 1, 0, 2]))


def test_advice_quotes_name_and_numbers(profiles):
    advice = segment_advice(profiles, currency="£")
    assert set(advice) == {0, 1, 2}
    top = advice[0]
    assert set(top) == {"name", "headline", "advice", "kind"}
    assert top["name"] == "High-value loyal"
    # revenue share 1800 / 1950 = 92.3 %, customer share 3 / 6 = 50.0 %
    assert top["headline"] == "High-value loyal: 3 customers (50.0% of customers), 92.3% of revenue"
    text = top["advice"]
    assert text.startswith("High-value loyal is 3 customers, 50.0% of the customer base")
    assert "92.3% of revenue (£1,800.00)" in text
    assert "each customer is worth 1.8x an average customer" in text  # 0.923 / 0.5
    # medians: 20 days (overall 122.5), 4 orders (overall 2), £500.00 (overall £185.00)
    assert "last ordered 20 days ago (all customers: 122.5)" in text
    assert "placed 4 orders (all customers: 2)" in text
    assert "spent £500.00 (all customers: £185.00)" in text
    assert "VIP" in text


def test_lapsed_segments_get_win_back(profiles):
    advice = segment_advice(profiles)
    for seg in (1, 2):
        a = advice[seg]
        assert a["name"].startswith("Lapsed one-time")
        assert a["name"] in a["advice"]
        assert "reactivation" in a["advice"] and "VIP" not in a["advice"]
        assert "placed 1 order (" in a["advice"]
    # 120 / 1950 = 6.2 %, without a currency symbol
    assert "6.2% of revenue (120.00)" in advice[1]["advice"]
    assert "below their weight in revenue" in advice[1]["advice"]


def test_currency_code_goes_after_amount(profiles):
    text = segment_advice(profiles, currency="EUR")[0]["advice"]
    assert "1,800.00 EUR" in text


def test_generic_features_advice():
    features = pd.DataFrame(
        {
            "Total_Spend": [1000.0, 1100.0, 300.0, 200.0],
            "Days_Since_Last_Purchase": [10, 12, 60, 70],
            "Average_Rating": [4.8, 4.6, 3.0, 3.2],
        }
    )
    p = profile_segments(features, [0, 0, 1, 1], monetary_col="Total_Spend")
    advice = segment_advice(p, currency="$")
    best, worst = advice[0], advice[1]
    assert best["kind"] == "generic"
    assert best["name"] in best["advice"]
    # 2100 / 2600 = 80.8 % of revenue
    assert "80.8% of revenue" in best["headline"] and "80.8% of revenue" in best["advice"]
    assert "spent $1,050.00 (all customers: $650.00)" in best["advice"]
    assert "VIP" in best["advice"]
    assert "19.2% of revenue" in worst["advice"]
    assert "win-back" not in best["advice"]
    assert "reactivation" in worst["advice"]  # low spend and long since the last purchase
    assert "feedback" in worst["advice"]  # low rating
    json.dumps(advice)


def test_generic_without_revenue():
    features = pd.DataFrame({"Age": [20.0, 22.0, 60.0, 64.0], "Visits": [1.0, 2.0, 9.0, 8.0]})
    p = profile_segments(features, [0, 0, 1, 1])
    advice = segment_advice(p)
    assert "revenue" not in advice[0]["headline"]
    assert advice[0]["headline"] == f"{p.names[0]}: 2 customers (50.0% of customers)"
    assert "Age" in advice[0]["advice"]
    # means 21 vs 41.5 overall are quoted for the distinctive features
    assert "average 21 vs 41.5 overall" in advice[0]["advice"]
    # "Visits" reads as purchase volume: low for segment 0, high for segment 1
    assert "They are below average on Visits" in advice[0]["advice"]
    assert "They are above average on Visits" in advice[1]["advice"]
