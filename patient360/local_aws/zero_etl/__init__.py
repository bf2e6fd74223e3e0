"""Aurora MySQL zero-ETL stand-in: a private MariaDB, the binlog replicator and its table states."""
