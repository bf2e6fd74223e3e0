"""The command line: one thin module per verb; nothing imports from here."""
