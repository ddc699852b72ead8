"""Home page: the chapter's story in a few lines, and where to go next."""
import streamlit as st

from app_pages.widgets.pages import PAGES

st.title("AlexNet Explorer")
st.markdown(
    """
Until 2012, computer vision ran on **hand-made features**: people designed edge, gradient and texture
detectors (SIFT, HOG, …) and only the classifier on top of them was learned.

In 2012 **AlexNet** (Krizhevsky, Sutskever and Hinton) won ImageNet by a wide margin with a deep
convolutional network that **learns its features from the data**, end to end — made possible by GPUs,
ReLU activations, dropout and data augmentation. On ImageNet's colour photos its first layer learned edge
and colour detectors much like the ones people used to build by hand; on Fashion-MNIST's grayscale
garments there is no colour to detect, and it learns edges, stripes and blobs.

This app retraces the chapter *Deep Convolutional Neural Networks (AlexNet)* of d2l.ai on Fashion-MNIST:
train the same network here and watch what it learns.
"""
)
for page in PAGES:
    st.page_link(page.path, label=page.title, icon=page.icon)
    st.caption(page.blurb)
