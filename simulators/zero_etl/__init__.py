"""Local stand-ins for the AWS integrations: a private MariaDB and the binlog zero-ETL replica."""
