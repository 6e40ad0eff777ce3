"""hmmsearch: the query's HMM against ``pdb_seqres.txt``, AlphaFold's other template search.

AlphaFold (2.3, multimer preset) builds an HMM from the prepared UniRef90 alignment with
``hmmbuild --hand --amino`` (match states = the alignment's ``#=GC RF`` columns, i.e. the
query's residues) and runs ``hmmsearch --noali --cpu 8 --F1 0.1 --F2 0.1 --F3 0.1
--incE 100 -E 100 --domE 100 --incdomE 100 -A OUT.sto QUERY.hmm pdb_seqres.txt``; the
Stockholm alignment of the hits (every HMM match column included) is ``pdb_hits.sto``.

Two implementations with the same result:

* :class:`Hmmsearch` runs HMMER in process through pyhmmer (no temporary files, no
  process start-up). On the real UniRef90 alignments in the shared data its Stockholm
  output is identical to the programs' except for the ``#=GF AU`` line naming the
  program (``tests/data/test_templates_search.py``).
* :class:`HmmsearchPrograms` runs Debian's ``hmmbuild`` and ``hmmsearch`` programs with
  AlphaFold's command lines, behind :func:`~folding.data.tools.base.run_tool`.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from folding.data.tools.base import find_binary, run_tool
from folding.errors import MissingResourceError, ToolError

#: AlphaFold's hmmsearch thresholds (permissive: every plausible hit is kept).
THRESHOLDS: dict[str, float] = {
    "F1": 0.1, "F2": 0.1, "F3": 0.1, "incE": 100, "E": 100, "domE": 100, "incdomE": 100,
}
#: The HMM's name (hmmbuild names it after its input file, AlphaFold's ``query.msa``).
HMM_NAME = "query"


def _check_database(database: str | os.PathLike[str]) -> Path:
    path = Path(database)
    if not path.is_file():
        raise MissingResourceError(
            f"hmmsearch database {path} not found; give the pdb_seqres.txt file "
            "(FASTA of PDB chains)"
        )
    return path


@dataclass(frozen=True)
class Hmmsearch:
    """hmmbuild + hmmsearch in process (pyhmmer) against a FASTA ``database``."""

    database: Path
    cpus: int = 2

    @classmethod
    def locate(cls, database: str | os.PathLike[str], cpus: int = 2) -> Hmmsearch:
        return cls(_check_database(database), cpus)

    def search(self, msa_sto: str) -> str:
        """The Stockholm alignment of the hits of the HMM built from ``msa_sto``.

        ``msa_sto`` is a Stockholm alignment with a ``#=GC RF`` line (the match columns).
        Returns ``""`` when nothing is found, as the hmmsearch program writes no alignment.
        """
        import pyhmmer
        from pyhmmer import easel, plan7

        alphabet = easel.Alphabet.amino()
        try:
            with easel.MSAFile(io.BytesIO(msa_sto.encode()), format="stockholm",
                               digital=True, alphabet=alphabet) as handle:
                msa = handle.read()
        except (ValueError, EOFError) as error:
            raise ToolError(f"hmmbuild: cannot read the query alignment ({error}); "
                            "check the UniRef90 alignment") from error
        if msa is None:
            raise ToolError("hmmbuild: the query alignment is empty; check the UniRef90 alignment")
        msa.name = HMM_NAME.encode()
        builder = plan7.Builder(alphabet, architecture="hand")
        hmm, _, _ = builder.build_msa(msa, plan7.Background(alphabet))
        with easel.SequenceFile(str(self.database), digital=True, alphabet=alphabet) as targets:
            hits = next(iter(pyhmmer.hmmsearch([hmm], targets, cpus=self.cpus, **THRESHOLDS)))
        if not hits.included:
            return ""
        alignment = hits.to_msa(alphabet, all_consensus_cols=True)
        alignment.name = HMM_NAME.encode()
        out = io.BytesIO()
        alignment.write(out, "stockholm")
        return out.getvalue().decode()


@dataclass(frozen=True)
class HmmsearchPrograms:
    """Debian's ``hmmbuild`` and ``hmmsearch`` programs with AlphaFold's command lines."""

    hmmbuild: str
    hmmsearch: str
    database: Path
    cpus: int = 2

    @classmethod
    def locate(
        cls,
        database: str | os.PathLike[str],
        hmmbuild: str | os.PathLike[str] | None = None,
        hmmsearch: str | os.PathLike[str] | None = None,
        cpus: int = 2,
    ) -> HmmsearchPrograms:
        return cls(find_binary("hmmbuild", hmmbuild), find_binary("hmmsearch", hmmsearch),
                   _check_database(database), cpus)

    def search(self, msa_sto: str) -> str:
        """As :meth:`Hmmsearch.search`, through the programs."""
        with tempfile.TemporaryDirectory(prefix="folding-hmmsearch-") as folder:
            msa, hmm = Path(folder, f"{HMM_NAME}.msa"), Path(folder, f"{HMM_NAME}.hmm")
            output = Path(folder, "output.sto")
            msa.write_text(msa_sto)
            run_tool([self.hmmbuild, "--hand", "--amino", hmm, msa],
                     fix="check the UniRef90 alignment")
            flags = [f"-{k}" if len(k) == 1 else f"--{k}" for k in THRESHOLDS]
            argv: list[str | Path] = [self.hmmsearch, "--noali", "--cpu", str(self.cpus)]
            for flag, value in zip(flags, THRESHOLDS.values(), strict=True):
                argv += [flag, f"{value:g}"]
            run_tool([*argv, "-A", output, hmm, self.database],
                     fix="check the pdb_seqres.txt database")
            return output.read_text() if output.exists() else ""
