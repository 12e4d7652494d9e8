"""Process plumbing every deployable shares.

Settings, database engines, logging, metrics, clock, ids, errors, correlation ids and the
runtime bundle.
"""
