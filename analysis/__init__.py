"""Pure analysis core: loading, cleaning, descriptive statistics, features, clustering, segments, insights.

Imports no web or queue code, so the Dash app, the Celery workers and the command line can all call it.
"""

import os

# polars allocates through jemalloc, which keeps freed pages for seconds: after a 10M-row load a process stayed
# about 0.6 GB above what it held, and that stacked onto the next steps' peak (10M-row CSV, load -> clean ->
# features: 1.99-2.01 GiB). Freed pages now go back within 200 ms: 1.84-1.87 GiB, no slower (Parquet: 1.81-1.87
# -> 1.64-1.68 GiB). jemalloc reads this once, when polars loads, so it is set before any analysis module imports
# polars; a value already in the environment wins.
POLARS_ALLOCATOR = "dirty_decay_ms:200,muzzy_decay_ms:0"
os.environ.setdefault("_RJEM_MALLOC_CONF", POLARS_ALLOCATOR)
