"""CNN architecture explorer: design, count, build, measure, export and fine-tune MobileNet-style networks.

The library never imports Streamlit; only app.py and explorer/ui/ do.
"""

__version__ = "0.2.0"
