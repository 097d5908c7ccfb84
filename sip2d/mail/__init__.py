"""Mail for the PIN page (issue #16): what a mail says, how it leaves, and the task that
drains the outbox. The outbox itself lives in :mod:`sip2d.storage.selfservice`."""
