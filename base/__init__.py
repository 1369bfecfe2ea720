"""The base every layer stands on: errors, settings, logging, pseudonyms and the directory parser.

It imports nothing of alignmon's own packages; tests/test_layers.py holds the arrows.
"""
