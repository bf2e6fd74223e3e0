"""Activation: the patient 360 synced out (UNLOAD, Data API, Parquet files) and engagement written back (COPY)."""
