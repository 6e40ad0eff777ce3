"""External tools, each behind the same small interface (:mod:`folding.data.tools.base`).

One module per tool: ``jackhmmer`` (pyhmmer, in process), ``hhblits``, ``mmseqs``,
``msa_server`` (a ColabFold-compatible MSA server client); template tools live beside
them. Programs run through :func:`run_tool` (an argument list, never a shell) and fail
with a one-line :class:`~folding.errors.ToolError`. No wrapper caches results.
"""

from folding.data.tools.base import (
    ToolRun,
    find_binary,
    last_error_line,
    run_tool,
    tool_version,
)

__all__ = ["ToolRun", "find_binary", "last_error_line", "run_tool", "tool_version"]
