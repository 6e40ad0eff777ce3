"""atom14/atom37 layouts, pseudo-beta, torsion angles and atoms from torsions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from folding.common import atoms
from folding.common import stereochemistry as sc
from folding.common.pdb import from_pdb
from folding.model import all_atom
from folding.model.geometry import Rigid3, Rot3, Vec3
from folding.model.torsion import atom37_to_torsion_angles


def _random_chain(seed, num_res=40, batch=(2,), drop=0.1):
    """Random atom37 coordinates with every residue type, a few gaps and missing atoms."""
    rng = np.random.default_rng(seed)
    aatype = rng.integers(0, 21, size=(*batch, num_res)).astype(np.int32)
    aatype[..., :21] = np.arange(21)
    positions = rng.normal(scale=3.0, size=(*batch, num_res, 37, 3)).astype(np.float32)
    mask = atoms.STANDARD_ATOM37_MASK[aatype].astype(np.float32)
    mask *= rng.random(mask.shape) > drop
    return aatype, positions * mask[..., None], mask


def _backbone_frames(positions):
    """AlphaFold's backbone frame from atom37 N, CA, C (x along CA->C, N in the xy plane)."""
    n, ca, c = (Vec3.from_array(jnp.asarray(positions[..., i, :])) for i in range(3))
    flip = Rot3.from_array(jnp.diag(jnp.array([-1.0, 1.0, -1.0])))
    return Rigid3.from_3_points(c, ca, n).compose_rotation(flip[None])


@pytest.fixture(scope="module")
def real_chain(shared_data):
    protein = from_pdb(shared_data / "structures" / "2rbg.pdb")
    return protein.aatype, protein.atom_positions, protein.atom_mask


def test_atom14_atom37_round_trip():
    aatype, positions, _ = _random_chain(0, batch=())
    exists37 = atoms.STANDARD_ATOM37_MASK[aatype][..., None]
    a14 = all_atom.atom37_to_atom14(jnp.asarray(positions), jnp.asarray(aatype))
    back = all_atom.atom14_to_atom37(a14, jnp.asarray(aatype))
    np.testing.assert_array_equal(back, positions * exists37)
    np.testing.assert_array_equal(all_atom.atom14_exists(jnp.asarray(aatype)),
                                  atoms.ATOM14_MASK[aatype])


def test_torsions_rebuild_a_real_structure(real_chain):
    """Real coordinates -> torsions -> rigid-group frames -> atoms reproduces the
    side chains to within the difference between ideal and real bond geometry."""
    aatype, positions, mask = real_chain
    torsions = atom37_to_torsion_angles(jnp.asarray(aatype)[None], jnp.asarray(positions)[None],
                                        jnp.asarray(mask)[None])
    assert torsions.mask[0, 0, 0] == 0 and torsions.mask[0, 0, 1] == 0  # no previous residue
    frames = all_atom.torsion_angles_to_frames(jnp.asarray(aatype), _backbone_frames(positions),
                                               torsions.sin_cos[0])
    rebuilt = all_atom.frames_to_atom14_positions(jnp.asarray(aatype), frames).to_array()
    real14 = all_atom.atom37_to_atom14(jnp.asarray(positions), jnp.asarray(aatype))
    present = np.asarray(all_atom.atom37_to_atom14(jnp.asarray(mask), jnp.asarray(aatype)))
    error = np.linalg.norm(np.asarray(rebuilt) - np.asarray(real14), axis=-1) * present
    # N, C, O and CB hang directly off the backbone frame; the rest accumulate the lever
    # arm of real versus ideal bond geometry along the side chain.
    assert error[:, [0, 2, 3, 4]].max() < 0.4
    assert np.median(error[present > 0]) < 0.1
    assert np.percentile(error[present > 0], 90) < 0.35


def test_pi_periodic_alternative_angles():
    aatype, positions, mask = _random_chain(1)
    t = atom37_to_torsion_angles(jnp.asarray(aatype), jnp.asarray(positions), jnp.asarray(mask))
    flipped = sc.CHI_PI_PERIODIC[aatype] > 0
    np.testing.assert_array_equal(np.asarray(t.alt_sin_cos[..., 3:, :])[flipped],
                                  -np.asarray(t.sin_cos[..., 3:, :])[flipped])
    np.testing.assert_array_equal(np.asarray(t.alt_sin_cos[..., 3:, :])[~flipped],
                                  np.asarray(t.sin_cos[..., 3:, :])[~flipped])


@pytest.mark.reference
@pytest.mark.parametrize("placeholder", [False, True])
def test_torsion_angles_match_reference(placeholder):
    af = pytest.importorskip("alphafold.model.all_atom")
    aatype, positions, mask = _random_chain(2)
    aatype[0, 5] = 21  # the gap id reads as unknown
    ours = atom37_to_torsion_angles(jnp.asarray(aatype), jnp.asarray(positions),
                                    jnp.asarray(mask), placeholder_for_undefined=placeholder)
    ref = af.atom37_to_torsion_angles(jnp.asarray(aatype), jnp.asarray(positions),
                                      jnp.asarray(mask), placeholder_for_undefined=placeholder)
    np.testing.assert_array_equal(ours.mask, ref["torsion_angles_mask"])
    np.testing.assert_allclose(ours.sin_cos, ref["torsion_angles_sin_cos"], atol=2e-6)
    np.testing.assert_allclose(ours.alt_sin_cos, ref["alt_torsion_angles_sin_cos"], atol=2e-6)


@pytest.mark.reference
def test_torsion_angles_of_real_structure_match_reference(real_chain):
    af = pytest.importorskip("alphafold.model.all_atom")
    aatype, positions, mask = (jnp.asarray(x)[None] for x in real_chain)
    ours = atom37_to_torsion_angles(aatype, positions, mask)
    ref = af.atom37_to_torsion_angles(aatype, positions, mask)
    np.testing.assert_array_equal(ours.mask, ref["torsion_angles_mask"])
    np.testing.assert_allclose(ours.sin_cos, ref["torsion_angles_sin_cos"], atol=1e-6)
    np.testing.assert_allclose(ours.alt_sin_cos, ref["alt_torsion_angles_sin_cos"], atol=1e-6)


@pytest.mark.reference
def test_layouts_and_pseudo_beta_match_reference():
    afm = pytest.importorskip("alphafold.model.all_atom_multimer")
    modules = pytest.importorskip("alphafold.model.modules")
    aatype, positions, mask = (jnp.asarray(x) for x in _random_chain(3, batch=()))
    a14 = all_atom.atom37_to_atom14(positions, aatype)
    vec3 = pytest.importorskip("alphafold.model.geometry").Vec3Array
    ref14, ref_mask14 = afm.atom37_to_atom14(aatype, vec3.from_array(positions), mask)
    np.testing.assert_array_equal(a14, ref14.to_array())
    np.testing.assert_array_equal(all_atom.atom37_to_atom14(mask, aatype), ref_mask14)
    np.testing.assert_array_equal(all_atom.atom14_to_atom37(a14, aatype),
                                  afm.atom14_to_atom37(a14, aatype))
    np.testing.assert_array_equal(all_atom.atom37_exists(aatype), afm.get_atom37_mask(aatype))
    ours = all_atom.pseudo_beta(aatype, positions, mask)
    ref_pos, ref_mask = modules.pseudo_beta_fn(aatype, positions, mask)
    np.testing.assert_array_equal(ours.positions, ref_pos)
    np.testing.assert_array_equal(ours.mask, ref_mask)


@pytest.mark.reference
def test_frames_and_atoms_from_torsions_match_reference():
    af = pytest.importorskip("alphafold.model.all_atom")
    r3 = pytest.importorskip("alphafold.model.r3")
    rng = np.random.default_rng(4)
    num_res = 42
    aatype = jnp.asarray(np.concatenate([np.arange(21), rng.integers(0, 21, num_res - 21)]),
                         jnp.int32)
    q = jnp.asarray(rng.normal(size=(num_res, 4)), jnp.float32)
    backbone = Rigid3(Rot3.from_quaternion(q),
                      Vec3.from_array(jnp.asarray(rng.normal(scale=10, size=(num_res, 3)),
                                                  jnp.float32)))
    angles = jnp.asarray(rng.normal(size=(num_res, 7, 2)), jnp.float32)
    angles = angles / jnp.linalg.norm(angles, axis=-1, keepdims=True)

    frames = all_atom.torsion_angles_to_frames(aatype, backbone, angles)
    positions = all_atom.frames_to_atom14_positions(aatype, frames)
    ref_backbone = r3.rigids_from_tensor_flat12(backbone.to_flat12())
    ref_frames = af.torsion_angles_to_frames(aatype, ref_backbone, angles)
    ref_positions = af.frames_and_literature_positions_to_atom14_pos(aatype, ref_frames)
    np.testing.assert_allclose(frames.to_flat12(), r3.rigids_to_tensor_flat12(ref_frames),
                               atol=1e-5)
    np.testing.assert_allclose(positions.to_array(), r3.vecs_to_tensor(ref_positions),
                               atol=1e-5)
    jitted = jax.jit(all_atom.frames_to_atom14_positions)(aatype, frames)
    np.testing.assert_allclose(jitted.to_array(), positions.to_array(), atol=1e-5)


def test_torsions_and_pseudo_beta_distances_are_invariant_to_rigid_motion(real_chain):
    """Template features built from these are unchanged when the template moves."""
    aatype, positions, mask = (jnp.asarray(x) for x in real_chain)
    motion = Rigid3(Rot3.from_quaternion(jnp.array([0.2, 0.9, -0.3, 0.4])),
                    Vec3.from_array(jnp.array([30.0, -12.0, 55.0])))
    moved = motion.apply(Vec3.from_array(positions)).to_array() * mask[..., None]
    before = atom37_to_torsion_angles(aatype[None], positions[None], mask[None])
    after = atom37_to_torsion_angles(aatype[None], moved[None], mask[None])
    np.testing.assert_array_equal(after.mask, before.mask)
    # Only defined torsions are invariant: like the reference, undefined ones (the first
    # residue's pre-omega and phi, torsions with a missing atom) are measured from
    # zero-filled coordinates, i.e. from the origin, and are not masked out.
    defined = np.asarray(before.mask)[..., None] > 0
    assert (~defined).any()
    np.testing.assert_allclose(np.where(defined, after.sin_cos, 0),
                               np.where(defined, before.sin_cos, 0), atol=1e-4)
    np.testing.assert_allclose(np.where(defined, after.alt_sin_cos, 0),
                               np.where(defined, before.alt_sin_cos, 0), atol=1e-4)

    def distances(p):
        cb = all_atom.pseudo_beta(aatype, p, mask).positions
        return jnp.linalg.norm(cb[:, None] - cb[None, :], axis=-1)

    np.testing.assert_allclose(distances(moved), distances(positions), atol=1e-3)
