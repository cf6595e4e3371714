"""Canonical column names ("roles") shared by every analysis module.

After loading and normalisation (``analysis.normalize``) a transactions table has these columns:

========== ============================ ==================================================
column     dtype                        meaning
========== ============================ ==================================================
order_id   string                       invoice / order id; a leading ``C`` marks a
                                        cancellation, ``A`` a bad-debt adjustment. When the
                                        file has no order id it is ``<YYYY-MM-DD>|<customer>``
customer_id string (may be missing)     customer id as text (``17850``, never ``17850.0``)
order_date datetime64 (naive)           time of the order
quantity   float64                      units on the line (1.0 when the file has amounts only)
unit_price float64                      price per unit, currency units (NaN for amount-only)
amount     float64                      line revenue = quantity x unit_price, or the file's amount
product_id string (optional)            stock code
description string (optional)           product description
country    string (optional)            customer country
========== ============================ ==================================================

A customer-level table (one row per customer) keeps its own column names, with the id column renamed to
``customer_id`` (another column called ``customer_id``, ``segment``, ``segment_name`` or ``rfm_segment``
becomes ``<name>_in_file``); the dataset's mapping names its spend column (role ``amount``), if it has one.
"""

from __future__ import annotations

ORDER_ID = "order_id"
CUSTOMER_ID = "customer_id"
ORDER_DATE = "order_date"
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
AMOUNT = "amount"
PRODUCT_ID = "product_id"
DESCRIPTION = "description"
COUNTRY = "country"

TRANSACTION_ROLES = (
    ORDER_ID,
    CUSTOMER_ID,
    ORDER_DATE,
    QUANTITY,
    UNIT_PRICE,
    AMOUNT,
    PRODUCT_ID,
    DESCRIPTION,
    COUNTRY,
)

# Shapes of input the product understands.
LINE_ITEMS = "line_items"  # one row per order line: quantity x unit price
ORDERS = "orders"  # one row per order (or payment) with an amount; maybe no order id
CUSTOMERS = "customers"  # one row per customer, no transactions
SHAPES = (LINE_ITEMS, ORDERS, CUSTOMERS)

# Per-customer feature names (analysis.features).
RECENCY = "recency_days"
FREQUENCY = "frequency"
MONETARY = "monetary"
AVG_ORDER_VALUE = "avg_order_value"
TENURE = "tenure_days"
MEAN_DAYS_BETWEEN = "mean_days_between_orders"
DISTINCT_PRODUCTS = "distinct_products"
RETURN_RATE = "return_rate"
FEATURES = (
    RECENCY,
    FREQUENCY,
    MONETARY,
    AVG_ORDER_VALUE,
    TENURE,
    MEAN_DAYS_BETWEEN,
    DISTINCT_PRODUCTS,
    RETURN_RATE,
)
DEFAULT_FEATURES = (RECENCY, FREQUENCY, MONETARY)
