"""Composition: where the library (``leitai``) and the services (``services``) are put
together into things a person runs: the ``leitai`` command, ``leitai up``, the demo, and the
local servers the demo, the tests and the bench start. Nothing in ``leitai`` or ``services``
imports from here."""
