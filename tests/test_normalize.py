"""Column recognition, the three input shapes, type parsing and its error messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import schema as S
from analysis.errors import AnalysisError
from analysis.normalize import ORDER_IS_CUSTOMER_DAY, detect_mapping, normalize, parse_mapping_args

UCI = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
RETAIL_II = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]


def test_detects_uci_layout():
    assert detect_mapping(UCI) == {
        S.ORDER_ID: "InvoiceNo", S.CUSTOMER_ID: "CustomerID", S.ORDER_DATE: "InvoiceDate",
        S.QUANTITY: "Quantity", S.UNIT_PRICE: "UnitPrice", S.PRODUCT_ID: "StockCode",
        S.DESCRIPTION: "Description", S.COUNTRY: "Country",
    }


def test_detects_online_retail_ii_layout():
    mapping = detect_mapping(RETAIL_II)
    assert mapping[S.ORDER_ID] == "Invoice"
    assert mapping[S.UNIT_PRICE] == "Price"
    assert mapping[S.CUSTOMER_ID] == "Customer ID"


def test_detects_generic_names():
    mapping = detect_mapping(["order id", "Customer_Id", "Order Date", "qty", "unit price", "Revenue"])
    assert mapping == {S.ORDER_ID: "order id", S.CUSTOMER_ID: "Customer_Id", S.ORDER_DATE: "Order Date",
                       S.QUANTITY: "qty", S.UNIT_PRICE: "unit price", S.AMOUNT: "Revenue"}


def _uci_frame():
    return pd.DataFrame({
        "InvoiceNo": ["536365", "536365", "C536379"],
        "StockCode": ["85123A", "71053", "D"],
        "Description": ["  HEART ", "LANTERN", "Discount"],
        "Quantity": [6, 2, -1],
        "InvoiceDate": ["2010-12-01 08:26:00", "2010-12-01 08:26:00", "2010-12-01 09:41:00"],
        "UnitPrice": [2.55, 3.39, 27.5],
        "CustomerID": [17850.0, 17850.0, np.nan],
        "Country": ["United Kingdom"] * 3,
    })


def test_line_items_are_normalised():
    ds = normalize(_uci_frame(), source="uci.csv")
    f = ds.frame
    assert ds.shape == S.LINE_ITEMS
    assert list(f.columns) == list(S.TRANSACTION_ROLES)
    assert f[S.CUSTOMER_ID].tolist()[:2] == ["17850", "17850"]  # no ".0"
    assert pd.isna(f[S.CUSTOMER_ID].iloc[2])
    assert f[S.AMOUNT].round(2).tolist() == [15.3, 6.78, -27.5]
    assert f[S.DESCRIPTION].iloc[0] == "HEART"
    assert f[S.ORDER_DATE].iloc[2] == pd.Timestamp("2010-12-01 09:41")
    assert ds.info()["rows"] == 3


def test_amount_only_without_order_id_makes_customer_day_orders():
    raw = pd.DataFrame({
        "customer": ["a", "a", "a", "b"],
        "date": ["2024-03-01 09:00", "2024-03-01 17:00", "2024-03-02 10:00", "2024-03-01 12:00"],
        "total": ["£1,200.50", "10", "(5.00)", "7.25"],
    })
    ds = normalize(raw, source="orders.csv")
    assert ds.shape == S.ORDERS
    assert ORDER_IS_CUSTOMER_DAY in ds.notes
    assert ds.frame[S.ORDER_ID].tolist() == ["2024-03-01|a", "2024-03-01|a", "2024-03-02|a", "2024-03-01|b"]
    assert ds.frame[S.AMOUNT].tolist() == [1200.5, 10.0, -5.0, 7.25]
    assert ds.frame[S.QUANTITY].tolist() == [1.0, 1.0, -1.0, 1.0]  # a refund counts as a return


def test_explicit_mapping_overrides_guess():
    raw = pd.DataFrame({"Client": ["x", "y"], "CustomerID": ["wrong", "wrong"], "When": ["2024-01-01"] * 2,
                        "Paid": [1.0, 2.0]})
    ds = normalize(raw, mapping=parse_mapping_args(["customer_id=Client", "order_date=When", "amount=Paid"]))
    assert ds.frame[S.CUSTOMER_ID].tolist() == ["x", "y"]
    assert ds.mapping[S.CUSTOMER_ID] == "Client"


def test_mapping_to_unknown_column_lists_columns():
    raw = pd.DataFrame({"a": [1], "b": [2]})
    with pytest.raises(AnalysisError, match=r"Column 'zzz' \(given for customer_id\) is not in f.csv; its columns"
                                            r" are: a, b"):
        normalize(raw, mapping={"customer_id": "zzz"}, source="f.csv")


@pytest.mark.parametrize("pair", ["customer_id", "nonsense=col", "=col"])
def test_bad_mapping_args(pair):
    with pytest.raises(AnalysisError):
        parse_mapping_args([pair])


def test_missing_customer_column_is_named():
    raw = pd.DataFrame({"InvoiceNo": ["1"], "InvoiceDate": ["2024-01-01"], "Quantity": [1], "UnitPrice": [1.0]})
    with pytest.raises(AnalysisError, match="No customer id column found in f.csv; its columns are: InvoiceNo"):
        normalize(raw, source="f.csv")


def test_missing_revenue_columns():
    raw = pd.DataFrame({"CustomerID": ["1"], "InvoiceDate": ["2024-01-01"], "Quantity": [1]})
    with pytest.raises(AnalysisError, match="has no revenue.*found: Quantity"):
        normalize(raw, source="f.csv")


def test_unparseable_dates_name_column_row_and_value():
    raw = _uci_frame()
    raw["InvoiceDate"] = ["2010-12-01 08:26", "yesterday", "not a date"]
    with pytest.raises(AnalysisError) as err:
        normalize(raw, source="uci.csv")
    assert "Column 'InvoiceDate' of uci.csv has 2 values that are not dates, first at data row 2: 'yesterday'" \
        in err.value.message
    assert (err.value.column, err.value.row) == ("InvoiceDate", 2)


@pytest.mark.parametrize("dates, expected", [
    (["12/1/2010 8:26", "12/13/2010 9:00"], ["2010-12-01 08:26", "2010-12-13 09:00"]),  # US, as in the UCI CSV
    (["13.12.2010", "01.12.2010"], ["2010-12-13", "2010-12-01"]),  # day first
    (["2010-12-01T08:26:00Z", "2010-12-02T10:00:00+01:00"], ["2010-12-01 08:26", "2010-12-02 09:00"]),
])
def test_date_formats(dates, expected):
    raw = pd.DataFrame({"CustomerID": ["1", "2"], "InvoiceDate": dates, "Amount": [1, 2]})
    ds = normalize(raw)
    assert ds.frame[S.ORDER_DATE].tolist() == [pd.Timestamp(x) for x in expected]


def test_non_numeric_amounts_name_row():
    raw = _uci_frame()
    raw["UnitPrice"] = ["2.55", "3.39", "free"]
    with pytest.raises(AnalysisError, match="Column 'UnitPrice' of uci.csv should hold numbers but has 1 "
                                            "non-numeric values, first at data row 3: 'free'"):
        normalize(raw, source="uci.csv")


def test_customer_level_file():
    raw = pd.DataFrame({"Customer_ID": [101, 102, 103], "Total_Spend": [10.0, 20.5, 30.0],
                        "City": ["A", "B", "A"], "Discount_Applied": ["TRUE", "FALSE", "TRUE"]})
    ds = normalize(raw, source="c.csv")
    assert ds.shape == S.CUSTOMERS
    assert ds.mapping == {S.CUSTOMER_ID: "Customer_ID", S.AMOUNT: "Total_Spend"}
    assert ds.frame[S.CUSTOMER_ID].tolist() == ["101", "102", "103"]
    assert ds.frame["Total_Spend"].tolist() == [10.0, 20.5, 30.0]
    assert ds.frame["Discount_Applied"].tolist() == [True, False, True]
    assert any("cannot be computed" in n for n in ds.notes)


def test_repeated_ids_without_dates_explain_the_choice():
    raw = pd.DataFrame({"CustomerID": ["a", "b", "a"], "Amount": [1, 2, 3]})
    with pytest.raises(AnalysisError, match="customer id 'a' in column 'CustomerID' appears on data rows 1 and 3"):
        normalize(raw, source="f.csv")
