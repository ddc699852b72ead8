"""Sessions share one cached network: concurrent questions to it must each get their own answer."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

from alexnet_explorer.inspection import feature_maps
from alexnet_explorer.model import alexnet

THREADS, ROUNDS, LAYERS = 8, 5, ("conv1", "conv5", "fc7")


def test_threads_sharing_one_network_each_get_the_maps_of_their_own_image_and_layer():
    torch.manual_seed(0)
    net = alexnet(67).eval()
    images = [torch.rand(1, 1, 67, 67) for _ in range(THREADS)]
    expected = {(i, layer): feature_maps(net, x, layer) for i, x in enumerate(images) for layer in LAYERS}

    def ask(i: int) -> list[tuple[int, str, torch.Tensor]]:
        return [(i, layer, feature_maps(net, images[i], layer)) for _ in range(ROUNDS) for layer in LAYERS]

    with ThreadPoolExecutor(THREADS) as pool:
        answers = [answer for answers in pool.map(ask, range(THREADS)) for answer in answers]
    wrong = [(i, layer) for i, layer, maps in answers
             if maps.shape != expected[i, layer].shape or not torch.allclose(maps, expected[i, layer])]
    assert len(answers) == THREADS * ROUNDS * len(LAYERS) and wrong == []
    assert all(not module._forward_hooks for module in net.modules())
