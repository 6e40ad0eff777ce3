"""Third-party files bundled so that reports work offline.

``3Dmol-min.js`` is the minified browser build of 3Dmol.js 2.5.5 (the version py3Dmol
2.5.5 pairs with), taken unchanged from the npm package ``3dmol@2.5.5``
(``package/build/3Dmol-min.js``); its BSD-3-Clause licence, which also covers the
GLmol, three.js and jQuery code it contains, is ``3Dmol-LICENSE.txt`` (the package's
``LICENSE``); ``3Dmol-min.js.LICENSE.txt`` is the build's banner (name, version, authors)
that the minified file points to. To update: ``npm pack 3dmol@<version>``, copy the
three files, and change :data:`THREEDMOL_VERSION` and :data:`THREEDMOL_SHA256`.
"""

from __future__ import annotations

import hashlib
from importlib import resources

THREEDMOL_VERSION = "2.5.5"
THREEDMOL_FILE = "3Dmol-min.js"
THREEDMOL_LICENSE_FILE = "3Dmol-LICENSE.txt"
#: sha256 of ``3Dmol-min.js`` as shipped in ``3dmol-2.5.5.tgz``.
THREEDMOL_SHA256 = "f7cc78921ae72e7623e89cdd111434f58c2efddd2ffda1cd212644b406fb8016"


def threedmol_js() -> str:
    """The bundled 3Dmol.js source, checked against its recorded sha256."""
    data = resources.files(__name__).joinpath(THREEDMOL_FILE).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != THREEDMOL_SHA256:
        raise RuntimeError(
            f"bundled {THREEDMOL_FILE} has sha256 {digest}, expected {THREEDMOL_SHA256}; "
            "reinstall folding"
        )
    return data.decode("utf-8")
