"""AlexNet Explorer: ``streamlit run streamlit_app.py`` starts the app; this file declares its pages."""
from pathlib import Path

import streamlit as st

from app_pages.widgets.pages import HOME, PAGES

# A file served by the app itself: a material icon as the page icon makes browsers fetch it from a font server.
ICON = Path(__file__).parent / "assets" / "icon.png"

st.set_page_config(page_title="AlexNet Explorer", page_icon=str(ICON), layout="wide")
home = st.Page(HOME.path, title=HOME.title, icon=HOME.icon, default=True)
st.navigation([home, *(st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path) for p in PAGES)]).run()
