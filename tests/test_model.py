"""The network: shapes, parameter count, and an oracle against the chapter's verbatim listing."""
import pytest
import torch
from torch import nn

from alexnet_explorer.config import RunConfig
from alexnet_explorer.model import (MAX_INPUT_SIZE, MIN_INPUT_SIZE, Conv2d, Dropout, MaxPool2d, alexnet,
                                    check_input_size, count_parameters, feature_side, layer_output_shapes, layer_units)


def chapter_listing() -> nn.Sequential:
    """The d2l chapter's AlexNet, copied verbatim."""
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 10))


def test_parameter_count_and_flatten_width_match_the_chapter():
    net = alexnet()
    assert count_parameters(net) == 46_764_746
    assert net.fc6.in_features == 6400
    assert count_parameters(net) == count_parameters(chapter_listing())


def test_outputs_equal_the_chapters_listing_with_the_same_weights():
    ours, theirs = alexnet().eval(), chapter_listing().eval()
    with torch.no_grad():
        for mine, reference in zip(ours.parameters(), theirs.parameters(), strict=True):
            reference.copy_(mine)
    x = torch.rand(2, 1, 224, 224)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


@pytest.mark.parametrize("size, side", [(65, 1), (96, 1), (128, 2), (224, 5)])
def test_any_size_from_65_gives_ten_logits(size, side):
    net = alexnet(size).eval()
    assert feature_side(size) == side
    assert net.fc6.in_features == 256 * side * side
    with torch.no_grad():
        assert net(torch.rand(3, 1, size, size)).shape == (3, 10)


def test_layer_shapes_at_224_follow_the_chapter():
    shapes = dict(layer_output_shapes(alexnet(), 224))
    assert shapes["conv1"] == (96, 54, 54)
    assert shapes["pool1"] == (96, 26, 26)
    assert shapes["conv2"] == (256, 26, 26)
    assert shapes["pool5"] == (256, 5, 5)
    assert shapes["fc8"] == (10,)


def test_too_small_an_input_names_the_smallest_size():
    with pytest.raises(ValueError, match=f"smallest size is {MIN_INPUT_SIZE}"):
        alexnet(64)


def test_too_large_an_input_is_refused_before_any_memory_is_taken():
    check_input_size(MAX_INPUT_SIZE)
    with pytest.raises(ValueError, match=r"largest is 448, .* 25,192 million weights"):
        RunConfig(resize=5000)  # its fc6 alone would need 100 GB


@pytest.mark.parametrize("options", [{"activation": "tanh"}, {"pooling": "min"}, {"init": "zeros"}, {"dropout": 1.0}])
def test_unknown_options_are_refused(options):
    with pytest.raises(ValueError):
        alexnet(96, **options)


def test_ablation_options_change_the_layers():
    net = alexnet(96, activation="sigmoid", pooling="avg", dropout=0.0)
    assert isinstance(net.act1, nn.Sigmoid) and isinstance(net.pool1, nn.AvgPool2d)
    assert net.drop6.p == 0.0


def test_xavier_init_uses_the_xavier_range_and_default_does_not():
    torch.manual_seed(0)
    bound = (6 / (4096 + 4096)) ** 0.5
    xavier = alexnet(65, init="xavier").fc7.weight
    default = alexnet(65, init="pytorch-default").fc7.weight
    assert xavier.abs().max() <= bound and xavier.abs().max() > 0.9 * bound
    assert default.abs().max() <= 1 / 4096 ** 0.5 < 0.6 * bound  # PyTorch's default bound is 1/sqrt(fan_in)


def test_a_layer_counts_its_channels_or_units():
    net = alexnet(67)
    counts = {layer: layer_units(net, layer) for layer in ("conv1", "conv2", "conv3", "conv5", "fc6", "fc7", "fc8")}
    assert counts == {"conv1": 96, "conv2": 256, "conv3": 384, "conv5": 256, "fc6": 4096, "fc7": 4096, "fc8": 10}


def test_a_standardised_network_is_the_plain_one_on_centred_and_scaled_pictures():
    torch.manual_seed(0)
    plain = alexnet(67, init="kaiming").eval()
    standardised = alexnet(67, init="kaiming", standardise=True).eval()
    assert list(standardised.state_dict()) == ["standardise.mean", "standardise.std", *plain.state_dict()]
    standardised.load_state_dict({"standardise.mean": torch.tensor(0.3), "standardise.std": torch.tensor(0.4),
                                  **plain.state_dict()})
    x = torch.rand(3, 1, 67, 67)
    torch.testing.assert_close(standardised(x), plain((x - 0.3) / 0.4))
    assert count_parameters(standardised) == count_parameters(plain)  # fixed: nothing for SGD to move


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_dropout_keeps_each_unit_with_probability_one_minus_p_and_scales_it_as_torchs(p):
    torch.manual_seed(0)
    x = torch.rand(1000, 1000) + 0.5  # no zeros of its own
    ours = Dropout(p).train()(x)
    kept = ours != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005  # 10⁶ units: the binomial's std is 0.0005
    assert torch.allclose(ours[kept], x[kept] / (1 - p))
    theirs = nn.Dropout(p).train()(x)  # the oracle: the same mean, the same spread
    assert abs(ours.mean().item() - theirs.mean().item()) < 0.01
    assert abs(ours.std().item() - theirs.std().item()) < 0.01


def test_dropout_passes_its_mask_to_the_gradient_and_does_nothing_at_inference():
    torch.manual_seed(0)
    x = torch.rand(64, 256, requires_grad=True)
    out = Dropout(0.5).train()(x)
    out.sum().backward()
    assert torch.equal(x.grad, (out != 0).float() * 2)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.count_nonzero(Dropout(1.0).train()(x)) == 0


def test_dropout_draws_the_same_mask_from_the_same_seed():
    x = torch.ones(32, 4096, dtype=torch.bfloat16)
    masks = []
    for _ in range(2):
        torch.manual_seed(7)
        masks.append(Dropout(0.5).train()(x))
    assert torch.equal(*masks) and masks[0].dtype == torch.bfloat16


def _bf16_gradients(conv: nn.Conv2d, x: torch.Tensor, upstream: torch.Tensor) -> tuple[str, list[torch.Tensor]]:
    """What autograd ran for a convolution learning in bf16 on a CPU, and the gradients of x, weight and bias."""
    x = x.detach().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    (out.float() * upstream).sum().backward()
    return out.grad_fn.name(), [x.grad, conv.weight.grad, conv.bias.grad]


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize("in_channels, out_channels, kernel, padding, side", [
    (384, 384, (3, 3), (1, 1), (3, 3)),  # conv4 at 67 px
    (96, 256, (5, 5), (2, 2), (7, 7)),  # conv2 at 67 px
    (16, 24, (3, 5), (1, 2), (5, 4)),  # rows and columns differ: a swapped axis would show
])
def test_a_small_maps_weight_gradient_in_bf16_agrees_with_float64(in_channels, out_channels, kernel, padding, side,
                                                                  layout):
    torch.manual_seed(0)
    conv = Conv2d(in_channels, out_channels, kernel, padding=padding).to(memory_format=layout)
    with torch.no_grad():  # values bf16 holds exactly: what is left is the arithmetic's rounding
        conv.weight.copy_(conv.weight.bfloat16())
        conv.bias.copy_(conv.bias.bfloat16())
    x = torch.randn(8, in_channels, *side).bfloat16().float().contiguous(memory_format=layout)
    upstream = torch.randn(8, out_channels, *side).bfloat16().float()
    ran, ours = _bf16_gradients(conv, x, upstream)
    assert ran == "_WeightGradientByProductBackward"

    oracle = [t.detach().double().requires_grad_() for t in (x, conv.weight, conv.bias)]
    (torch.nn.functional.conv2d(*oracle, padding=padding) * upstream.double()).sum().backward()
    for mine, reference in zip(ours, (t.grad for t in oracle), strict=True):
        assert mine.shape == reference.shape and mine.dtype == torch.float32
        assert ((mine.double() - reference).abs().max() / reference.abs().max()).item() < 0.01  # bf16: 8 bits


def test_a_convolution_keeps_torchs_own_gradient_where_the_product_is_not_faster():
    torch.manual_seed(0)
    small, large = torch.randn(4, 8, 3, 3), torch.randn(4, 8, 8, 8)  # 8×8 = 64 positions: oneDNN is faster there
    conv = Conv2d(8, 8, 3, padding=1)
    assert _bf16_gradients(conv, large, torch.ones(4, 8, 8, 8))[0] == "ConvolutionBackward0"
    assert conv(small.requires_grad_()).grad_fn.name() == "ConvolutionBackward0"  # float32
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast leaves float64 as it is
        assert conv.double()(small.double()).grad_fn.name() == "ConvolutionBackward0"
    conv.float()
    strided = Conv2d(8, 8, 3, stride=2, padding=1)
    assert _bf16_gradients(strided, small, torch.ones(4, 8, 2, 2))[0] == "ConvolutionBackward0"
    conv.weight.requires_grad_(False)  # a fixed layer (hand-made filters): nothing to learn
    assert _bf16_gradients(conv, small, torch.ones(4, 8, 3, 3))[0] == "ConvolutionBackward0"


@pytest.mark.parametrize("shape, kernel, stride, padding, ceil_mode", [
    ((16, 96, 15, 15), 3, 2, 0, False),  # pool1 at 67 px
    ((16, 256, 7, 7), 3, 2, 0, False),  # pool2
    ((4, 8, 9, 6), 2, None, 1, True),  # rows and columns differ, the stride is the kernel's, padded, a ragged window
])
def test_max_pooling_by_way_of_channels_last_gives_torchs_maxima_and_gradients(shape, kernel, stride, padding,
                                                                               ceil_mode):
    torch.manual_seed(0)
    # After ReLU, as in the network: many windows tie at 0, where two kernels could pick different winners.
    x = torch.randn(shape).relu().requires_grad_()
    ours = MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode)
    torchs = nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode)
    out, expected = ours(x), torchs(x)
    assert out.grad_fn.name() == "_PooledInChannelsLastBackward"
    assert torch.equal(out, expected) and out.is_contiguous()
    upstream = torch.randn_like(expected)
    grad, expected_grad = (torch.autograd.grad(y, x, upstream)[0] for y in (out, expected))
    assert torch.equal(grad, expected_grad) and grad.is_contiguous()


def test_max_pooling_keeps_torchs_own_where_the_round_trip_does_not_pay():
    pool = MaxPool2d(3, 2)
    large = torch.randn(2, 4, 28, 28)  # 784 positions: the copies cost more than they save
    channels_last = torch.randn(2, 4, 15, 15).contiguous(memory_format=torch.channels_last)
    bf16 = torch.randn(2, 4, 15, 15, dtype=torch.bfloat16)  # measured in float32 only
    for x in (large, channels_last, bf16):
        assert pool(x.requires_grad_()).grad_fn.name() == "MaxPool2DWithIndicesBackward0"


def test_a_convolution_without_bias_learns_by_the_product_too():
    torch.manual_seed(0)
    conv = Conv2d(8, 16, 3, padding=1, bias=False)
    x = torch.randn(4, 8, 3, 3).bfloat16().float().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    assert out.grad_fn.name() == "_WeightGradientByProductBackward"
    out.float().sum().backward()
    weight = conv.weight.detach().bfloat16().double().requires_grad_()  # what the bf16 product multiplied
    torch.nn.functional.conv2d(x.detach().double(), weight, padding=1).sum().backward()
    assert ((conv.weight.grad.double() - weight.grad).abs().max() / weight.grad.abs().max()).item() < 0.01
