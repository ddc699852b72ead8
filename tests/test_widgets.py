"""The app's shared pieces that need no running app: the page list and the charts' config."""
from __future__ import annotations

from pathlib import Path

from app_pages.widgets.figures import PLOTLY_CONFIG, PLOTLY_CONFIG_NO_TOOLBAR
from app_pages.widgets.pages import HOME, PAGES, PAGES_DIR

ROOT = Path(__file__).resolve().parent.parent


def test_every_page_script_exists_outside_a_folder_streamlit_would_run_by_itself():
    for page in (HOME, *PAGES):
        assert (ROOT / page.path).is_file() and Path(page.path).parent == Path(PAGES_DIR)
    assert PAGES_DIR != "pages"  # Streamlit's legacy multipage folder, which bypasses st.navigation
    assert len({page.url_path for page in (HOME, *PAGES)}) == len(PAGES) + 1


def test_every_chart_is_configured_in_one_place():
    assert PLOTLY_CONFIG == {"displaylogo": False}
    assert PLOTLY_CONFIG_NO_TOOLBAR == {"displaylogo": False, "displayModeBar": False}
    written = [path.relative_to(ROOT) for path in (ROOT / "app_pages").rglob("*.py")
               if "displaylogo" in path.read_text() and path.name != "figures.py"]
    assert written == []
