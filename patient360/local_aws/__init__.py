"""Faithful local stand-ins of the AWS services the project reads from, one folder each."""
