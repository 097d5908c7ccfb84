"""Alembic revisions for the sip2d schema, shipped inside the package.

This directory is a package only so that an installed sip2d carries ``env.py`` with it; Alembic
loads ``env.py`` and ``versions/*.py`` by path, configured from :mod:`sip2d.storage.migrate`.
"""
