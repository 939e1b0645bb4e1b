"""The one torch network definition (network.py, shipped verbatim by the .py export) and the builder that turns a
design's plan into it; crosscheck counts the built model with independent tools."""
