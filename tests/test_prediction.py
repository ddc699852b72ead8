"""Predictions from a checkpoint: probabilities, the upload path, where the network looked (Captum's saliency,
Grad-CAM, occlusion, integrated gradients, SmoothGrad, each against a hand computation or a property that must hold),
and unusable checkpoints."""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alexnet_explorer.classifier import Classifier, describe_progress, load_classifier
from alexnet_explorer import prediction, unfamiliar
from alexnet_explorer.config import RunConfig
from alexnet_explorer.data import CLASSES, DEBIAN_DIR, find_idx_files, load_fashion_mnist, subset, to_model_input
from alexnet_explorer.inspection import extract_features
from alexnet_explorer.config import build_model
from alexnet_explorer.preprocess import open_picture, prepare_upload, preprocess
from alexnet_explorer.runs import CHECKPOINT_FORMAT, CheckpointError

CONFIG = RunConfig(resize=65, init="kaiming", epochs=2, device="cpu")


def fixed_seed_checkpoint(config: RunConfig = CONFIG, seed: int = 0) -> dict:
    """A checkpoint in the training loop's format holding a network initialised from a fixed seed."""
    torch.manual_seed(seed)
    return {"format": CHECKPOINT_FORMAT, "config": config.to_dict(), "model": build_model(config).state_dict(),
            "epoch": 2, "batch": 0, "metrics": [0.5, 0.8, 0.75]}


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run") / "checkpoint.pt"
    torch.save(fixed_seed_checkpoint(), path)
    return path


@pytest.fixture(scope="module")
def model(checkpoint_path: Path) -> Classifier:
    return load_classifier(checkpoint_path)


@pytest.fixture(scope="module")
def images(fixture_data_dir: Path) -> np.ndarray:
    """Eight light-on-black 28×28 pictures of the fixture set."""
    return load_fashion_mnist(fixture_data_dir, allow_download=False).test_images[:8, 0].numpy()


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_load_classifier_reads_the_network_settings_and_progress(model: Classifier) -> None:
    assert model.size == 65 and model.config == CONFIG
    assert (model.epoch, model.batch, model.test_acc) == (2, 0, 0.75)
    assert not model.net.training  # dropout off: the same picture always gets the same answer


def test_probabilities_are_ten_per_picture_and_sum_to_one(model: Classifier, images: np.ndarray) -> None:
    probs = prediction.probabilities(model, list(images))
    assert probs.shape == (8, 10)
    assert np.allclose(probs.sum(axis=1), 1.0) and (probs >= 0).all()
    assert not np.allclose(probs[0], probs[1])  # different pictures, different answers
    alone = prediction.probabilities(model, [images[3]])
    # A batch answers each picture as if it were alone, but adds in other orders: the logits differ by about 1e-6
    # of their size, the probabilities by up to 6.5e-7 (this network, the CPU kernels tried).
    assert np.abs(alone[0] - probs[3]).max() < 1e-5


def test_one_pass_answers_as_probabilities_and_the_fc7_features_do(model: Classifier,
                                                                    fixture_data_dir: Path) -> None:
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)

    def features_and_logits(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            logits = model.net(to_model_input(images, model.size))
        return torch.from_numpy(extract_features(model.net, images, model.size)), logits

    train_features, _ = features_and_logits(data.train_images)
    fitted = unfamiliar.fit(train_features, data.train_labels, *features_and_logits(data.test_images))
    pictures = list(data.test_images[:8, 0].numpy())
    probs, verdicts = prediction.answer(model, pictures, fitted)
    assert np.allclose(probs, prediction.probabilities(model, pictures), atol=1e-6)
    assert verdicts == unfamiliar.assess(fitted, *features_and_logits(data.test_images[:8]), pictures)
    assert prediction.answer(model, pictures)[1] is None  # no fit, no verdicts


def test_describe_progress_says_how_far_training_had_come(model: Classifier) -> None:
    assert describe_progress(model) == "after epoch 2 of 2, test accuracy 75.0%"
    stopped = dataclasses.replace(model, epoch=1, batch=3, test_acc=None)
    assert describe_progress(stopped) == ("after epoch 1 of 2 and 3 batches of the next (it was stopped "
                                                     "mid-epoch)")


def test_uploads_are_answered_in_one_table_with_their_problems(model: Classifier,
                                                               images: np.ndarray) -> None:
    uploads = [prepare_upload(png_bytes(images[0]), "one.png"), prepare_upload(b"a shopping list", "notes.png"),
               prepare_upload(png_bytes(images[5]), "two.png")]
    rows = prediction.answer_uploads(model, uploads)
    assert [row.name for row in rows] == ["one.png", "notes.png", "two.png"]
    for row, image in ((rows[0], images[0]), (rows[2], images[5])):
        probs = prediction.probabilities(model, [preprocess(open_picture(png_bytes(image))).image28])[0]
        assert (row.answer, row.problem) == (CLASSES[probs.argmax()], None)
        assert row.confidence == pytest.approx(probs.max(), abs=1e-5)  # two in a batch against one: as above
    assert (rows[1].answer, rows[1].confidence) == (None, None) and "is not a picture" in rows[1].problem
    assert prediction.answer_uploads(model, uploads[1:2])[0].problem == rows[1].problem  # none usable: no batch


def test_feature_grid_side_is_the_side_of_the_layer_output(model: Classifier) -> None:
    shapes = []
    hook = model.net.conv5.register_forward_hook(lambda module, inputs, output: shapes.append(output.shape))
    try:
        with torch.no_grad():
            model.net(torch.zeros(1, 1, model.size, model.size))
    finally:
        hook.remove()
    assert prediction.feature_grid_side(model, "conv5") == shapes[0][-1] == shapes[0][-2]
    assert prediction.feature_grid_side(model, "conv1") > prediction.feature_grid_side(model, "conv5")


@pytest.mark.real_data
@pytest.mark.skipif(find_idx_files(DEBIAN_DIR) is None, reason=f"real Fashion-MNIST not installed in {DEBIAN_DIR}")
def test_a_test_image_keeps_its_answer_through_the_upload_path(model: Classifier) -> None:
    data = load_fashion_mnist(DEBIAN_DIR, allow_download=False)
    originals = subset(data.test_images, data.test_labels, 100, seed=0)[0][:, 0].numpy()
    direct = prediction.probabilities(model, list(originals)).argmax(axis=1)
    uploaded = [preprocess(open_picture(png_bytes(image), "test.png")).image28 for image in originals]
    through_upload = prediction.probabilities(model, uploaded).argmax(axis=1)
    assert len(set(direct)) >= 2, "the network answers the same for everything: the comparison would prove nothing"
    assert (through_upload == direct).mean() >= 0.95
    # The comparison can tell: a path that spoils the pictures (here: inverts them) changes many answers.
    inverted = prediction.probabilities(model, [255 - image for image in originals]).argmax(axis=1)
    assert (inverted == direct).mean() < 0.9


@pytest.mark.parametrize("explain", [prediction.saliency, prediction.grad_cam, prediction.smooth_grad,
                                     lambda *args: prediction.integrated_gradients(*args).heat])
def test_explanations_are_28x28_non_negative_maps_peaking_at_one(model: Classifier, images: np.ndarray,
                                                                  explain) -> None:
    top = int(prediction.probabilities(model, [images[0]])[0].argmax())
    heat = explain(model, images[0])
    assert heat.shape == (28, 28) and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    assert np.ptp(heat) > 0
    assert np.allclose(explain(model, images[0], top), heat)  # the default target is the top class
    assert not np.allclose(explain(model, images[0], (top + 1) % 10), heat)
    assert all(p.grad is None for p in model.net.parameters())  # the shared network's gradients are left alone
    assert not model.net.training


def test_saliency_is_the_size_of_the_input_gradient(model: Classifier, images: np.ndarray) -> None:
    pixels = torch.tensor(images[1], dtype=torch.float32).div(255).reshape(1, 1, 28, 28).requires_grad_()
    logits = model.net(torch.nn.functional.interpolate(pixels, size=65, mode="bilinear", align_corners=False))
    logits[0, 4].backward()
    expected = pixels.grad.abs()[0, 0].numpy()
    assert np.allclose(prediction.saliency(model, images[1], target=4), expected / expected.max(), atol=1e-5)


def test_saliency_and_grad_cam_hook_nothing_of_the_shared_network(model: Classifier, images: np.ndarray) -> None:
    """Captum's hooks go on modules made for the call: another session's pass through the network never meets them."""
    prediction.grad_cam(model, images[0], layer="conv3")
    prediction.smooth_grad(model, images[0])
    for module in model.net.modules():
        assert not (module._forward_hooks or module._forward_pre_hooks or module._backward_hooks)


def test_integrated_gradients_add_up_to_the_rise_of_the_score_from_black(model: Classifier,
                                                                        images: np.ndarray) -> None:
    """Completeness: the pixels' contributions sum to the class's score for the picture less that for black."""
    for image, target in ((images[0], None), (images[3], 6)):
        found = prediction.integrated_gradients(model, image, target)
        x = torch.tensor(np.stack([image, np.zeros_like(image)]), dtype=torch.float32)[:, None].div(255)
        with torch.no_grad():
            scores = model.net(torch.nn.functional.interpolate(x, size=65, mode="bilinear", align_corners=False))
        target = int(scores[0].argmax()) if target is None else target
        assert (found.score, found.black_score) == pytest.approx(scores[:, target].tolist(), abs=1e-4)
        rise = found.score - found.black_score
        assert found.pixels.sum() == pytest.approx(rise, abs=0.01 * abs(rise) + 1e-4)
        assert found.delta < 0.01 * abs(rise) + 1e-4
        assert not found.pixels[image == 0].any()  # a black pixel is the baseline already: it adds nothing


def test_integrated_gradients_of_a_linear_network_are_weight_times_pixel(images: np.ndarray) -> None:
    """For a linear score the path's gradient is constant: each pixel contributes its weight times its value."""
    torch.manual_seed(4)
    tiny = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(65 * 65, 10)).eval()
    model = Classifier(tiny, CONFIG, 0, 0, None)
    pixels = torch.tensor(images[1], dtype=torch.float32).div(255).reshape(1, 1, 28, 28).requires_grad_()
    tiny(torch.nn.functional.interpolate(pixels, size=65, mode="bilinear", align_corners=False))[0, 2].backward()
    expected = (pixels.grad * pixels).detach()[0, 0].numpy()
    np.testing.assert_allclose(prediction.integrated_gradients(model, images[1], 2).pixels, expected, atol=1e-6)


def test_smooth_grad_is_saliency_averaged_over_noisy_copies(model: Classifier, images: np.ndarray) -> None:
    """The same map on every call (a generator of its own), no noise gives saliency, and noise changes it."""
    heat = prediction.smooth_grad(model, images[2], 1)
    assert np.array_equal(prediction.smooth_grad(model, images[2], 1), heat)
    np.testing.assert_allclose(prediction.smooth_grad(model, images[2], 1, samples=3, noise=0.0),
                               prediction.saliency(model, images[2], 1), atol=1e-6)
    assert not np.allclose(heat, prediction.saliency(model, images[2], 1), atol=1e-3)
    state = torch.random.get_rng_state()
    prediction.smooth_grad(model, images[2], 1)
    assert torch.equal(torch.random.get_rng_state(), state)  # the generator every session shares is left alone


def test_grad_cam_refuses_a_layer_that_is_not_a_convolution(model: Classifier, images: np.ndarray) -> None:
    with pytest.raises(ValueError, match="layer must be one of conv1"):
        prediction.grad_cam(model, images[0], layer="fc7")


def test_class_examples_are_of_that_class_distinct_and_stable(fixture_data_dir: Path) -> None:
    labels = load_fashion_mnist(fixture_data_dir, allow_download=False).test_labels
    chosen = prediction.class_examples(labels, 7, count=5)
    assert len(chosen) == len(set(chosen)) == 5 and all(labels[i] == 7 for i in chosen)
    assert prediction.class_examples(labels, 7, count=5) == chosen
    assert prediction.class_examples(labels, 7, count=5, seed=1) != chosen


SMALL = {"format": CHECKPOINT_FORMAT, "config": CONFIG.to_dict(), "model": {}}  # cheap stand-ins for the weights


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda path, good: path.write_bytes(b"not a checkpoint at all"), id="not-pytorch"),
    pytest.param(lambda path, good: path.write_bytes(good.read_bytes()[:4000]), id="truncated"),
    pytest.param(lambda path, good: torch.save({"some": "other model"}, path), id="foreign"),
    pytest.param(lambda path, good: torch.save({**SMALL, "config": {"resize": 10}}, path), id="bad-config"),
    pytest.param(lambda path, good: torch.save({**SMALL, "model": {"conv1.weight": torch.zeros(3)}}, path),
                 id="weights-do-not-fit"),
    pytest.param(lambda path, good: torch.save({**SMALL, "config": CONFIG}, path), id="pickled-object"),
])
def test_an_unusable_checkpoint_is_a_checkpoint_error(tmp_path: Path, checkpoint_path: Path, spoil) -> None:
    path = tmp_path / "checkpoint.pt"
    spoil(path, checkpoint_path)
    with pytest.raises(CheckpointError):
        load_classifier(path)


def test_a_missing_checkpoint_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="there is no checkpoint"):
        load_classifier(tmp_path / "checkpoint.pt")


def test_grad_cam_defaults_to_the_deepest_layer_with_a_fine_enough_grid() -> None:
    def classifier(size: int) -> Classifier:
        config = CONFIG.replace(resize=size)
        return Classifier(build_model(config).eval(), config, 0, 0, None)

    small, book = classifier(67), classifier(224)
    assert [prediction.feature_grid_side(small, layer) for layer in prediction.grad_cam_layers(small)] == [7, 3, 3, 3]
    assert prediction.default_grad_cam_layer(small) == "conv2"  # conv5's 3×3 cells are a third of the garment
    assert prediction.feature_grid_side(book, "conv5") == 12 and prediction.default_grad_cam_layer(book) == "conv5"
    heat = prediction.grad_cam(small, np.full((28, 28), 200, np.uint8), layer="conv2")
    assert heat.shape == (28, 28)


def hand_occlusion(model: Classifier, image: np.ndarray, target: int, patch: int, stride: int,
                   fill: int) -> np.ndarray:
    """The occlusion map one patch at a time, pixel by pixel: each pixel's mean fall over the patches covering it."""
    def probability(picture: np.ndarray) -> float:
        x = torch.tensor(picture, dtype=torch.float32).div(255).reshape(1, 1, 28, 28)
        with torch.no_grad():
            logits = model.net(torch.nn.functional.interpolate(x, size=model.size, mode="bilinear",
                                                               align_corners=False))
        return torch.softmax(logits.double(), dim=1)[0, target].item()

    base = probability(image)
    falls = [[[] for _ in range(28)] for _ in range(28)]
    top = 0
    while True:
        left = 0
        while True:
            hidden = image.copy()
            hidden[top:top + patch, left:left + patch] = fill
            fall = base - probability(hidden)
            for row in range(top, top + patch):
                for col in range(left, left + patch):
                    falls[row][col].append(fall)
            if left + patch == 28:
                break
            left = min(left + stride, 28 - patch)
        if top + patch == 28:
            break
        top = min(top + stride, 28 - patch)
    return np.array([[np.mean(cell) for cell in row] for row in falls])


def test_occlusion_matches_a_patch_by_patch_computation_on_a_tiny_network(images: np.ndarray) -> None:
    torch.manual_seed(3)
    tiny = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(65 * 65, 10)).eval()
    model = Classifier(tiny, CONFIG, 0, 0, None)
    for patch, stride in ((8, 2), (4, 3)):
        hidden = prediction.occlusion(model, images[2], target=4, patch=patch, stride=stride, fill=128)
        np.testing.assert_allclose(hidden.drop, hand_occlusion(model, images[2], 4, patch, stride, 128), atol=1e-6)
        assert hidden.probability == pytest.approx(prediction.probabilities(model, [images[2]])[0, 4])
    heat = prediction.occlusion(model, images[2]).heat
    assert heat.shape == (28, 28) and heat.min() == 0 and heat.max() == pytest.approx(1.0)
    # Captum's squares start at 0, stride, 2 × stride…: with 28 − 5 not a multiple of 3 the last column of pixels
    # would never be hidden, so such a square is refused rather than drawn with a blind edge.
    with pytest.raises(ValueError, match="does not reach the far edge"):
        prediction.occlusion(model, images[2], patch=5, stride=3)


def test_occlusion_finds_the_only_pixels_a_network_reads(images: np.ndarray) -> None:
    """A network that reads only the picture's top-left corner: hiding anything else changes nothing."""
    weights = torch.zeros(10, 1, 65, 65)
    weights[0, 0, :10, :10] = 0.02  # class 0's score: the corner's brightness (small: no saturation)
    tiny = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(65 * 65, 10)).eval()
    with torch.no_grad():
        tiny[1].weight.copy_(weights.flatten(1))
        tiny[1].bias.zero_()
    model = Classifier(tiny, CONFIG, 0, 0, None)
    bright_corner = np.zeros((28, 28), np.uint8)
    bright_corner[:4, :4] = 255
    hidden = prediction.occlusion(model, bright_corner, target=0)
    corner = hidden.drop[:4, :4].min()
    assert corner > 0.05  # hiding the corner takes much of class 0's probability (0.38): 0.08 to 0.15 per pixel
    # No patch that covers a pixel beyond row or column 11 reaches the 5×5 pixels the network reads (its 65-px corner,
    # resized), so hiding it changes the answer only by float32 rounding, which differs between CPU kernels (the
    # batch's rows may go through different ones): 1.4e-8 here, 2e-7 of the corner's fall. The limit, a ten-thousandth
    # of that fall, is hundreds of times the rounding, and a map whose patches landed one step (2 px) off shows a
    # fall of 0.004 beyond row or column 11, hundreds of times the limit.
    far = np.ones((28, 28), bool)
    far[:12, :12] = False
    assert np.abs(hidden.drop[far]).max() < 1e-4 * corner


def test_occlusion_that_changes_nothing_draws_no_heat(images: np.ndarray) -> None:
    """A network that barely reads its picture: every square moves the answer by a hair, and the map stays empty
    instead of drawing the largest hair as bright as a real part."""
    tiny = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(65 * 65, 10)).eval()
    with torch.no_grad():
        tiny[1].weight.normal_(std=1e-4)
        tiny[1].bias.copy_(torch.arange(10.0))  # the answer is class 9 whatever the picture
    hidden = prediction.occlusion(Classifier(tiny, CONFIG, 0, 0, None), images[2])
    assert 0 < hidden.largest_drop < prediction.NOTICEABLE_DROP and hidden.changes_nothing
    assert not hidden.heat.any()


def test_the_share_of_a_map_on_the_background_is_its_weight_outside_the_garment() -> None:
    picture = np.zeros((28, 28), np.uint8)
    picture[10:20, 10:20] = 200  # a garment of 100 pixels on black
    heat = np.zeros((28, 28))
    heat[10:20, 10:20] = 1.0
    assert prediction.share_on_background(heat, picture) == 0
    heat[0:5, 0:20] = 1.0  # as much weight again on the empty black
    assert prediction.share_on_background(heat, picture) == pytest.approx(0.5)
    assert prediction.share_on_background(np.zeros((28, 28)), picture) == 0


def test_a_randomised_top_layer_changes_grad_cams_map(model: Classifier, images: np.ndarray) -> None:
    heat = prediction.grad_cam(model, images[0], 3, "conv5")
    check = prediction.sanity_check(model, images[0], 3, heat, lambda m, image, t: prediction.grad_cam(m, image, t),
                                    layers=1)
    assert check.randomised == ("fc8",)
    assert not np.allclose(check.heat, heat, atol=1e-3) and check.correlation < 0.99
    same = prediction.sanity_check(model, images[0], 3, heat, lambda m, image, t: prediction.grad_cam(m, image, t),
                                   layers=0)
    assert same.randomised == () and np.allclose(same.heat, heat) and same.correlation == pytest.approx(1.0)


def test_randomising_from_the_top_replaces_only_those_layers_and_leaves_the_network_alone(
        model: Classifier) -> None:
    before = {name: p.clone() for name, p in model.net.named_parameters()}
    randomised = prediction.randomised_from_top(model, 3).net
    for name, module in model.net.named_children():
        if name in ("fc8", "fc7", "fc6"):
            assert getattr(randomised, name) is not module
            assert not torch.allclose(getattr(randomised, name).weight, module.weight)
            # random, but of the trained weights' spread: the signal neither vanishes nor explodes on the way up
            assert getattr(randomised, name).weight.std().item() == pytest.approx(module.weight.std().item(), rel=0.05)
        elif not isinstance(module, torch.nn.Dropout):
            assert getattr(randomised, name) is module  # shared, not copied
    assert all(torch.equal(p, before[name]) for name, p in model.net.named_parameters())
    assert torch.equal(prediction.randomised_from_top(model, 3, seed=1).net.fc8.weight,
                       prediction.randomised_from_top(model, 3, seed=1).net.fc8.weight)


def test_rank_correlation_is_spearmans_on_the_pixels() -> None:
    first = np.arange(16.0).reshape(4, 4)
    assert prediction.rank_correlation(first, first ** 3) == pytest.approx(1.0)  # the same order: 1
    assert prediction.rank_correlation(first, -first) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    a, b = rng.random((28, 28)), rng.random((28, 28))
    ranks = lambda m: np.argsort(np.argsort(m.ravel()))  # noqa: E731 — distinct values: ranks without ties
    assert prediction.rank_correlation(a, b) == pytest.approx(np.corrcoef(ranks(a), ranks(b))[0, 1])
    assert np.isnan(prediction.rank_correlation(np.zeros((28, 28)), a))  # a flat map has no order
