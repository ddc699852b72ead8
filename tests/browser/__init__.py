"""Browser tests: a real Streamlit server driven through Chromium."""
