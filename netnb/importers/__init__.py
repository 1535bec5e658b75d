"""Labs written for other tools, turned into netnb labs: Kathará folders, containerlab topologies, Mininet
``Topo`` classes. :func:`load` tells them apart (and reads netnb's own lab files too).

>>> load("no/such/lab")
Traceback (most recent call last):
netnb.errors.TopologyError: the lab description has 1 problem:
  - no/such/lab: no such file or folder; give a Kathará lab folder, a *.clab.yml file, a Mininet topology (*.py) or a netnb lab file (*.yaml)
"""

from __future__ import annotations

import os

from netnb.errors import TopologyError
from netnb.lab import Lab


def load(path: str, *, backend: str | None = None) -> Lab:
    """A Lab from a file or folder of any format netnb reads, described but not started.

    - a Kathará lab: its folder (with ``lab.conf``) or that file;
    - a containerlab topology: ``*.clab.yml`` / ``*.clab.yaml``;
    - a Mininet topology: a ``*.py`` file defining ``topos`` or one ``Topo`` subclass;
    - a netnb lab file: any other ``*.yaml`` / ``*.yml``.

    Every problem comes at once, each with its file and line, in one :class:`netnb.TopologyError`.
    ``backend`` is as for :class:`netnb.Lab` (``"sim"`` runs it in the simulation).

    Example: ``lab = netnb.load("labs/static-routing"); lab.start()``
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise TopologyError([f"{path}: no such file or folder; give a Kathará lab folder, a *.clab.yml file, a "
                             "Mininet topology (*.py) or a netnb lab file (*.yaml)"])
    from netnb.importers.kathara import is_kathara, load as load_kathara

    if is_kathara(path):
        return load_kathara(path, backend=backend)
    if os.path.isdir(path):
        raise TopologyError([f"{path}: a folder without a lab.conf; give a Kathará lab folder or a lab file"])
    name = os.path.basename(path)
    if name.endswith((".clab.yml", ".clab.yaml")):
        from netnb.importers.containerlab import load as load_clab

        return load_clab(path, backend=backend)
    if name.endswith(".py"):
        from netnb.importers.mininet import load as load_mininet

        return load_mininet(path, backend=backend)
    if name.endswith((".yaml", ".yml")):
        from netnb.labfile import load as load_labfile

        return load_labfile(path, backend=backend)
    raise TopologyError([f"{path}: not a format netnb reads (a Kathará folder, *.clab.yml, a Mininet *.py, a "
                         "netnb *.yaml)"])
