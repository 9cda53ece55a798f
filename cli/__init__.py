"""The `huren` command line, one module per command group."""
