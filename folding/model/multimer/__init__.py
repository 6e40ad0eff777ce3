"""AlphaFold-Multimer (v3): the complex model beside the monomer one.

It shares the monomer trunk's layers (attention, transitions, outer product mean,
triangle attention, heads, the geometry layer, the side-chain ResNet) and adds what
differs: fused triangle-multiplication weights, the outer product mean at the start of
each Evoformer block, chain-aware relative positions, the chain-aware template
embedding, MSA sampling and masking from the random key inside each recycling pass,
and the multimer structure module (Evans et al. 2021, Multimer supplement).
"""
