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


# ---- customer-level column names ------------------------------------------------------------------------------


def test_customer_level_id_column_called_customer_id():
    raw = pd.DataFrame({"customer_id": ["1", "2", "3"], "total_spend": ["10", "20", "5"], "age": ["30", "40", "22"]})
    ds = normalize(raw, source="cid.csv")
    assert list(ds.frame.columns) == [S.CUSTOMER_ID, "total_spend", "age"]
    assert ds.frame[S.CUSTOMER_ID].tolist() == ["1", "2", "3"]
    assert ds.mapping == {S.CUSTOMER_ID: "customer_id", S.AMOUNT: "total_spend"}
    assert ds.frame["age"].tolist() == [30, 40, 22]


@pytest.mark.parametrize("name", ["customer_id", "segment", "segment_name", "rfm_segment"])
def test_customer_level_columns_named_like_results_are_renamed(name):
    raw = pd.DataFrame({"client": ["A", "B", "C"], "spend": [10.0, 20.0, 30.0], name: [1, 2, 1]})
    ds = normalize(raw, mapping={S.CUSTOMER_ID: "client"}, source="c.csv")
    assert list(ds.frame.columns) == [S.CUSTOMER_ID, "spend", f"{name}_in_file"]
    assert ds.frame[S.CUSTOMER_ID].tolist() == ["A", "B", "C"]
    assert ds.frame[f"{name}_in_file"].tolist() == [1, 2, 1]
    assert any(f"'{name}' is called '{name}_in_file'" in n for n in ds.notes)


def test_customer_level_text_numbers_use_the_decimal_convention():
    raw = pd.DataFrame({"Kunde": ["1", "2"], "Umsatz": ["1.234,50", "€ 20,00"], "Besuche": ["3", "4"],
                        "Stadt": ["Köln", "Bonn"]})
    raw.attrs["decimal"] = ","
    ds = normalize(raw, source="k.csv")
    assert ds.frame["Umsatz"].tolist() == [1234.5, 20.0]
    assert ds.frame["Besuche"].dtype == np.int64
    assert ds.frame["Stadt"].tolist() == ["Köln", "Bonn"]


# ---- ids -------------------------------------------------------------------------------------------------------


def test_ids_are_converted_value_by_value():
    raw = pd.DataFrame({"CustomerID": ["007", "17850.0", "12583.5", " 42 "], "InvoiceDate": ["2024-01-01"] * 4,
                        "Amount": ["1", "2", "3", "4"]})
    assert normalize(raw).frame[S.CUSTOMER_ID].tolist() == ["007", "17850", "12583.5", "42"]
    floats = raw.assign(CustomerID=[17850.0, 17850.0, 12583.5, np.nan])
    ids = normalize(floats).frame[S.CUSTOMER_ID]
    assert ids.tolist()[:3] == ["17850", "17850", "12583.5"]  # one odd id does not give every id a ".0"
    assert pd.isna(ids.iloc[3])


def test_leading_zeros_survive_a_csv(tmp_path):
    from analysis.pipeline import load_dataset

    path = tmp_path / "zeros.csv"
    path.write_text("customer,date,amount\n007,2024-01-01,5\n0042,2024-01-02,7\n", encoding="utf-8")
    assert load_dataset(path).frame[S.CUSTOMER_ID].tolist() == ["007", "0042"]


# ---- dates: day first or month first -----------------------------------------------------------------------------


def _orders(dates, **attrs):
    raw = pd.DataFrame({"customer": ["a", "b", "c"][: len(dates)], "date": dates, "amount": ["1"] * len(dates)})
    raw.attrs.update(attrs)
    return raw


def test_dotted_ambiguous_dates_are_read_day_first_and_say_so():
    ds = normalize(_orders(["05.01.2023", "06.01.2023", "05.02.2023"]), source="d.csv")
    assert ds.frame[S.ORDER_DATE].tolist() == [pd.Timestamp(x) for x in ("2023-01-05", "2023-01-06", "2023-02-05")]
    note = next(n for n in ds.notes if "day first or month first" in n)
    assert "column 'date'" in note and "read day first" in note and "'05.01.2023' is 05 January 2023" in note
    assert "--monthfirst" in note


def test_decimal_comma_files_read_ambiguous_dates_day_first():
    ds = normalize(_orders(["05/01/2023", "06/01/2023"], decimal=","), source="d.csv")
    assert ds.frame[S.ORDER_DATE].tolist() == [pd.Timestamp("2023-01-05"), pd.Timestamp("2023-01-06")]
    assert any("decimal commas" in n for n in ds.notes)


def test_ambiguous_slash_dates_stay_month_first_with_a_note():
    ds = normalize(_orders(["05/01/2023", "06/01/2023"]), source="d.csv")
    assert ds.frame[S.ORDER_DATE].tolist() == [pd.Timestamp("2023-05-01"), pd.Timestamp("2023-06-01")]
    assert any("read month first" in n and "--dayfirst" in n for n in ds.notes)


def test_dayfirst_override_and_unambiguous_columns_have_no_note():
    forced = normalize(_orders(["05.01.2023", "06.01.2023"]), dayfirst=False)
    assert forced.frame[S.ORDER_DATE].tolist() == [pd.Timestamp("2023-05-01"), pd.Timestamp("2023-06-01")]
    assert not any("day first or month first" in n for n in forced.notes)
    forced = normalize(_orders(["05/01/2023", "06/01/2023"]), dayfirst=True)
    assert forced.frame[S.ORDER_DATE].tolist() == [pd.Timestamp("2023-01-05"), pd.Timestamp("2023-01-06")]
    plain = normalize(_orders(["1/2/2023", "13/2/2023"]))  # 13 cannot be a month
    assert plain.frame[S.ORDER_DATE].tolist() == [pd.Timestamp("2023-02-01"), pd.Timestamp("2023-02-13")]
    assert not any("day first or month first" in n for n in plain.notes)
    with pytest.raises(AnalysisError, match="not dates read month first"):
        normalize(_orders(["1/2/2023", "13/2/2023"]), dayfirst=False)


def test_dayfirst_through_load_dataset(tmp_path):
    from analysis.pipeline import load_dataset

    path = tmp_path / "semi.csv"
    path.write_text("Kunde;Datum;Betrag;Bestellung\n1;05.01.2023;1.234,50;100\n2;06.01.2023;20,00;101\n"
                    "1;05.02.2023;15,50;102\n3;07.02.2023;7,5;103\n", encoding="utf-8")
    ds = load_dataset(path)
    assert ds.frame[S.ORDER_DATE].min() == pd.Timestamp("2023-01-05")
    assert ds.frame[S.AMOUNT].tolist() == [1234.5, 20.0, 15.5, 7.5]
    assert load_dataset(path, dayfirst=False).frame[S.ORDER_DATE].min() == pd.Timestamp("2023-05-01")


# ---- numbers -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decimal, values, expected", [
    (",", ["1.234,50", "€2,25", "€ 1.234.567,89", "(15,00)", "7,5", "1.500", "EUR 3,10"],
     [1234.5, 2.25, 1234567.89, -15.0, 7.5, 1500.0, 3.1]),
    (".", ["$1,234.50", "£20.00", "(15.00)", "€ 7.5", "1,000", "-3", "12.50 USD"],
     [1234.5, 20.0, -15.0, 7.5, 1000.0, -3.0, 12.5]),
])
def test_numbers_with_currency_and_thousands(decimal, values, expected):
    raw = pd.DataFrame({"customer": [str(i) for i in range(len(values))], "date": ["2024-01-01"] * len(values),
                        "amount": values})
    assert normalize(raw, decimal=decimal).frame[S.AMOUNT].tolist() == expected


def test_decimal_comma_tab_file_end_to_end(tmp_path):
    from analysis.pipeline import load_dataset

    path = tmp_path / "eu.tsv"
    path.write_text("customer\tdate\tamount\nA\t2023-01-05\t€1.500,00\nB\t2023-01-06\t€2,25\n", encoding="utf-8")
    assert load_dataset(path).frame[S.AMOUNT].tolist() == [1500.0, 2.25]


def test_true_false_text_is_not_an_amount():
    raw = pd.DataFrame({"customer": ["a", "b"], "date": ["2024-01-01"] * 2, "amount": ["TRUE", "FALSE"]})
    with pytest.raises(AnalysisError, match="holds true/false values, not numbers"):
        normalize(raw, source="b.csv")


# ---- explicit amount for line items ------------------------------------------------------------------------------


def test_explicit_amount_wins_over_quantity_times_price():
    raw = pd.DataFrame({"customer": ["A", "B"], "date": ["2023-01-05", "2023-01-06"], "quantity": ["2", "1"],
                        "price": ["10", "5"], "net_total": ["18", "5"]})
    ds = normalize(raw, mapping={S.AMOUNT: "net_total"}, source="e.csv")
    assert ds.shape == S.LINE_ITEMS
    assert ds.frame[S.AMOUNT].tolist() == [18.0, 5.0]
    assert ds.frame[S.QUANTITY].tolist() == [2.0, 1.0]
    assert ds.mapping[S.AMOUNT] == "net_total"
    assert any("'net_total' (mapped to amount)" in n for n in ds.notes)
    # A guessed amount column (here "total") is still ignored in favour of quantity x unit price.
    guessed = normalize(raw.rename(columns={"net_total": "total"}), source="e.csv")
    assert guessed.frame[S.AMOUNT].tolist() == [20.0, 5.0]
    assert S.AMOUNT not in guessed.mapping


# ---- messages ----------------------------------------------------------------------------------------------------


def test_no_customer_column_in_a_workbook_lists_the_sheets(tmp_path):
    from analysis.pipeline import load_dataset

    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="Notes", index=False)
        pd.DataFrame({"CustomerID": ["a"], "InvoiceDate": ["2024-01-01"], "Amount": [3.0]}).to_excel(
            writer, sheet_name="Data", index=False)
    with pytest.raises(AnalysisError) as err:
        load_dataset(path)
    assert "sheet 'Notes' of a workbook with the sheets 'Notes', 'Data'" in err.value.message
    assert "--sheet" in err.value.message
    assert load_dataset(path, sheet="Data").frame[S.AMOUNT].tolist() == [3.0]


def test_first_bad_skips_blank_text_only():
    from analysis.normalize import _first_bad

    text = pd.Series(["1", "  ", None, "x", "y"])
    parsed = pd.Series([1.0, np.nan, np.nan, np.nan, np.nan])
    assert _first_bad(text, parsed) == (2, 4, "x")
    numbers = pd.Series([1.0, np.nan, 3.0])
    assert _first_bad(numbers, pd.Series([1.0, np.nan, np.nan])) == (1, 3, 3.0)
