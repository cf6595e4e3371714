"""Cleaning rules: each rule on a hand-made table, the bridge, and the real data's known figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import schema as S
from analysis.cleaning import DEFAULT_RULES, RULE_NAMES, cancelled_giant_purchases, clean_transactions
from analysis.errors import AnalysisError


def _tx():
    rows = [
        # order, customer, date, qty, price, product, description
        ("1", "a", "2024-01-01 10:00", 2, 5.0, "P1", "cup"),          # 0 kept: 10
        ("1", "a", "2024-01-01 10:00", 2, 5.0, "P1", "cup"),          # 1 exact duplicate of 0: 10
        ("2", None, "2024-01-02 11:00", 1, 7.0, "P2", "plate"),       # 2 no customer: 7
        ("C3", "a", "2024-01-03 12:00", -1, 5.0, "P1", "cup"),        # 3 cancellation: -5
        ("A4", None, "2024-01-04 12:00", 1, -100.0, "B", "Adjust bad debt"),  # 4 bad debt: -100
        ("5", "b", "2024-01-05 09:00", 0, 3.0, "P3", "bowl"),         # 5 zero quantity: 0
        ("6", "b", "2024-01-06 09:00", 3, 0.0, "P3", "bowl"),         # 6 zero price: 0
        ("7", "b", "2024-01-07 09:00", 1, 12.0, "POST", "POSTAGE"),  # 7 postage: 12
        ("8", "c", "2024-01-08 09:00", 20000, 1.0, "P4", "giant"),    # 8 giant, cancelled below: 20000
        ("C9", "c", "2024-01-08 09:05", -20000, 1.0, "P4", "giant"),  # 9 its cancellation: -20000
        ("10", "d", "2024-01-09 09:00", 30000, 1.0, "P4", "giant"),   # 10 giant, never cancelled: 30000
    ]
    frame = pd.DataFrame(rows, columns=[S.ORDER_ID, S.CUSTOMER_ID, "d", S.QUANTITY, S.UNIT_PRICE, S.PRODUCT_ID,
                                        S.DESCRIPTION])
    frame[S.ORDER_DATE] = pd.to_datetime(frame.pop("d"))
    frame[S.QUANTITY] = frame[S.QUANTITY].astype(float)
    frame[S.AMOUNT] = frame[S.QUANTITY] * frame[S.UNIT_PRICE]
    for col in (S.ORDER_ID, S.CUSTOMER_ID, S.PRODUCT_ID, S.DESCRIPTION):
        frame[col] = frame[col].astype("str").where(frame[col].notna())
    return frame


def _by_name(report):
    return {r.name: r for r in report.rules}


def test_default_rules_counts_and_bridge():
    result = clean_transactions(_tx())
    rules = _by_name(result.report)
    assert result.report.raw_rows == 11
    assert result.report.raw_revenue == pytest.approx(10 + 10 + 7 - 5 - 100 + 0 + 0 + 12 + 20000 - 20000 + 30000)
    assert (rules["missing_customer_id"].rows_removed, rules["missing_customer_id"].revenue_removed) == (2, -93.0)
    assert (rules["cancellations"].rows_removed, rules["cancellations"].revenue_removed) == (2, -20005.0)
    assert rules["bad_debt"].rows_matched == 1 and rules["bad_debt"].rows_removed == 0  # already gone (no id)
    assert rules["non_positive_quantity"].rows_removed == 1
    assert rules["non_positive_price"].rows_removed == 1
    # Switched-off rules are counted but remove nothing.
    assert (rules["duplicates"].rows_matched, rules["duplicates"].rows_removed) == (1, 0)
    assert (rules["non_product_codes"].rows_matched, rules["non_product_codes"].revenue_matched) == (2, -88.0)
    assert (rules["cancelled_giant_orders"].rows_matched, rules["cancelled_giant_orders"].rows_removed) == (1, 0)
    assert result.report.clean_rows == 5  # rows 0, 1, 7, 8, 10
    assert result.report.clean_revenue == pytest.approx(10 + 10 + 12 + 20000 + 30000)
    bridge = result.report.bridge
    assert bridge[0] == {"step": "Raw data", "rows": 11, "revenue": 29934.0}
    assert bridge[-1]["rows"] == 5 and bridge[-1]["revenue"] == 50032.0
    assert len(bridge) == 1 + sum(DEFAULT_RULES.values())
    assert any("cancelled later" in w for w in result.report.warnings)
    # Returns for the return-rate feature: the customer's cancellation and zero-quantity lines.
    assert sorted(result.returns[S.CUSTOMER_ID]) == ["a", "b", "c"]


def test_all_rules_on():
    result = clean_transactions(_tx(), rules={name: True for name in RULE_NAMES})
    assert result.clean[S.ORDER_ID].tolist() == ["1", "10"]
    assert result.report.clean_revenue == 30010.0


def test_giant_purchase_needs_a_matching_later_cancellation():
    mask = cancelled_giant_purchases(_tx(), min_quantity=10_000)
    assert np.flatnonzero(mask).tolist() == [8]


def test_unknown_rule_is_named():
    with pytest.raises(AnalysisError, match="Unknown cleaning rule 'nope'"):
        clean_transactions(_tx(), rules={"nope": True})


def test_nothing_left_is_an_error():
    tx = _tx().iloc[[2, 4]]
    with pytest.raises(AnalysisError, match="No rows are left after cleaning"):
        clean_transactions(tx)


def test_missing_values_rule_drops_infinite_amounts():
    tx = _tx()
    tx.loc[0, S.AMOUNT] = np.inf
    result = clean_transactions(tx)
    assert _by_name(result.report)["missing_values"].rows_removed == 1
    assert np.isfinite(result.report.raw_revenue)


def test_real_data_default_rules(online_retail_prepared):
    report = online_retail_prepared.quality
    clean = online_retail_prepared.table
    assert report.raw_rows == 541_909
    assert round(report.raw_revenue, 2) == 9_747_747.93
    assert report.clean_rows == 397_884
    assert round(report.clean_revenue, 2) == 8_911_407.90
    assert clean[S.CUSTOMER_ID].nunique() == 4_338
    assert clean[S.ORDER_ID].nunique() == 18_532
    rules = _by_name(report)
    assert rules["missing_customer_id"].rows_matched == 135_080
    assert rules["cancellations"].rows_matched == 9_288
    assert rules["non_positive_quantity"].rows_matched == 10_624
    assert rules["duplicates"].rows_matched == 5_268
    assert rules["cancelled_giant_orders"].rows_matched == 2
    assert rules["bad_debt"].rows_matched == 3


def test_real_data_without_duplicates(online_retail_prepared):
    result = clean_transactions(online_retail_prepared.dataset.frame, rules={"duplicates": True})
    assert result.report.clean_rows == 392_692
    assert round(result.report.clean_revenue, 2) == 8_887_208.89


def test_real_data_giant_orders_belong_to_the_known_buyers(online_retail_prepared):
    tx = online_retail_prepared.dataset.frame
    mask = cancelled_giant_purchases(tx)
    assert sorted(tx.loc[mask, S.CUSTOMER_ID]) == ["12346", "16446"]
    assert sorted(tx.loc[mask, S.QUANTITY]) == [74215.0, 80995.0]


def test_prefix_rules_need_a_letter_then_digits():
    tx = _tx().iloc[[0] * 9].reset_index(drop=True)
    # Mostly numeric order ids, as in UCI Online Retail: there a C or A prefix marks a cancellation or adjustment.
    tx[S.ORDER_ID] = ["C536379", "CA-2016-152156", "2024-01-01|Cust9", "a563185", "536365", "536366", "536367",
                      "536368", "536369"]
    result = clean_transactions(tx, rules={"duplicates": False})
    rules = _by_name(result.report)
    assert rules["cancellations"].rows_matched == 1
    assert rules["bad_debt"].rows_matched == 1


def test_prefix_rules_ignore_ids_that_merely_start_with_letters():
    tx = _tx().iloc[[0, 0, 0, 0]].reset_index(drop=True)
    tx[S.ORDER_ID] = ["A1001", "B1002", "A1003", "C1004"]  # a shop's own numbering, all positive
    result = clean_transactions(tx)
    rules = _by_name(result.report)
    assert (rules["bad_debt"].rows_matched, rules["cancellations"].rows_matched) == (0, 0)
    assert result.report.clean_rows == 4


def test_c_lines_with_negative_quantities_are_cancellations_whatever_the_ids():
    tx = _tx().iloc[[3, 3, 0]].reset_index(drop=True)  # C3 lines (quantity -1) and one purchase
    tx[S.ORDER_ID] = ["C1", "C2", "X3"]
    rules = _by_name(clean_transactions(tx).report)
    assert rules["cancellations"].rows_matched == 2


def test_returns_are_only_lines_the_cleaning_removes():
    # With cancellations and returns kept in the clean data they already lower the customer's spend; counting
    # them as returns as well counted them twice in the return rate.
    kept = clean_transactions(_tx(), rules={"cancellations": False, "non_positive_quantity": False})
    assert "C3" in set(kept.clean[S.ORDER_ID])
    assert kept.returns.empty
    only_quantity = clean_transactions(_tx(), rules={"cancellations": False})
    assert sorted(only_quantity.returns[S.CUSTOMER_ID]) == ["a", "b", "c"]  # removed as non-positive quantity
