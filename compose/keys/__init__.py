"""Every key of the Compose Specification: honoured by pycompose, refused, or ignored (and why).

==========  ==================================================================================
table       :data:`~compose.keys.table.KEYS`, keyed by the key's path in the schema
            (``services.*.deploy.resources.limits.pids``: ``*`` a name, ``[]`` an item)
checks      :func:`~compose.keys.checks.check_keys`: before a command creates containers
            (``up``, ``create``, ``run``), a refused key or value the project uses is an
            error at file:line:column, an ignored key a warning (pure)
document    ``docs/compose-keys.md`` from the table: ``python -m compose.keys`` writes it,
            ``--check`` fails when it is stale
==========  ==================================================================================

tests/compose/test_keys.py fails when a key of the schema
(tests/data/conformance/compose-spec.json) is missing from the table.
"""
