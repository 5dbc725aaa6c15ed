"""Data sets as descriptions: classes, splits, weak and dense labels, read from LLP, LFAV or a person's own
files (docs/datasets.md). ``description.py`` holds the shapes and the checks; one module per kind reads its
files (``llp.py``, ``lfav.py``, ``custom.py``); ``config.py`` builds one from the config's ``dataset`` keys."""
