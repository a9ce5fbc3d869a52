"""The command lines: `train`, `evaluate`, `quickstart`, `plots` (`python -m agents.<name>` runs each), and
`args`, their shared parser and exit rule."""
