"""Importing checkpoints of public MRNet code bases into model packages.

A layer above `store`, `inference` and `training`: it reads foreign state
dicts, may fit a fusion by scoring a data set, and writes through the store's
writer. Nothing below it imports it.
"""
