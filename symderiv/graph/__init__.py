"""Networks: graphs of named nodes (spec), read from TOML, built into SymPy definitions."""
