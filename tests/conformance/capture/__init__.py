"""Capture what an official ``@remotion/lambda-client`` release sends (issue 14).

``python -m tests.conformance.capture 4.0.508`` installs that release with npm, runs it
against the local emulator through a recording S3 proxy, and writes
``tests/conformance/records/versions/4.0.508/payload-cases.json`` in the format of the
other records. :mod:`.records` holds the pure parts (tested without npm), :mod:`.run`
the npm, Node and emulator parts.
"""
