"""The typer sub-applications of the ``freshforce`` command line, one module per command group."""
