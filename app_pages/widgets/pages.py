"""The app's pages: each one's script, title, URL path, icon and the line the home page says about it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its script, title, URL path, icon and the line the home page says about it."""

    path: str
    title: str
    url_path: str
    icon: str
    blurb: str


# Page scripts' folder, relative to streamlit_app.py. Not "pages": Streamlit treats a folder of that name as its
# legacy multipage app, and a fresh server opened at /train would then run the page without st.navigation.
PAGES_DIR = "app_pages"
HOME = PageSpec(f"{PAGES_DIR}/home.py", "Home", "", ":material/home:", "The chapter's story in a few lines.")
# Adding a page to the app (navigation and home page) is one line here.
PAGES = (
    PageSpec(f"{PAGES_DIR}/train.py", "Train", "train", ":material/model_training:",
             "Train the chapter's AlexNet on Fashion-MNIST (or LeNet, or a hand-made pipeline of before 2012) and "
             "watch its loss and accuracy live; undo the "
             "chapter's choices one at a time (sigmoid, average pooling, no dropout) and compare the runs."),
    PageSpec(f"{PAGES_DIR}/filters.py", "Filters", "filters", ":material/grid_view:",
             "See what the first layer learned, what the network sees in an image, and why its features separate "
             "the classes."),
    PageSpec(f"{PAGES_DIR}/classify.py", "Classify", "classify", ":material/checkroom:",
             "Draw, upload or pick a garment: the trained network answers, and shows where it looked."),
    PageSpec(f"{PAGES_DIR}/scoreboard.py", "Scoreboard", "scoreboard", ":material/leaderboard:",
             "Hand-made features against LeNet and AlexNet, measured on the full test set: does the chapter's "
             "claim hold on Fashion-MNIST?"),
)
