"""The class's own test set on disk: keep, move, find, forget, export, and the network's answers to it."""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alexnet_explorer import class_test_set
from alexnet_explorer.classroom import TERMINAL, Person
from alexnet_explorer.config import PRESETS
from alexnet_explorer.config import build_model
from alexnet_explorer.classifier import Classifier
from alexnet_explorer.prediction import probabilities
from alexnet_explorer.preprocess import preprocess
from alexnet_explorer.runs import class_test_set_dir


def drawing(shade: int) -> np.ndarray:
    """A drawn block, light on a transparent canvas (RGBA), as the canvas gives it."""
    rgba = np.zeros((120, 120, 4), np.uint8)
    rgba[30:90, 20:100] = (shade, shade, shade, 255)
    return rgba


def test_kept_pictures_are_pngs_in_a_folder_per_class_and_keeping_again_changes_nothing(tmp_path: Path):
    kept = class_test_set.keep(drawing(255), 7, tmp_path)
    assert kept.path.parent == class_test_set_dir(tmp_path) / "7-sneaker" and kept.label == 7
    np.testing.assert_array_equal(np.asarray(Image.open(kept.path)), drawing(255))  # the picture as it was given
    assert class_test_set.keep(drawing(255), 7, tmp_path) == kept
    assert class_test_set.kept(tmp_path) == [kept]
    assert class_test_set.find(drawing(255), tmp_path) == kept and class_test_set.find(drawing(200), tmp_path) is None


def test_keeping_a_picture_as_another_class_moves_it(tmp_path: Path):
    class_test_set.keep(drawing(255), 7, tmp_path)
    moved = class_test_set.keep(drawing(255), 9, tmp_path)
    assert class_test_set.kept(tmp_path) == [moved] and moved.path.parent.name == "9-ankle-boot"


def test_forget_one_then_all(tmp_path: Path):
    first = class_test_set.keep(drawing(255), 0, tmp_path)
    class_test_set.keep(drawing(200), 3, tmp_path)
    class_test_set.keep(drawing(150), 3, tmp_path)
    class_test_set.forget(first)
    assert sorted(p.label for p in class_test_set.kept(tmp_path)) == [3, 3]
    with pytest.raises(PermissionError):  # a student's session, whatever a page offers
        class_test_set.forget_all(Person("a-student", instructor=False), tmp_path)
    assert len(class_test_set.kept(tmp_path)) == 2
    assert class_test_set.forget_all(TERMINAL, tmp_path) == 2
    assert class_test_set.kept(tmp_path) == [] and not class_test_set_dir(tmp_path).exists()


def test_the_zip_holds_every_picture_and_a_table_of_labels(tmp_path: Path):
    pictures = [class_test_set.keep(drawing(shade), label, tmp_path) for shade, label in ((255, 0), (200, 5))]
    with zipfile.ZipFile(io.BytesIO(class_test_set.zip_archive(pictures))) as archive:
        table = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
        assert sorted(archive.namelist()) == sorted(["labels.csv", *(p.name for p in pictures)])
        for row in table:
            assert archive.read(row["file"]) == (tmp_path / "class-test-set" / row["file"]).read_bytes()
    assert {(row["label"], row["class"]) for row in table} == {("0", "T-shirt/top"), ("5", "Sandal")}


def test_the_networks_answers_to_the_class_test_set(tmp_path: Path):
    class_test_set.keep(drawing(255), 1, tmp_path)
    class_test_set.keep(drawing(120), 4, tmp_path)
    (class_test_set_dir(tmp_path) / "4-coat" / "broken.png").write_bytes(b"not a png")
    prepared = class_test_set.prepare(class_test_set.kept(tmp_path))
    assert [p.path.name for p in prepared.unreadable] == ["broken.png"] and len(prepared.pictures) == 2
    config = PRESETS["smoke"]
    network = Classifier(build_model(config).eval(), config, 0, 0, None)
    answers = class_test_set.answers(network, prepared)
    expected = probabilities(network, [preprocess(Image.open(p.path)).image28 for p in prepared.pictures])
    np.testing.assert_allclose(answers.probabilities, expected)
    assert answers.labels.tolist() == [p.label for p in prepared.pictures]
