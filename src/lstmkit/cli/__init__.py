"""The `lstmkit` command line: one module per subcommand, wiring configuration to the library."""
