"""What the pipeline fetches from the internet goes through this package: ``http.py`` (every download:
base URLs, checks, resume, retries, the offline switch) and ``archives.py`` (unpacking without escaping
the destination). docs/downloads.md describes both."""
