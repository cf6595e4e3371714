"""The polars fast path (analysis.polars_load / polars_clean / polars_features) against the pandas path.

Every case loads one file both ways: the fast path through ``pipeline.load_dataset -> prepare ->
build_features`` (which must really take it), the pandas path by calling ``loading.read_table``,
``normalize.normalize``, ``cleaning.clean_transactions`` and ``features.customer_features`` directly. The
datasets, clean tables, return lines, quality reports and all eight features must agree. Inputs the fast path
does not read are named below and must fall back with the same result or message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from analysis import pipeline
from analysis import schema as S
from analysis.cleaning import clean_transactions
from analysis.demo import generate_transactions, write_demo
from analysis.errors import AnalysisError
from analysis.features import customer_features
from analysis.loading import read_table
from analysis.normalize import normalize
from analysis.polars_load import PolarsDataset, as_strings, load_transactions, to_pandas

ALL_RULES_ON = {"duplicates": True, "non_product_codes": True, "cancelled_giant_orders": True}


def pandas_path(path: Path, *, mapping=None, dayfirst=None, rules=None):
    """(dataset, clean result, features) the way the product computed them before the fast path."""
    ds = normalize(read_table(path), mapping=mapping, source=path.name, dayfirst=dayfirst)
    return pandas_prepared(ds, rules=rules)


def pandas_prepared(ds, *, rules=None):
    result = clean_transactions(ds.frame, rules=rules)
    as_of = result.clean[S.ORDER_DATE].max().normalize() + pd.Timedelta(days=1)
    feats = customer_features(result.clean, as_of=as_of, features=feature_names(ds), returns=result.returns)
    return ds, result, feats


def fast_path(path: Path, *, mapping=None, dayfirst=None, rules=None):
    ds = pipeline.load_dataset(path, mapping=mapping, dayfirst=dayfirst)
    assert isinstance(ds, PolarsDataset), "the fast path did not take this file"
    prepared = pipeline.prepare(ds, rules=rules)
    assert prepared.frame is not None, "prepare did not clean in polars"
    return ds, prepared, pipeline.build_features(prepared, feature_names(ds))


def feature_names(ds) -> list[str]:
    """Every feature (distinct_products only when there are products)."""
    return [f for f in S.FEATURES if f != S.DISTINCT_PRODUCTS or S.PRODUCT_ID in ds.mapping]


def assert_same(fast, slow) -> None:
    ds, prepared, feats = fast
    ref, result, ref_feats = slow
    assert ds.info() == ref.info()
    pd.testing.assert_frame_equal(ds.frame, ref.frame, check_exact=True)
    pd.testing.assert_frame_equal(prepared.table, result.clean, check_exact=True)
    pd.testing.assert_frame_equal(prepared.returns, result.returns, check_exact=True)
    assert_same_report(prepared.quality, result.report)
    pd.testing.assert_frame_equal(feats, ref_feats, check_exact=False, rtol=1e-9, atol=0)


def assert_same_report(fast, slow) -> None:
    a, b = fast.to_dict(), slow.to_dict()
    assert (a["raw_rows"], a["clean_rows"], a["warnings"]) == (b["raw_rows"], b["clean_rows"], b["warnings"])
    assert a["raw_revenue"] == pytest.approx(b["raw_revenue"], abs=0.011)
    assert a["clean_revenue"] == pytest.approx(b["clean_revenue"], abs=0.011)
    for ra, rb in zip(a["rules"], b["rules"], strict=True):
        same = [k for k in ra if "revenue" not in k]
        assert [ra[k] for k in same] == [rb[k] for k in same]
        assert ra["revenue_matched"] == pytest.approx(rb["revenue_matched"], abs=0.011)
        assert ra["revenue_removed"] == pytest.approx(rb["revenue_removed"], abs=0.011)
    assert [(s["step"], s["rows"]) for s in a["bridge"]] == [(s["step"], s["rows"]) for s in b["bridge"]]
    assert [s["revenue"] for s in a["bridge"]] == pytest.approx([s["revenue"] for s in b["bridge"]], abs=0.011)


# ---- real data ------------------------------------------------------------------------------------------------


def test_online_retail_known_figures(online_retail_path):
    ds, prepared, feats = fast_path(online_retail_path)
    assert prepared.quality.raw_rows == 541_909
    assert prepared.quality.clean_rows == 397_884
    assert prepared.frame.height == 397_884
    assert prepared.frame[S.CUSTOMER_ID].n_unique() == 4_338
    assert prepared.frame[S.AMOUNT].sum() == pytest.approx(8_911_407.90, abs=0.005)
    assert len(feats) == 4_338
    assert feats[S.MONETARY].sum() == pytest.approx(8_911_407.90, abs=0.005)
    by_rule = {r.name: r for r in prepared.quality.rules}
    assert by_rule["duplicates"].rows_matched == 5_268
    assert by_rule["cancellations"].rows_matched == 9_288
    assert feats.loc["12346", S.FREQUENCY] == 1.0  # the 74,215-unit order, cancelled minutes later
    assert feats.loc["12346", S.RETURN_RATE] == 1.0


@pytest.mark.parametrize("rules", [None, ALL_RULES_ON], ids=["default-rules", "all-rules"])
def test_online_retail_equals_pandas_path(online_retail_path, rules):
    assert_same(fast_path(online_retail_path, rules=rules), pandas_path(online_retail_path, rules=rules))


def test_online_retail_csv_sample_equals_pandas_path(online_retail_path, tmp_path):
    sample = pd.read_parquet(online_retail_path).iloc[::20]
    path = tmp_path / "retail_sample.csv"
    sample.to_csv(path, index=False)
    fast = fast_path(path, rules=ALL_RULES_ON)
    assert fast[0].raw_rows == len(sample)
    assert_same(fast, pandas_path(path, rules=ALL_RULES_ON))


# ---- demo data -----------------------------------------------------------------------------------------------


def test_demo_dataset_equals_pandas_path():
    fast = pipeline.demo_dataset(30_000, seed=3)
    assert isinstance(fast, PolarsDataset)
    prepared = pipeline.prepare(fast)
    assert prepared.frame is not None
    ref = normalize(generate_transactions(30_000, seed=3).transactions, source="demo data (30,000 rows, seed 3)")
    assert_same((fast, prepared, pipeline.build_features(prepared, list(S.FEATURES))), pandas_prepared(ref))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_demo_files_equal_pandas_path(tmp_path, suffix):
    path, _ = write_demo(tmp_path / f"demo{suffix}", 40_000, seed=5)
    assert_same(fast_path(path, rules=ALL_RULES_ON), pandas_path(path, rules=ALL_RULES_ON))


# ---- text conventions ----------------------------------------------------------------------------------------

GERMAN = """Rechnungsnummer;Kunde;Datum;Qty;Price;SKU;Country
1001;K1;05.01.2023 10:00;2;12,50;A1;DE
1001;K1;05.01.2023 10:00;1;3,5;A2;DE
1002;K2;07.02.2023 11:30;4;0,99;A1;AT
C1003;K2;08.02.2023 09:00;-1;0,99;A1;AT
1004;007;10.03.2023 08:15;3;7;POST;DE
1005;K1;11.03.2023 16:45;1;-2,00;A3;DE
1006;;12.03.2023 12:00;5;1,25;A1;DE
"""


def test_decimal_comma_semicolon_dotted_dates(tmp_path):
    path = tmp_path / "bestellungen.csv"
    path.write_text(GERMAN, encoding="utf-8")
    fast = fast_path(path)
    ds, prepared, feats = fast
    assert ds.frame[S.UNIT_PRICE].tolist()[:3] == [12.5, 3.5, 0.99]
    assert ds.frame[S.ORDER_DATE].iloc[2] == pd.Timestamp("2023-02-07 11:30")  # read day first (dotted dates)
    assert any("day first" in n for n in ds.notes)
    assert ds.frame[S.CUSTOMER_ID].iloc[4] == "007"
    assert_same(fast, pandas_path(path))


@pytest.mark.parametrize("dayfirst", [None, True, False])
def test_slash_dates_both_readings(tmp_path, dayfirst):
    rows = ["order,customer,date,qty,price"] + [
        f"{i},c{i % 7},{d}/{m}/2023 10:{i % 60:02d},{1 + i % 3},{2.5 + i % 4}"
        for i, (d, m) in enumerate((d, m) for d in range(1, 13) for m in range(1, 13))
    ]
    path = tmp_path / "slashes.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    fast = fast_path(path, dayfirst=dayfirst)
    slow = pandas_path(path, dayfirst=dayfirst)
    assert_same(fast, slow)
    if dayfirst is None:
        assert any("month first" in n for n in fast[0].notes)  # comma file, slashes: month first, noted


def test_day_first_only_dates(tmp_path):
    rows = ["InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice"] + [
        f"{500 + i},{12000 + i % 5},{1 + i % 28}/{1 + i % 12}/2023,{1 + i % 4},1.5" for i in range(60)
    ]
    path = tmp_path / "dayfirst.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    fast = fast_path(path)
    assert fast[0].frame[S.ORDER_DATE].iloc[12] == pd.Timestamp("2023-01-13")
    assert_same(fast, pandas_path(path))


def test_orders_with_amounts_and_no_order_id(tmp_path):
    text = "customer,date,amount\nA,2023-01-05,10.5\nA,2023-01-05,4\nB,2023-01-06,-3\n,2023-01-07,8\nB,2023-02-01,0\n"
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8")
    fast = fast_path(path)
    assert fast[0].shape == S.ORDERS
    assert fast[0].frame[S.ORDER_ID].tolist()[:2] == ["2023-01-05|A", "2023-01-05|A"]
    assert_same(fast, pandas_path(path))


def test_explicit_amount_mapping_and_bom(tmp_path):
    text = "\ufeffInvoice,Customer ID,Date,Qty,Price,Total\n1,5,2023-01-05 10:00,2,3,7\n2,6,2023-01-06 11:00,1,4,4\n"
    path = tmp_path / "bom.csv"
    path.write_text(text, encoding="utf-8")
    fast = fast_path(path, mapping={"amount": "Total"})
    assert fast[0].frame[S.AMOUNT].tolist() == [7.0, 4.0]
    assert_same(fast, pandas_path(path, mapping={"amount": "Total"}))


def test_missing_value_words_are_missing(tmp_path):
    text = ("InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice,Country\n"
            "1,NA,2023-01-05,1,2,N/A\n2,7,2023-01-06,1,2,UK\n")
    path = tmp_path / "na.csv"
    path.write_text(text, encoding="utf-8")
    fast = fast_path(path)
    assert fast[0].frame[S.CUSTOMER_ID].isna().tolist() == [True, False]
    assert_same(fast, pandas_path(path))


def test_spaces_after_delimiters_in_numbers_and_text(tmp_path):
    path = tmp_path / "spaced.csv"
    path.write_text("InvoiceNo, CustomerID, InvoiceDate, Quantity, UnitPrice, Country\n"
                    "1, 7,2023-01-05 10:00, 2, 1.5,  UK\n2, 8.0,2023-01-06 10:00,1, 2, DE\n")
    fast = fast_path(path)
    assert fast[0].frame[S.CUSTOMER_ID].tolist() == ["7", "8"]
    assert_same(fast, pandas_path(path))


# ---- fall-backs ----------------------------------------------------------------------------------------------

BASIC = "InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice\n1,7,2023-01-05 10:00,2,1.5\n2,8,2023-01-06 10:00,1,2\n"


def _xlsx(path: Path) -> None:
    pd.read_csv(__import__("io").StringIO(BASIC)).to_excel(path, index=False)


FALLBACKS = {
    "xlsx": ("book.xlsx", _xlsx),
    "latin-1": ("latin.csv", lambda p: p.write_bytes(BASIC.replace("1,7", "1,J\xe9r\xf4me").encode("latin-1"))),
    "utf-16": ("utf16.csv", lambda p: p.write_bytes(BASIC.encode("utf-16"))),
    "white space": ("spaces.txt", lambda p: p.write_text(BASIC.replace(",", "  ").replace("  10:00", "T10:00"))),
    "blank lines": ("blank.csv", lambda p: p.write_text(BASIC.replace("\n2,", "\n\n2,"))),
    "space before a date": ("spaced.csv", lambda p: p.write_text(BASIC.replace(",2023-01-05", ", 2023-01-05"))),
    "space before a missing-value word": ("spaced_na.csv", lambda p: p.write_text(BASIC.replace("1,7,", "1, NA,"))),
    "currency and thousands": ("money.csv", lambda p: p.write_text(BASIC.replace(",1.5", ',"£1,234.50"'))),
    "decimal comma with thousands": (
        "tausend.csv",
        lambda p: p.write_text(BASIC.replace(",", ";").replace(";1.5", ";1.234,50").replace(";2\n", ";2,5\n"))),
    "customer-level file": ("customers.csv", lambda p: p.write_text("customer,spend\na,1\nb,2\n")),
    "categories that collide when stripped": ("cats.parquet", lambda p: pd.DataFrame({
        "InvoiceNo": pd.Categorical(["1", "1 "]), "CustomerID": [1.0, 2.0],
        "InvoiceDate": pd.to_datetime(["2023-01-05", "2023-01-06"]), "Quantity": [1, 2], "UnitPrice": [1.0, 2.0],
    }).to_parquet(p)),
}


@pytest.mark.parametrize("case", sorted(FALLBACKS))
def test_fallbacks_give_the_pandas_result(tmp_path, case):
    name, write = FALLBACKS[case]
    path = tmp_path / name
    write(path)
    assert load_transactions(path) is None
    ds = pipeline.load_dataset(path)
    assert not isinstance(ds, PolarsDataset)
    ref = normalize(read_table(path), source=path.name)
    assert ds.info() == ref.info()
    pd.testing.assert_frame_equal(ds.frame, ref.frame)


def test_online_retail_ecommerce_file_falls_back(ecommerce_path):
    assert load_transactions(ecommerce_path) is None
    assert pipeline.load_dataset(ecommerce_path).shape == S.CUSTOMERS


@pytest.mark.parametrize("text, message", [
    (BASIC.replace(",2,1.5", ",two,1.5"), "non-numeric values, first at data row 1: 'two'"),
    (BASIC.replace("2023-01-06 10:00", "someday"), "not dates"),
    (BASIC.replace("CustomerID", "Someone"), "No customer id column found"),
])
def test_errors_are_the_pandas_messages(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(AnalysisError) as fast:
        pipeline.load_dataset(path, name="upload.csv")
    assert message in fast.value.message
    with pytest.raises(AnalysisError) as slow:
        normalize(read_table(path), source="upload.csv")
    assert fast.value.message == slow.value.message


def test_nothing_left_after_cleaning_is_the_pandas_message(tmp_path):
    path = tmp_path / "returns.csv"
    path.write_text(BASIC.replace(",2,1.5", ",-2,1.5").replace(",1,2\n", ",-1,2\n"))
    with pytest.raises(AnalysisError) as fast:
        pipeline.prepare(pipeline.load_dataset(path))
    with pytest.raises(AnalysisError) as slow:
        clean_transactions(normalize(read_table(path), source=path.name).frame)
    assert fast.value.message == slow.value.message


def test_features_refused_like_pandas(tmp_path):
    """With the missing-customer rule off, a guest line reaches the features: both paths refuse it alike."""
    path = tmp_path / "guest.csv"
    path.write_text(BASIC.replace("1,7,", "1,,"))
    prepared = pipeline.prepare(pipeline.load_dataset(path), rules={"missing_customer_id": False})
    assert prepared.frame is not None
    with pytest.raises(AnalysisError, match="customer_id"):
        pipeline.build_features(prepared)


# ---- Prepared and the workers' stored copy -------------------------------------------------------------------


def test_prepared_keeps_polars_and_gives_pandas_on_demand(online_retail_path):
    prepared = pipeline.prepare(pipeline.load_dataset(online_retail_path))
    assert prepared._table is None  # nothing converted yet
    assert isinstance(prepared.frame, pl.DataFrame)
    assert prepared.frame.schema[S.ORDER_DATE] == pl.Datetime("ns")
    assert list(prepared.table.columns) == list(S.TRANSACTION_ROLES)
    assert prepared.table is prepared.table  # converted once


def test_stored_dataset_round_trip_takes_the_fast_path(online_retail_path, tmp_path):
    from workers import storage
    from workers.config import load_settings

    settings = load_settings({"SEGMENTS_DATA_DIR": str(tmp_path)})
    ds = pipeline.load_dataset(online_retail_path)
    ds_id = storage.store_dataset(settings, ds)
    again = storage.load_dataset(settings, ds_id, shape=ds.shape, mapping=ds.mapping, source=ds.source,
                                 notes=ds.notes, raw_rows=ds.raw_rows, raw_columns=ds.raw_columns)
    assert isinstance(again, PolarsDataset)
    assert again.pl_frame.equals(ds.pl_frame)
    a, b = pipeline.prepare(again), pipeline.prepare(ds)
    assert a.frame is not None and a.frame.equals(b.frame)
    np.testing.assert_array_equal(pipeline.build_features(a).to_numpy(), pipeline.build_features(b).to_numpy())
    assert pipeline.customer_count(a) == 4_338
    (tmp_path / "datasets" / f"{ds_id}.parquet").unlink()
    with pytest.raises(FileNotFoundError):
        storage.load_dataset(settings, ds_id, shape=ds.shape, mapping=ds.mapping, source=ds.source)


def test_stored_dataset_keeps_categories_and_its_id_is_the_same_in_another_process(tmp_path):
    """The ingest job stores a fast-path dataset from polars (text stays categorical, nothing is converted to
    pandas) under an id hashed from its text, not from categorical codes: another process storing the same file
    gets the same id, and a different file another id."""
    import subprocess
    import sys

    from workers import storage
    from workers.config import load_settings

    path, _ = write_demo(tmp_path / "demo.parquet", 5_000, seed=2)
    other, _ = write_demo(tmp_path / "other.parquet", 5_000, seed=3)
    settings = load_settings({"SEGMENTS_DATA_DIR": str(tmp_path / "data")})
    ds = pipeline.load_dataset(path)
    ds_id = storage.store_dataset(settings, ds)
    stored = pl.read_parquet(storage.dataset_path(settings, ds_id))
    assert stored.schema[S.CUSTOMER_ID] == pl.Categorical and stored.schema[S.ORDER_ID] == pl.Categorical
    assert as_strings(stored).equals(as_strings(ds.pl_frame))
    head = "import sys; from analysis import pipeline; from workers import storage; "
    code = "print(storage.dataset_id(pipeline.load_dataset(sys.argv[1])))"
    # in the second process the categories come in another order: the other file's values are seen first
    for program in (head + code, head + "first = pipeline.load_dataset(sys.argv[2]); " + code):
        out = subprocess.run([sys.executable, "-c", program, str(path), str(other)], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent.parent, check=True)
        assert out.stdout.strip() == ds_id
    assert storage.dataset_id(pipeline.load_dataset(other)) != ds_id


@pytest.mark.parametrize("rules", [None, ALL_RULES_ON], ids=["default-rules", "all-rules"])
def test_rule_masks_stored_at_ingest_give_the_same_cleaning(online_retail_path, tmp_path, rules):
    """The ingest job stores every rule's mask with the dataset; a later job cleaning the stored dataset reads
    them instead of computing them, with the same clean rows, returns and report (any rules on or off). Bits of
    another rule signature, or of another length, are ignored."""
    from analysis.polars_clean import RULE_BITS, clean_transactions, masks_from_bits, rule_masks
    from workers import storage
    from workers.config import load_settings

    settings = load_settings({"SEGMENTS_DATA_DIR": str(tmp_path)})
    ds = pipeline.load_dataset(online_retail_path)
    first = pipeline.prepare(ds)  # what the ingest job does
    bits = first.rule_bits
    assert bits.name == RULE_BITS and bits.dtype == pl.UInt16 and bits.len() == ds.pl_frame.height
    from_bits = masks_from_bits(bits)
    for name, mask in rule_masks(ds.pl_frame).items():
        assert from_bits[name].to_list() == mask.to_list(), name
    ds_id = storage.store_dataset(settings, ds, rule_bits=bits)
    meta = {"shape": ds.shape, "mapping": ds.mapping, "source": ds.source}
    again = storage.load_dataset(settings, ds_id, **meta)
    assert again.rule_bits is not None and again.rule_bits.equals(bits)
    assert RULE_BITS not in again.pl_frame.columns and again.pl_frame.columns == ds.pl_frame.columns
    fresh, reused = pipeline.prepare(ds, rules=rules), pipeline.prepare(again, rules=rules)
    assert reused.frame.equals(fresh.frame) and reused.returns_frame.equals(fresh.returns_frame)
    assert reused.quality.to_dict() == fresh.quality.to_dict()
    assert reused.quality.clean_rows == (397_884 if rules is None else 391_148)
    # stale or foreign bits are not used: all zero bits would keep every row
    zeros = pl.Series(RULE_BITS, [0] * ds.pl_frame.height, dtype=pl.UInt16)
    assert clean_transactions(ds.pl_frame, bits=zeros).report.clean_rows == ds.pl_frame.height
    assert clean_transactions(ds.pl_frame, bits=zeros.head(10)).report.clean_rows == 397_884
    stale = ds.pl_frame.with_columns(zeros.alias("__rule_bits_000000000000"))
    path = storage.dataset_path(settings, "stale0000000000")
    path.parent.mkdir(parents=True, exist_ok=True)
    stale.write_parquet(path)
    old = storage.load_dataset(settings, "stale0000000000", **meta)
    assert old.rule_bits is None and old.pl_frame.columns == ds.pl_frame.columns
    assert pipeline.prepare(old).quality.clean_rows == 397_884


def test_describe_report_of_the_fast_path_equals_the_pandas_report(online_retail_path):
    """pipeline.describe on the fast path (polars describe on Prepared.frame) gives the report the pandas path
    gives: every key, every value (rel 1e-9), including the known figures of the real data."""
    from tests.test_polars_describe import assert_same_report as same

    _, prepared, _ = fast_path(online_retail_path)
    fast = pipeline.describe(prepared)
    slow = pipeline.describe(pipeline.Prepared(prepared.dataset, prepared.table, prepared.returns, prepared.quality,
                                               prepared.as_of, prepared.notes))
    same(slow, fast)
    assert fast["summary"]["customers"] == 4_338 and fast["summary"]["orders"] == 18_532
    assert fast["one_time_vs_repeat"]["one_time_customers"] == 1_493


@pytest.mark.parametrize("ids", ["categorical", "text"])
def test_duplicate_rows_are_found_exactly_with_either_row_key(ids):
    """polars_clean.duplicated keys rows by the order and product codes (categorical ids) or by a hash of the
    columns (text ids); either way only rows equal in every column, missing values included, are duplicates."""
    from analysis.polars_clean import duplicated

    text = pl.Categorical if ids == "categorical" else pl.String
    day = pd.Timestamp("2011-01-02 10:00")
    tx = pl.DataFrame({
        S.ORDER_ID: ["1", "1", "1", "2", None, None, "1"],
        S.CUSTOMER_ID: ["x", "x", "y", "x", "z", "z", "x"],  # row 2 differs from row 0 only here
        S.ORDER_DATE: [day] * 7,
        S.QUANTITY: [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0],  # row 6 differs from row 0 only here
        S.UNIT_PRICE: [2.5] * 7,
        S.AMOUNT: [2.5, 2.5, 2.5, 2.5, 5.0, 5.0, 7.5],
        S.PRODUCT_ID: ["a", "a", "a", "a", None, None, "a"],
        S.DESCRIPTION: ["d", "d", "d", "d", None, None, "d"],
    }).with_columns(pl.col(S.ORDER_ID, S.CUSTOMER_ID, S.PRODUCT_ID, S.DESCRIPTION).cast(text))
    assert duplicated(tx).to_list() == [False, True, False, False, False, True, False]
    expected = to_pandas(tx).duplicated(keep="first").to_list()
    assert duplicated(tx).to_list() == expected


def test_duplicate_rows_without_product_ids_are_keyed_by_every_column():
    """With no product ids the packed (order, product) key makes nearly every row a candidate; duplicated then
    keys the rows by a hash of every column instead, with the same answer as pandas."""
    from analysis.polars_clean import _candidates, _row_keys, duplicated

    n = 20_000
    quantity = np.arange(1.0, n + 1.0)
    quantity[[10, 11]] = quantity[9]  # rows 10 and 11 repeat row 9 in every column
    tx = pl.DataFrame({
        S.ORDER_ID: [str(i // 4) for i in range(n)],
        S.CUSTOMER_ID: [str(i // 40) for i in range(n)],
        S.ORDER_DATE: [pd.Timestamp("2011-01-02")] * n,
        S.QUANTITY: quantity, S.UNIT_PRICE: [1.0] * n, S.AMOUNT: quantity,
        S.PRODUCT_ID: [None] * n,
    }).with_columns(pl.col(S.ORDER_ID, S.CUSTOMER_ID).cast(pl.Categorical),
                    pl.col(S.PRODUCT_ID).cast(pl.String).cast(pl.Categorical))
    tx = tx.with_columns(pl.when(pl.int_range(n).is_in([9, 10, 11])).then(pl.lit("2").cast(pl.Categorical))
                         .otherwise(pl.col(S.ORDER_ID)).alias(S.ORDER_ID),
                         pl.when(pl.int_range(n).is_in([9, 10, 11])).then(pl.lit("0").cast(pl.Categorical))
                         .otherwise(pl.col(S.CUSTOMER_ID)).alias(S.CUSTOMER_ID))
    assert _candidates(_row_keys(tx)).sum() == n  # every order holds several rows: all are candidates
    found = duplicated(tx)
    assert found.arg_true().to_list() == [10, 11]
    assert found.to_list() == to_pandas(tx).duplicated(keep="first").to_list()


def test_unsigned_64_bit_customer_ids_take_the_fast_path(tmp_path):
    path = tmp_path / "uint64.parquet"
    n = 600
    pd.DataFrame({
        "InvoiceNo": [str(536365 + i // 3) for i in range(n)],
        "CustomerID": pd.array([2**63 + 5, 1] * (n // 2), dtype="uint64"),
        "InvoiceDate": pd.date_range("2011-01-01", periods=n, freq="h"),
        "Quantity": [2] * n, "UnitPrice": [1.5] * n,
    }).to_parquet(path)
    fast = load_transactions(path)
    assert fast is not None
    stored = pd.read_parquet(path)["CustomerID"]
    assert stored.max() >= 2**63
    assert fast.pl_frame[S.CUSTOMER_ID].cast(pl.String).to_list() == [str(v) for v in stored]
    slow = normalize(read_table(path), source=path.name)
    pd.testing.assert_frame_equal(fast.frame, slow.frame, check_exact=True)


def test_text_ending_in_a_separator_character_is_left_to_the_pandas_path(tmp_path):
    """Python's str.strip removes \\x1c-\\x1f, polars' strip does not: such a file is read by the pandas path."""
    path = tmp_path / "sep.csv"
    rows = ["InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID"]
    rows += [f"{536365 + i},c{i % 7}{chr(0x1f) if i == 550 else ''},2,2011-01-01 10:00:00,1.5,{17850 + i % 5}"
             for i in range(600)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert load_transactions(path) is None
    ds = pipeline.load_dataset(path)
    assert ds.frame[S.PRODUCT_ID].iloc[550] == "c4"


def test_rule_bits_are_used_only_under_their_name_and_forgotten_with_the_frame():
    from analysis.polars_clean import clean_transactions

    ds = pipeline.demo_dataset(3_000, seed=1)
    prepared = pipeline.prepare(ds)
    zeros = pl.Series("other_name", [0] * ds.pl_frame.height, dtype=pl.UInt16)
    assert clean_transactions(ds.pl_frame, bits=zeros).report.clean_rows == prepared.quality.clean_rows
    ds.rule_bits = prepared.rule_bits
    ds.pl_frame = ds.pl_frame.reverse()
    assert ds.rule_bits is None


def test_dataset_id_hashes_categories_as_their_text(online_retail_path):
    """storage._text_hash hashes each distinct category once and gathers by code: the same values as hashing the
    column cast to text (so the id does not depend on codes, and is the one the plain cast would give)."""
    from workers.storage import _text_hash

    frame = pipeline.load_dataset(online_retail_path).pl_frame
    assert frame[S.CUSTOMER_ID].dtype == pl.Categorical and frame[S.CUSTOMER_ID].null_count() == 135_080
    for name in frame.columns:
        column = frame[name]
        plain = column.cast(pl.String) if column.dtype == pl.Categorical else column
        assert _text_hash(column).equals(plain.hash(seed=0)), name


# rules -> (rows removed by missing customer id, cancellations, non-positive quantity, duplicates; clean revenue)
HAND_COUNTED = {
    "default": ({}, (2, 1, 0, 0), 34.0),
    "no-missing-customer": ({"missing_customer_id": False}, (0, 2, 0, 0), 37.0),
    "no-cancellations": ({"cancellations": False}, (2, 0, 1, 0), 34.0),
    "duplicates-after-quantity": ({"missing_customer_id": False, "cancellations": False, "duplicates": True},
                                  (0, 0, 2, 1), 25.0),
}


@pytest.mark.parametrize("case", sorted(HAND_COUNTED))
def test_rule_counts_from_bit_patterns_hand_computed(tmp_path, case):
    """Six lines, two of them matched by several rules: a row is removed by the first enabled rule that matches
    it and counted as matched by every rule; the removed rows, clean rows and revenue are hand-computed, and the
    report equals the pandas path's."""
    rules, removed, revenue = HAND_COUNTED[case]
    path = tmp_path / "six.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1001,A,Mug,2,2024-01-02 10:00:00,5.0,17,UK\n"  # 10.0
        "1002,B,Cup,1,2024-01-03 10:00:00,3.0,,UK\n"  # missing customer: 3.0
        "C1003,A,Mug,-1,2024-01-04 10:00:00,5.0,,UK\n"  # missing customer, cancellation, quantity: -5.0
        "C1004,B,Cup,-2,2024-01-05 10:00:00,3.0,18,UK\n"  # cancellation, quantity: -6.0
        "1005,B,Cup,4,2024-01-06 10:00:00,3.0,18,UK\n"  # 12.0
        "1005,B,Cup,4,2024-01-06 10:00:00,3.0,18,UK\n"  # duplicate of the line above: 12.0
    )
    ds = pipeline.load_dataset(path)
    assert isinstance(ds, PolarsDataset)
    quality = pipeline.prepare(ds, rules=rules).quality
    report = {r.name: r for r in quality.rules}
    matched = {"missing_customer_id": 2, "cancellations": 2, "non_positive_quantity": 2, "duplicates": 1}
    assert {n: report[n].rows_matched for n in matched} == matched
    assert report["missing_customer_id"].revenue_matched == pytest.approx(-2.0)
    assert tuple(report[n].rows_removed for n in matched) == removed
    assert quality.clean_rows == quality.bridge[-1]["rows"] == 6 - sum(removed)
    assert quality.clean_revenue == pytest.approx(revenue)
    assert_same_report(quality, clean_transactions(normalize(read_table(path), source=path.name).frame,
                                                   rules=rules).report)
