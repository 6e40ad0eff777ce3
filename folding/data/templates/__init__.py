"""Templates: search the PDB for structures of homologues and turn hits into features.

Modules, one concept each: :mod:`~folding.data.templates.hits` (hit files of hhsearch
and hmmsearch -> :class:`~folding.data.templates.hits.TemplateHit`),
:mod:`~folding.data.templates.mmcif` (mmCIF entries), :mod:`~folding.data.templates.database`
(the local mmCIF folder, obsolete list and date limit), :mod:`~folding.data.templates.featurise`
(hits + mmCIFs -> template features, supplement 1.2.3), :mod:`~folding.data.templates.search`
(running the template search) and :mod:`~folding.data.templates.cli` (``folding templates``).
"""
