"""Library behind the book "Topology of CNNs".

One module per concern: ``data`` (dataset registry), ``topology`` (persistence and its
vectorisations), ``models`` (the CNNs of chapters 1 and 2), ``resnet`` (CIFAR ResNets),
``train`` (training loop and evaluation), ``cache`` (content-addressed artifacts), ``claims``
(the scorecard's records), ``plotting`` (figure style) and ``book`` (the runner that executes
chapters and builds the book).
"""

__version__ = "0.1.0"
