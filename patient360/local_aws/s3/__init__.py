"""The local S3 stand-in: s3rver (npm), a file-backed S3 server, installed and started by the project."""
