"""What the tests and the bench share: real servers and child processes (``servers``), the
whole system run as processes (``stack``), the Boai round set up over HTTP (``boai``), the
fault run (``chaos``), a real SMTP server (``smtp_sink``), a small event contract for the
pipeline (``ledger``). Not for production. It imports nothing from ``tests`` (the bench may
not), which tests/unit/test_architecture.py keeps so."""
