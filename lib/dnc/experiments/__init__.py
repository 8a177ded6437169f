"""The book's experiments, one module per part: settings, cached runs, tables and generated words."""
