"""The Streamlit layer: renders what the explorer library computes. The only package that imports streamlit."""
