"""The pure domain: accounts, leads, touchpoints, scoring and lifecycle.

Nothing here performs I/O or imports anything beyond the standard library;
``tests/unit/test_domain_purity.py`` checks it.
"""
