"""Files in the shared data directory: datasets (content-addressed Parquet) and large results.

Every write goes to a temporary file in the same folder and is then renamed into place, so a reader (or a
redelivered task writing the same file) never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from analysis import schema as S
from analysis.normalize import Dataset
from analysis.polars_clean import RULE_BITS, TextColumn
from analysis.polars_load import PolarsDataset, Unsupported, canonical
from workers.config import Settings


def dataset_id(dataset: Dataset) -> str:
    """Content address of a normalised dataset: same rows, columns, types and shape -> same id (16 hex).

    A :class:`~analysis.polars_load.PolarsDataset` is hashed in polars, column by column, its text as text
    (categorical codes depend on the process), so the 10M-row frame is never converted to pandas; polars' hash is
    stable within one polars version (pinned), which is all a content address needs."""
    digest = hashlib.sha256()
    if isinstance(dataset, PolarsDataset):
        frame = dataset.pl_frame
        types = [str(pl.String if t in (pl.Categorical, pl.Enum) else t) for t in frame.dtypes]
        digest.update(json.dumps(["polars", dataset.shape, frame.columns, types]).encode())
        rows = None  # one hash per row, combined column by column in place (uint64 arithmetic wraps)
        for name in frame.columns:
            hashed = _text_hash(frame[name]).to_numpy()
            if rows is None:
                rows = hashed.copy()
            else:
                rows *= np.uint64(1_000_003)
                rows ^= hashed
        if rows is not None:
            digest.update(rows.tobytes())
        return digest.hexdigest()[:16]
    frame = dataset.frame
    digest.update(json.dumps([dataset.shape, [str(c) for c in frame.columns],
                              [str(t) for t in frame.dtypes]]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _text_hash(column: pl.Series) -> pl.Series:
    """``column.hash(seed=0)``, categorical text hashed as its text (each distinct value once, looked up by code:
    the same values as hashing the column cast to text, without writing 10M strings)."""
    hashed = TextColumn(column).apply(lambda values: values.hash(seed=0))
    if column.dtype != pl.Categorical:
        return hashed
    return hashed.fill_null(pl.Series([None], dtype=pl.String).hash(seed=0)[0])


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_parquet(path: Path, frame: pd.DataFrame | pl.DataFrame) -> None:
    """Write ``frame`` (pandas, with its index; or polars, categorical text kept as categories) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if isinstance(frame, pl.DataFrame):
            frame.write_parquet(tmp)
        else:
            frame.to_parquet(tmp, index=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dataset_path(settings: Settings, ds_id: str) -> Path:
    if not ds_id.isalnum():
        raise ValueError(f"bad dataset id {ds_id!r}")
    return settings.datasets_dir / f"{ds_id}.parquet"


def store_dataset(settings: Settings, dataset: Dataset, *, rule_bits: pl.Series | None = None) -> str:
    """Write the normalised frame once (skipped when the same content is already stored); return its id.

    ``rule_bits`` (a fast-path dataset's :attr:`analysis.pipeline.Prepared.rule_bits`, named
    :data:`analysis.polars_clean.RULE_BITS`) are stored as one more column, so that every later job cleans the
    dataset without computing the rules' masks again; the id depends on the frame only."""
    ds_id = dataset_id(dataset)
    path = dataset_path(settings, ds_id)
    if not path.exists() or rule_bits is not None and _lacks_bits(path):
        if isinstance(dataset, PolarsDataset):
            frame = dataset.pl_frame
            if rule_bits is not None and rule_bits.len() == frame.height:
                frame = frame.with_columns(rule_bits)
            atomic_write_parquet(path, frame)
        else:
            atomic_write_parquet(path, dataset.frame)
    return ds_id


def _lacks_bits(path: Path) -> bool:
    """The stored file has no rule bits of the current signature (stored before, or by another version)."""
    try:
        return RULE_BITS not in pl.read_parquet_schema(path)
    except (OSError, pl.exceptions.PolarsError):
        return True


def load_dataset(settings: Settings, ds_id: str, *, shape: str, mapping: dict[str, str], source: str,
                 notes: list[str] | None = None, raw_rows: int = 0, raw_columns: list[str] | None = None) -> Dataset:
    """The stored dataset ``ds_id`` with its metadata. Transactions are read with polars into a
    :class:`~analysis.polars_load.PolarsDataset` (so the analysis takes the fast path); customer-level tables,
    and anything not in the canonical types, are read with pandas. A missing file raises FileNotFoundError."""
    path = dataset_path(settings, ds_id)
    if not path.exists():
        raise FileNotFoundError(path)
    meta = {"shape": shape, "mapping": dict(mapping), "source": source, "notes": list(notes or []),
            "raw_rows": raw_rows, "raw_columns": list(raw_columns or [])}
    if shape != S.CUSTOMERS:
        try:
            stored = pl.read_parquet(path)
            bits = stored[RULE_BITS] if RULE_BITS in stored.columns else None  # other versions' bits: ignored
            frame = canonical(stored.drop([c for c in stored.columns if c.startswith(("__index_level_", "__rule"))]))
        except (Unsupported, pl.exceptions.PolarsError):
            frame = None
        if frame is not None:
            return PolarsDataset(frame, **meta, rule_bits=bits)
    frame = pd.read_parquet(path)
    if shape != S.CUSTOMERS:  # transactions polars could not read back: without the rule bits, text as text
        frame = frame.drop(columns=[c for c in frame.columns if str(c).startswith("__rule")])
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                frame[col] = frame[col].astype("str")
    return Dataset(frame=frame, **meta)


def job_dir(settings: Settings, job_id: str) -> Path:
    if not job_id.isalnum():
        raise ValueError(f"bad job id {job_id!r}")
    return settings.results_dir / job_id


def relative(settings: Settings, path: Path) -> str:
    """A path relative to the data directory (what job records store)."""
    return str(path.relative_to(settings.data_dir))


def resolve(settings: Settings, rel: str) -> Path:
    path = (settings.data_dir / rel).resolve()
    if settings.data_dir not in path.parents:
        raise ValueError(f"path {rel!r} is outside the data directory")
    return path
