"""The tabs a page gets a picture from: a canvas to draw on, an uploader (several files answered in a table), and
the test images (test_images.py); each tab keeps its picture while another is open."""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from alexnet_explorer import exports
from alexnet_explorer.classifier import Classifier
from alexnet_explorer.prediction import answer_uploads
from alexnet_explorer.preprocess import (
    FILE_TYPES,
    MAX_UPLOAD_BYTES,
    PictureError,
    PreprocessOptions,
    Upload,
    canvas_to_image,
    prepare_uploads,
    preprocess,
)
from alexnet_explorer.unfamiliar import FamiliarityFit
from app_pages.widgets.pictures import (
    DRAW,
    PICK,
    RANDOM,
    UPLOAD,
    Picture,
    PictureChoice,
    PictureSources,
    picture_columns,
)
from app_pages.widgets.session import keep_for_session
from app_pages.widgets.test_images import pick_test_image, show_random_test_image

DRAWING_TOOLS = {"Brush": "freedraw", "Polygon": "polygon", "Rectangle": "rect", "Circle": "circle"}
CANVAS_SIDE = 280
KEPT_WIDGETS = ("source", "tool", "brush", "eraser", "pick_class", "pick_index")  # after each page's key prefix
THUMBNAIL = 56  # pixels, in the table of several uploads


def choose_picture(sources: PictureSources, data_source: str | None, options: PreprocessOptions | None = None,
                   classifier: Classifier | None = None, familiarity: FamiliarityFit | None = None) -> PictureChoice:
    """A tab per source, each keeping its picture while another is open, and every tab's choices, drawing and
    uploads while another page is shown; returns the open tab's. With a classifier, several files can be uploaded at
    once and its answers to them are tabled (with ``familiarity``'s verdicts)."""
    keep_for_session([f"{sources.key_prefix}_{widget}" for widget in KEPT_WIDGETS])
    tabs = st.tabs(list(sources.tabs.values()), key=f"{sources.key_prefix}_source", on_change="rerun")
    widgets = {DRAW: lambda: draw_picture(sources, options),
               UPLOAD: lambda: upload_pictures(sources, options, classifier, familiarity),
               PICK: lambda: pick_test_image(sources, data_source),
               RANDOM: lambda: show_random_test_image(sources, data_source)}
    opened = None
    for source, tab in zip(sources.tabs, tabs):
        # Every tab's widgets run on every rerun, so a drawing, an upload or a choice survives a visit to another tab.
        with tab:
            choice = widgets[source]()
        if tab.open:
            opened = choice
    return opened


def draw_picture(sources: PictureSources, options: PreprocessOptions | None) -> PictureChoice:
    """A canvas to draw a garment on, light on black like Fashion-MNIST, and its preprocessed drawing."""
    # Imported here: the component registers itself on import, which fails outside a running Streamlit app.
    from streamlit_drawable_canvas import st_canvas

    area, beside = picture_columns(sources)
    prefix = sources.key_prefix
    # Defaults set here, not on the widgets: keep_for_session puts their values back, and a widget given both warns.
    st.session_state.setdefault(f"{prefix}_tool", "Brush")
    st.session_state.setdefault(f"{prefix}_brush", 24)
    with area:
        tool = st.segmented_control("Tool", list(DRAWING_TOOLS), required=True, key=f"{prefix}_tool")
        width_col, eraser_col = st.columns(2, vertical_alignment="bottom")
        width = width_col.slider("Brush width", 4, 60, key=f"{prefix}_brush")
        eraser = eraser_col.toggle("Eraser (paints black)", key=f"{sources.key_prefix}_eraser")
        st.caption("Draw the garment light on black, as in Fashion-MNIST: paint it with a wide brush, or fill its "
                   "outline with the polygon (click the corners, then the first one again), rectangle or circle. "
                   "Undo, redo and clear (the bin) are on the canvas's toolbar.")
        st.space("small")  # the canvas's toolbar floats above it and would cover a widget here
        ink = "#000000" if eraser else "#ffffff"
        canvas_key, kept_key, start_key = f"{prefix}_canvas", f"{prefix}_drawing", f"{prefix}_drawing_start"
        if canvas_key not in st.session_state:  # a new canvas (the page opened again): it starts from the drawing
            st.session_state[start_key] = st.session_state.get(kept_key, (None, None))[0]
        canvas = st_canvas(fill_color=ink, stroke_color=ink, stroke_width=width, background_color="#000000",
                           height=CANVAS_SIDE, width=CANVAS_SIDE, drawing_mode=DRAWING_TOOLS[tool],
                           initial_drawing=st.session_state[start_key], return_image_data=True, key=canvas_key)
        if canvas.image_data is not None:
            st.session_state[kept_key] = (canvas.json_data, canvas.image_data)
        # A canvas that starts from a drawing sends no picture until it is drawn on: the kept one stands for it.
        image = st.session_state.get(kept_key, (None, None))[1]
        picture = None
        if image is None:
            st.info("Draw a garment on the canvas: a sneaker, a bag, a pair of trousers…", icon=":material/draw:")
        else:
            try:
                prepared = preprocess(canvas_to_image(image), options)
                picture = Picture(prepared.image28, "your drawing", prepared=prepared)
            except PictureError as error:
                st.info(str(error), icon=":material/draw:")
    return PictureChoice(DRAW, picture, None, area, beside)


def upload_pictures(sources: PictureSources, options: PreprocessOptions | None, classifier: Classifier | None,
                    familiarity: FamiliarityFit | None = None) -> PictureChoice:
    """A file uploader and the preprocessed upload; with a classifier, several files, its answers in a table and
    the selected row's upload."""
    several, key = classifier is not None, f"{sources.key_prefix}_upload"
    st.file_uploader(
        "Pictures of garments" if several else "A picture of a garment", type=list(FILE_TYPES),
        accept_multiple_files=several, key=key, max_upload_size=MAX_UPLOAD_BYTES // 2**20, on_change=keep_uploads,
        args=(key,), help="PNG, JPEG, WebP, BMP or GIF (its first frame)." + (" Several at once give a table of "
                                                                            "answers." if several else ""))
    files = st.session_state.get(f"{key}_kept", [])
    if files and not st.session_state.get(key):  # the uploader is new: this page was opened again
        st.caption("Kept from before: " + ", ".join(f"“{name}”" for name, _ in files) + ". Drop others to replace "
                   "them.")
    uploads, duplicates = prepare_uploads(files, options)
    if not uploads:
        st.info(f"Drop {'pictures' if several else 'a picture'} here or browse: a photo of a shoe, a drawing of a "
                "shirt…", icon=":material/upload:")
    for note in duplicates:
        st.caption(note)
    chosen = answer_uploads_table(sources, classifier, uploads, familiarity) if len(uploads) > 1 else 0
    area, beside = picture_columns(sources)
    if not uploads:
        return PictureChoice(UPLOAD, None, None, area, beside)
    upload = uploads[chosen]
    if upload.prepared is None:
        return PictureChoice(UPLOAD, None, upload.problem, area, beside)
    if sources.answer_beside:
        area.image(exports.fitted(upload.prepared.picture, 280), caption=upload.name)
    return PictureChoice(UPLOAD, Picture(upload.prepared.image28, upload.name, prepared=upload.prepared), None,
                         area, beside)


def keep_uploads(key: str) -> None:
    """Keep what the uploader holds now (name and content of each file) for the session: the uploader itself is
    empty again when its page is opened again."""
    files = st.session_state.get(key) or []
    st.session_state[f"{key}_kept"] = [(file.name, file.getvalue()) for file in
                                       (files if isinstance(files, list) else [files])]


def answer_uploads_table(sources: PictureSources, classifier: Classifier, uploads: Sequence[Upload],
                         familiarity: FamiliarityFit | None = None) -> int:
    """One row per file: thumbnails, the network's answer, confidence and whether it is a guess, or the problem
    (each problem also in full under the table: a cell cuts long text off); returns the selected row (first: 0)."""
    answers = answer_uploads(classifier, uploads, familiarity)
    rows = [{"picture": exports.png_data_url(upload.prepared.picture, THUMBNAIL) if upload.prepared else None,
             "28×28": exports.png_data_url(upload.prepared.image28, THUMBNAIL) if upload.prepared else None,
             "file": answer.name, "answer": answer.answer, "confidence": answer.confidence,
             "note": answer.verdict.summary() if answer.verdict else None, "problem": answer.problem}
            for upload, answer in zip(uploads, answers)]
    table = st.dataframe(
        rows, hide_index=True, on_select="rerun", selection_mode="single-row", key=f"{sources.key_prefix}_table",
        row_height=60, height=min(len(rows), 8) * 60 + 40, placeholder="", column_config={
            "picture": st.column_config.ImageColumn("picture", width="small"),
            "28×28": st.column_config.ImageColumn("28×28", width="small", help="What the network sees"),
            "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0, max_value=1),
            "note": st.column_config.TextColumn("note", help="“a guess”: the picture is unlike the garments the "
                                                             "network learned from; and what shows in it"),
            "problem": st.column_config.TextColumn("problem", width="large", help="In full under the table")})
    problems = [answer.problem for answer in answers if answer.problem]
    if problems:
        st.warning("\n".join(f"- {problem}" for problem in problems), icon=":material/warning:")
    chosen = table.selection.rows[0] if table.selection.rows else 0
    st.caption(f"Explained below: **{uploads[chosen].name}** (select a row to explain another).")
    return chosen
