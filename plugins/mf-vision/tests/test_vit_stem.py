"""ViT with a convolutional stem (config.stem_channels, mf's extension): the 3x3 stride-2 convolution against a
direct computation, the model's size, saving and loading, and the clear errors."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor

from mf import AutoModel
from mf.errors import ConfigError, WeightsError
from mf.testing import isolate_caches
from mf_vision import Dinov2Config, ViTConfig, ViTForImageClassification
from mf.nn import WeightMatMul
from mf_vision.layers import ProjectionWeights, conv3x3_stride2, project_patches


@pytest.fixture(autouse=True)
def _caches(tmp_path_factory, monkeypatch):
    isolate_caches(tmp_path_factory, monkeypatch)


def reference_convolution(x, weight, bias):
    """nn.Conv2d(kernel 3, stride 2, padding 1) on channels-last x, written out over the nine kernel offsets."""
    batch, height, width, _ = x.shape
    rows, cols = (height + 1) // 2, (width + 1) // 2
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((batch, rows, cols, weight.shape[0])) + bias
    for i in range(3):
        for j in range(3):
            view = padded[:, i:i + 2 * rows:2, j:j + 2 * cols:2]
            out += np.einsum("bhwc,oc->bhwo", view, weight[:, :, i, j])
    return out


@pytest.mark.parametrize("patch_size, height, width", [(1, 7, 7), (2, 9, 8), (4, 28, 28)])
def test_patches_of_a_channels_last_image_project_as_those_of_the_channels_first_one(patch_size, height, width):
    """A stem's channels-last output goes into the patch projection as it is (no transposes, no slice when the
    patches cover the image): the same tokens as the channels-first image, pixels past the last whole patch
    dropped either way."""
    rng = np.random.default_rng(patch_size)
    ms.set_seed(0)
    projection = ProjectionWeights(3, 6, patch_size, 0.5)
    projection.bias.set_data(Tensor(rng.standard_normal(6).astype(np.float32)))
    image = rng.standard_normal((2, 3, height, width)).astype(np.float32)
    first, rows, cols = project_patches(Tensor(image), projection, patch_size)
    last, rows_, cols_ = project_patches(Tensor(image.transpose(0, 2, 3, 1)), projection, patch_size,
                                         channels_last=True)
    assert (rows, cols) == (rows_, cols_) == (height // patch_size, width // patch_size)
    np.testing.assert_allclose(last.asnumpy(), first.asnumpy(), atol=1e-5)
    weight = projection.weight.asnumpy().reshape(6, -1)
    patch = image[1, :, patch_size:2 * patch_size, :patch_size].reshape(-1)  # the second row's first patch
    np.testing.assert_allclose(first.asnumpy()[1, cols], weight @ patch + projection.bias.asnumpy(), atol=1e-5)


@pytest.mark.parametrize("height, width", [(28, 28), (7, 9), (5, 4), (1, 2)])
def test_the_stem_convolution_and_its_gradients_equal_a_direct_computation(height, width):
    rng = np.random.default_rng(height * 10 + width)
    x = rng.standard_normal((2, height, width, 3)).astype(np.float32)
    weight = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    matmul = WeightMatMul()
    out = conv3x3_stride2(Tensor(x), Tensor(weight), Tensor(bias), matmul).asnumpy()
    expected = reference_convolution(x.astype(np.float64), weight.astype(np.float64), bias)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=1e-4)

    # the gradient of sum(out * g): for the weight it is each kernel offset's view against g
    g = rng.standard_normal(out.shape).astype(np.float32)
    grads = ms.grad(lambda x_, w_, b_: (conv3x3_stride2(x_, w_, b_, matmul) * Tensor(g)).sum(), grad_position=(0, 1, 2))(
        Tensor(x), Tensor(weight), Tensor(bias))
    rows, cols = out.shape[1:3]
    padded = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    weight_grad = np.zeros(weight.shape)
    input_grad = np.zeros(padded.shape)
    for i in range(3):
        for j in range(3):
            view = padded[:, i:i + 2 * rows:2, j:j + 2 * cols:2]
            weight_grad[:, :, i, j] = np.einsum("bhwc,bhwo->oc", view, g)
            input_grad[:, i:i + 2 * rows:2, j:j + 2 * cols:2] += np.einsum("bhwo,oc->bhwc", g, weight[:, :, i, j])
    np.testing.assert_allclose(grads[0].asnumpy(), input_grad[:, 1:1 + height, 1:1 + width], atol=1e-3)
    np.testing.assert_allclose(grads[1].asnumpy(), weight_grad, atol=1e-3)
    np.testing.assert_allclose(grads[2].asnumpy(), g.sum((0, 1, 2)), atol=1e-3)


def stem_config(**overrides):
    fields = dict(image_size=28, patch_size=4, num_channels=1, hidden_size=32, num_hidden_layers=1,
                  num_attention_heads=2, intermediate_size=64, stem_channels=[8, 16], num_labels=3)
    return ViTConfig(**dict(fields, **overrides))


def test_a_stem_model_makes_the_plain_grid_counts_its_parameters_and_round_trips(tmp_path):
    ms.set_seed(0)
    model = ViTForImageClassification(stem_config())
    names = {name for name, _ in model.parameters_and_names()}
    assert {"vit.embeddings.patch_embeddings.stem.0.weight", "vit.embeddings.patch_embeddings.stem.1.bias",
            "vit.embeddings.patch_embeddings.projection.weight"} <= names
    assert model.vit.embeddings.patch_embeddings.projection.weight.shape == (32, 16, 1, 1)
    assert sum(p.size for p in model.get_parameters()) == model.config.parameter_count()
    pixels = Tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    hidden = model.vit(pixels)
    assert hidden.shape == (2, 1 + 7 * 7, 32)  # 28 px in 4 px patches: a 7 x 7 grid, as without the stem

    model.save_pretrained(tmp_path / "mf")
    loaded = AutoModel.from_pretrained(str(tmp_path / "mf"))
    assert loaded.config.stem_channels == [8, 16]
    np.testing.assert_array_equal(loaded(pixels).asnumpy(), model(pixels).asnumpy())

    with pytest.raises(WeightsError, match="format='mf'"):
        model.save_pretrained(tmp_path / "hf", format="huggingface")
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").iterdir())  # nothing half-written


def test_stems_that_do_not_fit_are_clear_errors():
    with pytest.raises(ConfigError, match="multiple of 2\\*\\*3"):
        stem_config(stem_channels=[8, 8, 8])  # 4 px patches cannot come from three halvings
    with pytest.raises(ConfigError, match="positive channel counts"):
        stem_config(stem_channels=[8, 0])
    with pytest.raises(ConfigError, match="DINOv2 has no convolutional stem"):
        Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, stem_channels=[8])
