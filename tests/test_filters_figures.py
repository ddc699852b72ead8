"""The Filters page's figures and PNG export, and the inspection helpers they rely on (no Streamlit)."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from alexnet_explorer import exports, plots
from alexnet_explorer.inspection import activation_grid, filter_grid, filter_norms, holdout_probe

KERNEL, STEP = 11, 12  # conv1's kernel, and a tile plus its one-pixel gap


@pytest.fixture(scope="module")
def weights() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(96, 1, KERNEL, KERNEL) * torch.linspace(0.1, 2, 96).view(96, 1, 1, 1)


def heatmap(figure) -> object:
    (trace,) = [t for t in figure.data if t.type == "heatmap"]
    return trace


# --- filter grid ------------------------------------------------------------------------------------------------

def test_filter_grid_figure_is_a_crisp_heatmap_centred_on_zero(weights):
    trace = heatmap(plots.filters_figure(weights))
    assert np.asarray(trace.z).shape == (8 * STEP - 1, 12 * STEP - 1)
    assert (trace.zmin, trace.zmid, trace.zmax) == (-1, 0, 1)
    assert trace.zsmooth is False
    assert trace.colorscale == plots.go.Heatmap(colorscale=exports.DIVERGING).colorscale


def test_grid_figure_axes_keep_square_pixels_and_first_row_on_top(weights):
    layout = plots.filters_figure(weights).layout
    assert layout.yaxis.scaleanchor == "x" and layout.yaxis.autorange == "reversed"
    # The figure is sized to the grid so that no blank band is left around it.
    plot_height = layout.height - layout.margin.t - layout.margin.b
    assert plot_height / (layout.width - plots.COLORBAR_PX) == pytest.approx((8 * STEP - 1) / (12 * STEP - 1), rel=0.02)


def test_each_tile_has_a_clickable_marker_at_its_centre_naming_its_index_and_norm(weights):
    figure = plots.filters_figure(weights)
    assert heatmap(figure).hoverinfo == "skip"
    (markers,) = [t for t in figure.data if t.type == "scatter"]
    norms = filter_norms(weights)
    for index in (0, 13, 95):
        assert (markers.x[index], markers.y[index]) == ((index % 12) * STEP + 5, (index // 12) * STEP + 5)
        assert markers.customdata[index][0] == index
        assert markers.customdata[index][1] == pytest.approx(norms[index])
    assert markers.marker.opacity == 0 and figure.layout.hoverdistance == -1  # any click picks the nearest tile


def test_selected_tile_is_outlined_and_no_outline_without_selection(weights):
    (shape,) = plots.filters_figure(weights, selected=13).layout.shapes
    assert (shape.x0, shape.x1, shape.y0, shape.y1) == (STEP - 1, STEP + KERNEL, STEP - 1, STEP + KERNEL)
    assert plots.filters_figure(weights).layout.shapes == ()


def test_dead_filters_are_greyed_where_the_chosen_order_puts_them(weights):
    order = list(range(len(weights)))[::-1]
    figure = plots.filters_figure(weights, order=order, dead=[0, 2])
    markers = figure.data[1]
    assert [int(row[0]) for row in markers.customdata] == order  # hover and clicks name the filter shown there
    greys = [(shape.x0, shape.y0) for shape in figure.layout.shapes]
    positions = [order.index(0), order.index(2)]
    assert greys == [((p % 12) * STEP - 0.5, (p // 12) * STEP - 0.5) for p in positions]
    evolution = plots.filter_evolution_figure({0: weights, 1: weights}, dead=[3])
    assert len(evolution.layout.shapes) == 1  # a layout shape: it stays on every frame


def test_shared_scale_changes_the_figure(weights):
    per_filter = np.asarray(heatmap(plots.filters_figure(weights, "per_filter")).z)
    shared = np.asarray(heatmap(plots.filters_figure(weights, "shared")).z)
    assert np.nanmax(np.abs(per_filter[:KERNEL, :KERNEL])) == pytest.approx(1.0)
    assert np.nanmax(np.abs(shared[:KERNEL, :KERNEL])) < 0.2  # filter 0 is the weakest


def test_enlarged_filter_shows_its_weights(weights):
    trace = heatmap(plots.filter_figure(weights, 7))
    np.testing.assert_allclose(trace.customdata, weights[7, 0].double().numpy())
    assert np.abs(trace.z).max() == pytest.approx(1.0) and (trace.zmin, trace.zmax) == (-1, 1)


# --- evolution --------------------------------------------------------------------------------------------------

def test_evolution_has_one_frame_per_epoch_and_play_controls(weights):
    snapshots = {0: weights, 1: weights * 2, 3: -weights}
    figure = plots.filter_evolution_figure(snapshots, "shared")
    assert [frame.name for frame in figure.frames] == ["0", "1", "3"]
    np.testing.assert_allclose(figure.frames[2].data[0].z, filter_grid(-weights, "shared"), rtol=1e-6)
    (slider,) = figure.layout.sliders
    assert [step.label for step in slider.steps] == ["0 (random init)", "1", "3"]
    labels = [button.label for button in figure.layout.updatemenus[0].buttons]
    assert any("Play" in label for label in labels) and any("Pause" in label for label in labels)
    within = plots.filter_evolution_figure({0: weights, 0.383: weights * 1.5, 1: weights * 2})  # frames in epochs
    assert [frame.name for frame in within.frames] == ["0", "0.383", "1"]
    assert [list(step.args[0]) for step in within.layout.sliders[0].steps] == [["0"], ["0.383"], ["1"]]
    assert [step.label for step in within.layout.sliders[0].steps] == ["0 (random init)", "0.38", "1"]


def test_filter_history_shows_one_labelled_tile_per_epoch_with_the_epoch_outlined(weights):
    step = KERNEL + 3  # gaps three pixels wide, with room under each tile for its label
    figure = plots.filter_history_figure({0: weights, 1: weights * 2, 2: weights * 3}, 5, epoch=1)
    assert np.asarray(heatmap(figure).z).shape == (step, 3 * step - 3)  # and a band under the row for the labels
    assert [row[0] for row in figure.data[1].customdata] == [0, 1, 2]
    assert figure.data[1].hovertemplate.startswith("epoch ")
    assert figure.layout.shapes[0].x0 == step - 1
    labels = figure.layout.annotations
    assert [label.text for label in labels] == ["epoch 0", "epoch 1", "epoch 2"]
    assert [label.x for label in labels] == [5, step + 5, 2 * step + 5] and {label.y for label in labels} == {12}
    many = plots.filter_history_figure({e: weights for e in range(11)}, 5, epoch=9, columns=8)
    assert np.asarray(heatmap(many).z).shape == (2 * step, 8 * step - 3)  # wrapped into rows of eight
    assert (many.layout.shapes[0].x0, many.layout.shapes[0].y0) == (step - 1, step - 1)
    assert [(label.text, label.y) for label in many.layout.annotations][7:9] == [("epoch 7", 12), ("epoch 8", 26)]


def test_changes_figure_plots_percentages_per_epoch():
    (bar,) = plots.filter_changes_figure([(1, 0.25), (2, 0.05)]).data
    assert list(bar.x) == [1, 2] and list(bar.y) == pytest.approx([25.0, 5.0])


# --- feature maps, hand-crafted vs learned, projections ----------------------------------------------------------

def test_feature_maps_figure_follows_the_channel_order_on_a_zero_to_one_scale():
    maps = torch.rand(20, 6, 6)
    maps[4] *= 10
    channels = [4, 0, 19]
    trace = heatmap(plots.feature_maps_figure(maps, channels))
    assert (trace.zmin, trace.zmax) == (0, 1)
    assert trace.colorscale == plots.go.Heatmap(colorscale=exports.SEQUENTIAL).colorscale
    hover = plots.feature_maps_figure(maps, channels).data[1].customdata
    assert [row[0] for row in hover] == channels
    assert hover[0][1] == pytest.approx(maps[4].mean().item(), rel=1e-5)


def test_activation_grid_tiles_the_chosen_channels_in_order():
    maps = torch.rand(10, 5, 5)
    grid = activation_grid(maps, [3, 1], columns=2)
    np.testing.assert_allclose(grid[:, :5], maps[3] / maps[3].max(), rtol=1e-6)
    np.testing.assert_allclose(grid[:, 6:], maps[1] / maps[1].max(), rtol=1e-6)
    assert np.isnan(grid[:, 5]).all()


def test_big_maps_get_wider_gaps_in_the_grid_and_the_figure():
    maps = torch.rand(3, 54, 54)  # conv1 at input 224
    grid = activation_grid(maps, [0, 1, 2], columns=3)
    assert grid.shape == (54, 3 * 54 + 2 * 5) and np.isnan(grid[:, 54:59]).all()
    markers = plots.feature_maps_figure(maps, [0, 1, 2]).data[1]
    assert list(markers.x) == [26.5, 26.5 + 59, 26.5 + 118]  # tile centres one tile plus the gap apart


def test_kernels_and_responses_are_paired_and_scaled_to_unit_magnitude():
    kernels = {"a": np.array([[1.0, -4.0], [0.0, 2.0]]), "b": np.ones((3, 3))}
    responses = {"a": np.full((4, 4), -3.0), "b": np.zeros((4, 4))}
    figure = plots.kernels_and_responses_figure(kernels, responses)
    assert len(figure.data) == 4
    np.testing.assert_allclose(figure.data[0].z, kernels["a"] / 4)
    np.testing.assert_allclose(figure.data[1].z, -np.ones((4, 4)))
    np.testing.assert_allclose(figure.data[3].z, np.zeros((4, 4)))  # an all-zero response stays zero, not NaN
    assert (figure.layout.coloraxis.cmin, figure.layout.coloraxis.cmid, figure.layout.coloraxis.cmax) == (-1, 0, 1)


def test_projections_have_one_legend_entry_per_class_and_one_panel_per_embedding():
    rng = np.random.default_rng(0)
    labels = np.arange(30) % 3
    embeddings = {"raw · PCA": rng.normal(size=(30, 2)), "fc7 · PCA": rng.normal(size=(30, 2))}
    figure = plots.projections_figure(embeddings, labels, ["cat", "dog", "cow"])
    assert [t.name for t in figure.data if t.showlegend] == ["cat", "dog", "cow"]
    assert len(figure.data) == 6 and sum(len(t.x) for t in figure.data) == 60
    assert [a.text for a in figure.layout.annotations] == list(embeddings)
    dogs = figure.data[4]  # second panel, second class
    np.testing.assert_allclose(np.column_stack([dogs.x, dogs.y]), embeddings["fc7 · PCA"][labels == 1])


def test_holdout_probe_trains_on_the_first_part_and_tests_on_the_rest():
    labels = np.arange(100) % 2
    features = labels[:, None] + np.random.default_rng(0).normal(0, 0.1, size=(100, 3))
    assert holdout_probe(features, labels) == 1.0
    flipped = labels.copy()
    flipped[70:] = 1 - flipped[70:]  # only the held-out 30% disagree with training
    assert holdout_probe(features, flipped) == 0.0
    with pytest.raises(ValueError):
        holdout_probe(features[:1], labels[:1])


# --- PNG export -------------------------------------------------------------------------------------------------

def test_png_export_is_a_valid_png_of_the_upscaled_grid_with_white_gaps(weights):
    grid = filter_grid(weights)
    image = Image.open(io.BytesIO(exports.grid_png(grid, scale=3)))
    assert image.format == "PNG" and image.mode == "RGB"
    assert image.size == (grid.shape[1] * 3, grid.shape[0] * 3)
    pixels = np.asarray(image)
    assert (pixels[KERNEL * 3:STEP * 3, :] == 255).all()  # the first horizontal gap, three pixels high
    assert (pixels[:3, :3] == pixels[0, 0]).all()  # nearest-neighbour: one value, one solid block


def test_png_export_is_about_a_slide_wide_by_default_and_never_shrinks():
    assert Image.open(io.BytesIO(exports.grid_png(np.zeros((95, 143))))).size == (143 * 8, 95 * 8)
    assert Image.open(io.BytesIO(exports.grid_png(np.zeros((439, 1319))))).size == (1319, 439)


def test_png_colours_follow_the_diverging_scale():
    grid = np.array([[-1.0, 0.0, 1.0, np.nan, 5.0]])
    pixels = np.asarray(Image.open(io.BytesIO(exports.grid_png(grid, scale=1))))[0]
    lut = exports.palette(exports.DIVERGING)
    assert (pixels[0] == lut[0]).all() and (pixels[2] == lut[-1]).all()
    assert (pixels[1] == lut[len(lut) // 2]).all() and pixels[1].min() > 230  # zero is (nearly) white
    assert pixels[0][2] > pixels[0][0] and pixels[2][0] > pixels[2][2]  # negative blue, positive red
    assert (pixels[3] == 255).all() and (pixels[4] == pixels[2]).all()  # gap white, beyond +1 clipped


def test_png_export_rejects_unusable_input():
    with pytest.raises(ValueError):
        exports.grid_png(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError):
        exports.grid_png(np.zeros((2, 2)), vmin=1.0, vmax=1.0)
    with pytest.raises(ValueError):
        exports.grid_png(np.zeros((2, 2)), scale=0)


def test_pictures_are_enlarged_by_whole_pixels_or_shrunk_to_fit():
    image = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    enlarged = exports.fitted(image, 112)
    assert enlarged.shape == (112, 112)
    np.testing.assert_array_equal(enlarged[::4, ::4], image)  # each pixel a crisp 4×4 block
    assert exports.fitted(image, 100).shape == (84, 84)  # whole pixels only: 3×, not 3.57×
    photo = np.zeros((300, 600, 3), np.uint8)
    assert exports.fitted(photo, 140).shape == (70, 140, 3)  # the aspect kept


def test_a_picture_as_a_data_url_decodes_to_the_fitted_png():
    image = np.eye(28, dtype=np.uint8) * 255
    url = exports.png_data_url(image, 56)
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    np.testing.assert_array_equal(decoded, exports.fitted(image, 56))
