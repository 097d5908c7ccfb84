"""``python -m conformance``: the same entry point as the ``sip2d-conformance`` script."""

from conformance.cli import main

main()
