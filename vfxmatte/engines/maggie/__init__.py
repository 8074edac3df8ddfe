"""The ``maggie`` engine: a trainable instance-matting network in the MaGGIe design.

One file per model part, as RobustVideoMatting's repository does it: :mod:`.config` (the
architecture as data, stored in every checkpoint), :mod:`.id_embed`, :mod:`.encoder`,
:mod:`.decoder`, :mod:`.instance_decoder`, :mod:`.refiner`, :mod:`.model` (the network),
:mod:`.checkpoint` (safetensors files and the RVM initialisation), :mod:`.export` (ONNX) and
:mod:`.engine` (the adapter to the engine contract).
"""
