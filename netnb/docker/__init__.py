"""Docker's networking, reproduced on a lab: ``DockerHost``, containers, networks, published ports.

>>> from netnb.docker import DockerHost, DOCKER_RELEASE
>>> DOCKER_RELEASE.startswith("Docker Engine")
True
"""

from netnb.docker.container import Container
from netnb.docker.host import DockerHost
from netnb.docker.networks import DockerError, Network
from netnb.docker.rules import DOCKER_RELEASE

__all__ = ["DOCKER_RELEASE", "Container", "DockerError", "DockerHost", "Network"]
