"""The Snakemake workflow's Python side: settings, the plan and its cache keys, checks.

``settings`` validates and resolves the config; ``plan`` lists targets and searches and
keys the MSA cache by content; ``preflight`` checks databases, parameters and programs
before any job starts; ``cli`` is ``folding workflow``, the helpers the rules call.
"""
