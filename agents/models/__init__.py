"""Policies: loading by name (`policy`), the tiny random model (`tiny`), transformers helpers (`hf`) and the
warm-started testbed policy (`warm_start`)."""
