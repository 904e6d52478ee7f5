"""Library behind the book "Topology of CNNs".

One module per concern:

* data and training: ``data`` (dataset registry), ``transients`` (the simulator), ``train``
  (training loop and evaluation), ``cache`` (content-addressed artifacts), ``kinds`` (the code
  that makes each kind of artifact, hashed into its keys), ``archive`` (trained networks packed
  into one verified archive), ``manifest`` (what a chapter records for the chapters that reuse
  its networks);
* forward hooks: ``hooks`` (named layers' outputs in one pass);
* persistence: ``topology`` (cubical and Rips persistence, vectorisations, diagram distances);
* chapters 1-2 (P1): ``models`` (fusion CNNs), ``fusion``, ``explain`` (Grad-CAM, inverse
  images), ``localisation``, ``localisation_baselines`` (maps made without a network);
* chapter 3 (P3): ``filters`` (filter spaces, density filtration, the primary circle),
  ``filter_nets`` (the small CNNs whose filters are studied);
* chapters 4-5 (P2): ``fastnet`` (a CIFAR network trained in minutes), ``resnet`` (CIFAR
  ResNets), ``cifar_networks`` (both, trained and cached),
  ``activations`` (point clouds of hidden layers, CKA), ``layer_comparison``, ``mapper``;
* chapter 6 (P4): ``volume_betti`` (Betti numbers of activation volumes at a threshold),
  ``decay`` (complexity by layer, the decay score theta, its specification panel), ``released``
  (P4's released arrays), ``precursor`` (Naitzat et al.'s k-NN Betti numbers), ``zoo`` (the model
  zoo), ``transferability`` (LogME, LEEP, H-score, rank correlations);
* the book: ``claims`` (effects with intervals, the verdict rules, the scorecard's records),
  ``plotting`` (figure style, table format), ``pages`` (which cells fold, checks of a built book),
  ``book`` (the runner that executes chapters and builds the book).
"""

__version__ = "0.1.0"
