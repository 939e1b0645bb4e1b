"""Streamlit entry point: `streamlit run app.py`. Pages only render what the explorer library computes."""

import streamlit as st

from explorer.ui import nav

st.set_page_config(page_title="CNN architecture explorer", page_icon=":material/hub:", layout="wide")
nav.navigation().run()
