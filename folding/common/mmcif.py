"""mmCIF format with per-residue pLDDT as ModelCIF carries it.

:func:`to_mmcif` writes a PDBx/mmCIF file that also conforms to the ModelCIF dictionary
(``mmcif_ma.dic``) the way the AlphaFold Protein Structure Database's files do: the
atoms in ``_atom_site`` (B-factor column = pLDDT), one entity per distinct chain
sequence (``_entity``, ``_entity_poly``, ``_entity_poly_seq``, gaps in the numbering
filled with UNK as AlphaFold does), and the confidence as ModelCIF quality metrics:
``_ma_qa_metric`` (pLDDT, global and local), ``_ma_qa_metric_global`` (the mean over
residues) and ``_ma_qa_metric_local`` (one value per residue). Remarks (such as the
notice that parameters were untrained) go to ``_pdbx_database_remark``.

The text is made with gemmi's CIF writer, so quoting is always valid; gemmi and
Biopython's MMCIFParser read it back without warnings. :func:`from_mmcif` reads any
mmCIF (through gemmi) into a :class:`~folding.common.protein.Protein`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import gemmi
import numpy as np

from folding.common.alphabet import RESIDUE_NAMES_WITH_UNK, THREE_TO_ONE, UNKNOWN_INDEX
from folding.common.atoms import ATOM37_NAMES
from folding.common.protein import Protein, from_gemmi_structure, normalize_remark
from folding.errors import InputError

_CHEM_COMP_NAMES: dict[str, str] = {
    "ALA": "ALANINE", "ARG": "ARGININE", "ASN": "ASPARAGINE", "ASP": "ASPARTIC ACID",
    "CYS": "CYSTEINE", "GLN": "GLUTAMINE", "GLU": "GLUTAMIC ACID", "GLY": "GLYCINE",
    "HIS": "HISTIDINE", "ILE": "ISOLEUCINE", "LEU": "LEUCINE", "LYS": "LYSINE",
    "MET": "METHIONINE", "PHE": "PHENYLALANINE", "PRO": "PROLINE", "SER": "SERINE",
    "THR": "THREONINE", "TRP": "TRYPTOPHAN", "TYR": "TYROSINE", "VAL": "VALINE",
    "UNK": "UNKNOWN",
}
_REMARK_NUMBER = re.compile(r"^(\d{1,3})(?:\s|$)(.*)$")
_MODELCIF_DICT = ("mmcif_ma.dic", "1.4.5",
                  "https://raw.githubusercontent.com/ihmwg/ModelCIF/master/dist/mmcif_ma.dic")


def _chain_sequences(protein: Protein) -> list[tuple[int, list[int]]]:
    """Per chain index: (first number, aatype of every number from it, gaps as UNK).

    The sequence starts at residue 1 or at the first residue if that is lower, as in
    AlphaFold's writer, so that ``label_seq_id`` equals the residue number whenever
    numbering starts at 1 or above.
    """
    chains = []
    for chain in range(protein.num_chains):
        rows = np.flatnonzero(protein.chain_index == chain)
        numbers = protein.residue_index[rows]
        if len(numbers) == 0:
            chains.append((1, []))
            continue
        start = min(1, int(numbers.min()))
        seq = [UNKNOWN_INDEX] * (int(numbers.max()) - start + 1)
        for number, restype in zip(numbers, protein.aatype[rows], strict=True):
            seq[int(number) - start] = int(restype)
        chains.append((start, seq))
    return chains


def _remark_rows(remarks: Sequence[str]) -> list[list[str]]:
    """(id, text) rows of ``_pdbx_database_remark``; remarks with one number are joined."""
    grouped: dict[str, list[str]] = {}
    free = 0
    for remark in remarks:
        match = _REMARK_NUMBER.match(remark)
        if match:
            key, text = str(int(match.group(1))), match.group(2).strip()
        else:
            free += 1
            key, text = f"{999 + free}", remark
        grouped.setdefault(key, []).append(text)
    return [[key, "\n".join(texts)] for key, texts in grouped.items()]


def to_mmcif(
    protein: Protein,
    name: str,
    *,
    remarks: Sequence[str] = (),
    with_plddt: bool = True,
    model_name: str = "model",
    software_version: str = "",
) -> str:
    """The protein as mmCIF text (PDBx + ModelCIF), data block ``name``.

    ``with_plddt`` writes the B-factors as the ModelCIF pLDDT metrics (per residue: the
    mean over the residue's atoms, which for predictions is the pLDDT itself); switch it
    off for structures whose B-factors are not confidences. ``remarks`` are added to the
    protein's own remarks.
    """
    block_name = re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "model"
    all_remarks = list(protein.remarks)
    for remark in map(normalize_remark, remarks):
        if remark not in all_remarks:
            all_remarks.append(remark)

    chain_names = [protein.chain_id(i) for i in range(protein.num_chains)]
    sequences = _chain_sequences(protein)
    entity_of_chain: list[int] = []
    entities: list[tuple[int, list[int]]] = []
    for start_seq in sequences:
        if start_seq not in entities:
            entities.append(start_seq)
        entity_of_chain.append(entities.index(start_seq) + 1)

    doc = gemmi.cif.Document()
    block = doc.add_new_block(block_name)
    block.set_pair("_entry.id", gemmi.cif.quote(block_name))
    block.set_mmcif_category("_audit_conform.", {
        "dict_name": ["mmcif_pdbx.dic", _MODELCIF_DICT[0]],
        "dict_version": ["5.380", _MODELCIF_DICT[1]],
        "dict_location": ["http://mmcif.pdb.org/dictionaries/ascii/mmcif_pdbx.dic",
                          _MODELCIF_DICT[2]],
    })
    if all_remarks:
        rows = _remark_rows(all_remarks)
        block.set_mmcif_category("_pdbx_database_remark.", {
            "id": [r[0] for r in rows], "text": [r[1] for r in rows]})

    used = sorted({RESIDUE_NAMES_WITH_UNK[r] for _, seq in entities for r in seq})
    block.set_mmcif_category("_chem_comp.", {
        "id": used,
        "type": ["peptide linking" if r == "GLY" else "L-peptide linking" for r in used],
        "mon_nstd_flag": ["y" if r != "UNK" else "." for r in used],
        "name": [_CHEM_COMP_NAMES[r] for r in used],
    })
    entity_ids = [str(i + 1) for i in range(len(entities))]
    strands = [",".join(c for c, e in zip(chain_names, entity_of_chain, strict=True) if e == i + 1)
               for i in range(len(entities))]
    one_letter = ["".join(THREE_TO_ONE.get(RESIDUE_NAMES_WITH_UNK[r], "(UNK)") for r in seq)
                  for _, seq in entities]
    one_letter_can = ["".join(THREE_TO_ONE.get(RESIDUE_NAMES_WITH_UNK[r], "X") for r in seq)
                      for _, seq in entities]
    block.set_mmcif_category("_entity.", {
        "id": entity_ids, "type": ["polymer"] * len(entities),
        "pdbx_description": [f"chain {s}" for s in strands],
    })
    block.set_mmcif_category("_entity_poly.", {
        "entity_id": entity_ids, "type": ["polypeptide(L)"] * len(entities),
        "nstd_link": ["no"] * len(entities), "nstd_monomer": ["no"] * len(entities),
        "pdbx_seq_one_letter_code": one_letter, "pdbx_seq_one_letter_code_can": one_letter_can,
        "pdbx_strand_id": strands,
    })
    poly_seq: dict[str, list[str]] = {"entity_id": [], "num": [], "mon_id": [], "hetero": []}
    for entity_id, (_, seq) in zip(entity_ids, entities, strict=True):
        for k, restype in enumerate(seq, start=1):
            poly_seq["entity_id"].append(entity_id)
            poly_seq["num"].append(str(k))
            poly_seq["mon_id"].append(RESIDUE_NAMES_WITH_UNK[restype])
            poly_seq["hetero"].append("n")
    block.set_mmcif_category("_entity_poly_seq.", poly_seq)
    block.set_mmcif_category("_struct_asym.", {
        "id": chain_names, "entity_id": [str(e) for e in entity_of_chain]})

    atom_site: dict[str, list[str]] = {key: [] for key in (
        "group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id",
        "label_asym_id", "label_entity_id", "label_seq_id", "pdbx_PDB_ins_code", "Cartn_x",
        "Cartn_y", "Cartn_z", "occupancy", "B_iso_or_equiv", "pdbx_formal_charge",
        "auth_seq_id", "auth_comp_id", "auth_asym_id", "auth_atom_id", "pdbx_PDB_model_num")}
    residue_names = protein.residue_names()
    label_seq = [int(protein.residue_index[i]) - sequences[c][0] + 1
                 for i, c in enumerate(protein.chain_index)]
    serial = 0
    for i in range(protein.num_residues):
        chain = int(protein.chain_index[i])
        for slot in np.flatnonzero(protein.atom_mask[i] > 0.5):
            serial += 1
            atom = ATOM37_NAMES[slot]
            x, y, z = protein.atom_positions[i, slot]
            for key, value in (
                ("group_PDB", "ATOM"), ("id", str(serial)), ("type_symbol", atom[0]),
                ("label_atom_id", atom), ("label_alt_id", "."),
                ("label_comp_id", residue_names[i]), ("label_asym_id", chain_names[chain]),
                ("label_entity_id", str(entity_of_chain[chain])),
                ("label_seq_id", str(label_seq[i])), ("pdbx_PDB_ins_code", "?"),
                ("Cartn_x", f"{x:.3f}"), ("Cartn_y", f"{y:.3f}"), ("Cartn_z", f"{z:.3f}"),
                ("occupancy", "1.00"), ("B_iso_or_equiv", f"{protein.b_factors[i, slot]:.2f}"),
                ("pdbx_formal_charge", "?"), ("auth_seq_id", str(int(protein.residue_index[i]))),
                ("auth_comp_id", residue_names[i]), ("auth_asym_id", chain_names[chain]),
                ("auth_atom_id", atom), ("pdbx_PDB_model_num", "1"),
            ):
                atom_site[key].append(value)
    block.set_mmcif_category("_atom_site.", atom_site, raw=True)
    block.set_mmcif_category("_atom_type.", {"symbol": sorted(set(atom_site["type_symbol"]))})

    _add_modelcif(block, protein, chain_names, entity_of_chain, label_seq, with_plddt,
                  model_name, software_version)
    return doc.as_string(gemmi.cif.Style.Pdbx)


def _add_modelcif(
    block: gemmi.cif.Block, protein: Protein, chain_names: list[str],
    entity_of_chain: list[int], label_seq: list[int], with_plddt: bool, model_name: str,
    software_version: str,
) -> None:
    """The ModelCIF categories: software, target entities, model list and pLDDT metrics."""
    block.set_mmcif_category("_software.", {
        "pdbx_ordinal": ["1"], "name": ["folding"], "version": [software_version or "?"],
        "type": ["package"], "description": ["Structure prediction (AlphaFold2)"],
        "classification": ["other"],
    })
    block.set_mmcif_category("_ma_software_group.", {
        "ordinal_id": ["1"], "group_id": ["1"], "software_id": ["1"]})
    block.set_mmcif_category("_ma_data.", {
        "id": ["1"], "name": ["Model"], "content_type": ["model coordinates"]})
    block.set_mmcif_category("_ma_target_entity.", {
        "entity_id": sorted({str(e) for e in entity_of_chain}, key=int),
        "data_id": ["1"] * len(set(entity_of_chain)),
        "origin": ["."] * len(set(entity_of_chain)),
    })
    block.set_mmcif_category("_ma_target_entity_instance.", {
        "asym_id": chain_names, "entity_id": [str(e) for e in entity_of_chain],
        "details": ["."] * len(chain_names),
    })
    block.set_mmcif_category("_ma_model_list.", {
        "ordinal_id": ["1"], "model_id": ["1"], "model_group_id": ["1"],
        "model_name": [model_name], "model_group_name": ["AlphaFold2 model"],
        "data_id": ["1"], "model_type": ["Ab initio model"],
    })
    if not with_plddt:
        return
    plddt = protein.residue_b_factors()
    block.set_mmcif_category("_ma_qa_metric.", {
        "id": ["1", "2"], "name": ["pLDDT", "pLDDT"], "type": ["pLDDT", "pLDDT"],
        "mode": ["global", "local"], "software_group_id": ["1", "1"],
    })
    block.set_mmcif_category("_ma_qa_metric_global.", {
        "ordinal_id": ["1"], "model_id": ["1"], "metric_id": ["1"],
        "metric_value": [f"{float(plddt.mean()) if len(plddt) else 0.0:.2f}"],
    })
    residue_names = protein.residue_names()
    count = protein.num_residues
    block.set_mmcif_category("_ma_qa_metric_local.", {
        "ordinal_id": [str(i + 1) for i in range(count)],
        "model_id": ["1"] * count,
        "label_asym_id": [chain_names[int(c)] for c in protein.chain_index],
        "label_seq_id": [str(s) for s in label_seq],
        "label_comp_id": residue_names,
        "metric_id": ["2"] * count,
        "metric_value": [f"{v:.2f}" for v in plddt],
    }, raw=True)


def read_plddt(source: str | os.PathLike[str]) -> dict[tuple[str, int], float]:
    """Per-residue pLDDT from ``_ma_qa_metric_local``: {(label_asym_id, label_seq_id): value}."""
    block = _read_block(source)[0]
    table = block.find("_ma_qa_metric_local.", ["label_asym_id", "label_seq_id", "metric_value"])
    return {(row.str(0), int(row[1])): float(row[2]) for row in table}


def _read_block(source: str | os.PathLike[str]) -> tuple[gemmi.cif.Block, str]:
    text_given = not isinstance(source, os.PathLike) and (
        "\n" in source or len(source) >= 4096)
    name = "mmCIF text" if text_given else str(source)
    try:
        if text_given:
            doc = gemmi.cif.read_string(source)
        else:
            if not Path(source).is_file():
                raise InputError(f"{source}: no such mmCIF file; check the path")
            doc = gemmi.cif.read(str(source))
    except (RuntimeError, ValueError) as error:
        raise InputError(f"{name}: not a readable mmCIF file ({error}); check the file") from error
    return doc.sole_block(), name


def from_mmcif(source: str | os.PathLike[str], chain_id: str | None = None) -> Protein:
    """Read an mmCIF file (a path, ``.cif.gz`` too, or the text itself) into a Protein.

    Residues are numbered and chains named by the author fields (``auth_seq_id``,
    ``auth_asym_id``), as in PDB files. Remarks come from ``_pdbx_database_remark``.
    """
    block, name = _read_block(source)
    structure = gemmi.make_structure_from_block(block)
    protein = from_gemmi_structure(structure, chain_id=chain_id, source=name)
    remarks = []
    for row in block.find("_pdbx_database_remark.", ["id", "text"]):
        for line in gemmi.cif.as_string(row[1]).splitlines():
            remarks.append(f"{row.str(0)} {line}".strip())
    return protein.replace(remarks=tuple(remarks))
