"""Chemistry shared by every stage: the residue alphabet and the atom layouts."""
