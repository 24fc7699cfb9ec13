"""End-to-end tests of a trained assistant (``tandem test e2e``).

``cases`` reads test files into typed test cases, ``assertions`` and ``steps`` check a
turn's events, ``runner`` runs the conversations on a ``MessageProcessor``, ``stubs``
replaces the action server for stubbed files, ``report`` and ``coverage`` say what happened.
"""
