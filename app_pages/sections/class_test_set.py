"""The class's own test set on the Classify page: keep a drawn or uploaded picture with what it really is; the
instructor (or the one person using the app) downloads the set as a ZIP or deletes it."""
from __future__ import annotations

import hashlib

import streamlit as st

from alexnet_explorer import class_test_set
from alexnet_explorer.class_test_set import Prepared
from alexnet_explorer.data import CLASSES
from app_pages.widgets import identity
from app_pages.widgets.pictures import Picture

KEPT_HERE = "classify_kept_here"  # the pictures this session kept: it may take them back
LABEL_KEY = "classify_keep_label"


def offer_to_keep(picture: Picture) -> None:
    """Under the answer to a drawn or uploaded picture: say what it really is, and keep it for the class's test set
    (or take it back, once kept)."""
    image = picture.prepared.picture
    st.markdown("**Keep it for our class's test set**")
    earlier = class_test_set.find(image)
    if earlier is not None:
        count = len(class_test_set.kept())
        st.success(f"Kept as a **{CLASSES[earlier.label]}**: our test set has {count} picture{'s' * (count != 1)}.",
                   icon=":material/bookmark_added:")
        if earlier.name in st.session_state.get(KEPT_HERE, set()) or identity.person().instructor:
            if st.button("Take it back", key="classify_unkeep", icon=":material/undo:"):
                class_test_set.forget(earlier)
                st.rerun()
        return
    digest = hashlib.sha256(image.tobytes()).hexdigest()
    if st.session_state.get("classify_keep_for") != digest:  # another picture: ask afresh what it is
        st.session_state.pop(LABEL_KEY, None)
        st.session_state.classify_keep_for = digest
    choose, keep = st.columns([3, 1], vertical_alignment="bottom")
    label = choose.selectbox("What it really is", range(len(CLASSES)), index=None, format_func=CLASSES.__getitem__,
                             placeholder="Choose the garment it shows…", key=LABEL_KEY)
    if keep.button("Keep", key="classify_keep", disabled=label is None, icon=":material/bookmark_add:"):
        kept = class_test_set.keep(image, label)
        st.session_state[KEPT_HERE] = st.session_state.get(KEPT_HERE, set()) | {kept.name}
        st.rerun()
    st.caption("Only pictures someone chooses to keep are saved, on this computer beside the runs: together they "
               "are our own test set, whose results are under “Where it errs”.")


def manage_class_test_set(prepared: Prepared | None) -> None:
    """What the class test set holds, and for the instructor its ZIP and a way to delete it."""
    if prepared is None or not (prepared.pictures or prepared.unreadable):
        st.info("Our class's test set is empty. Under the answer to a drawing or an upload, say what the picture "
                "really is and keep it: the kept pictures show how the network does on our data, beside its own "
                "test set.", icon=":material/collections_bookmark:")
        return
    if prepared.unreadable:
        st.warning(f"{len(prepared.unreadable)} kept picture(s) cannot be read and are left out: "
                   + ", ".join(picture.name for picture in prepared.unreadable), icon=":material/warning:")
    if not identity.person().instructor:
        st.caption("The instructor can download our test set or delete it.")
        return
    pictures = class_test_set.kept()
    download, delete = st.columns(2)
    download.download_button("Download it (ZIP)", class_test_set.zip_archive(pictures), "class-test-set.zip",
                             "application/zip", key="classify_class_zip", icon=":material/download:",
                             help="A folder per class of PNG files, and labels.csv")
    with delete.popover("Delete it", icon=":material/delete:"):
        st.write(f"Delete all {len(pictures)} kept pictures? This cannot be undone.")
        if st.button("Delete our test set", type="primary", key="classify_forget_all"):
            class_test_set.forget_all(identity.person())
            st.rerun()
