"""Databases: manifests per preset, resumable verified downloads, checks, the demo tree.

``manifest`` reads ``databases/<preset>.yaml``; ``download`` fetches and unpacks;
``check`` compares a tree with a manifest; ``demo`` builds the demo tree from the real
data; ``fetch`` fetches template mmCIF files on demand; ``cli`` is ``folding databases``.
"""
