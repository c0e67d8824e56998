"""Core's ImageProcessor against transformers' image processors (PIL backend) on the shared real photos."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mf.errors import ImageError
from mf.image_processing import ImageProcessor, center_crop, resized_shape

FIXTURES = Path(__file__).parent / "fixtures"
IMAGES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "images"
GOLDEN = np.load(FIXTURES / "image_processor_golden.npz")
CONFIGS = json.loads((FIXTURES / "image_processor_configs.json").read_text())

needs_images = pytest.mark.skipif(not IMAGES.is_dir(), reason=f"the shared photos are not at {IMAGES}")


@needs_images
@pytest.mark.parametrize("setting", sorted(CONFIGS))
def test_pixel_values_equal_transformers_on_real_photos(setting):
    processor = ImageProcessor.from_dict(CONFIGS[setting])
    for key in GOLDEN.files:
        name, photo = key.split("/")
        if name != setting or photo == "array":
            continue
        pixels = processor(str(IMAGES / photo), return_tensors="np")["pixel_values"][0]
        assert pixels.dtype == np.float32 and pixels.shape == GOLDEN[key].shape, (photo, pixels.shape)
        np.testing.assert_array_equal(pixels, GOLDEN[key], err_msg=f"{setting} {photo}")


@needs_images
def test_every_input_kind_gives_the_same_pixels_and_a_batch_stacks():
    processor = ImageProcessor.from_dict(CONFIGS["vit"])
    path = IMAGES / "chelsea.png"
    image = Image.open(path)
    array = np.asarray(image.convert("RGB"))
    expected = GOLDEN["vit/array"]
    for given in (str(path), path, image, array, np.moveaxis(array, -1, 0), array.astype(np.float32) / 255):
        pixels = processor(given, return_tensors="np")["pixel_values"]
        np.testing.assert_allclose(pixels[0], expected, atol=1e-6)  # float input: one rounding to uint8
    batch = processor([str(path), str(IMAGES / "horse.png")])["pixel_values"]
    assert tuple(batch.shape) == (2, 3, 40, 40) and str(batch.dtype) == "Float32"
    np.testing.assert_array_equal(batch.asnumpy()[1], GOLDEN["vit/horse.png"])


def test_settings_round_trip_through_preprocessor_config(tmp_path):
    processor = ImageProcessor.from_dict(CONFIGS["bit"])
    processor.save_pretrained(tmp_path)
    again = ImageProcessor.from_pretrained(str(tmp_path))
    assert again.to_dict() == processor.to_dict()
    assert json.loads((tmp_path / "preprocessor_config.json").read_text())["size"] == {"shortest_edge": 36}


def test_grey_models_take_one_channel():
    processor = ImageProcessor(size=28, num_channels=1, image_mean=[0.5], image_std=[0.5])
    colour = np.zeros((28, 28, 3), np.uint8)
    colour[..., 0] = 255
    pixels = processor(colour, return_tensors="np")["pixel_values"]
    assert pixels.shape == (1, 1, 28, 28)
    grey = np.asarray(Image.fromarray(colour).convert("L"), np.float32) / 255
    np.testing.assert_allclose(pixels[0, 0], (grey - 0.5) / 0.5, atol=1e-6)


def test_resize_and_crop_geometry():
    assert resized_shape(300, 451, {"shortest_edge": 256}) == (256, 384)
    assert resized_shape(451, 300, {"shortest_edge": 256}) == (384, 256)
    assert resized_shape(300, 451, {"height": 20, "width": 30}) == (20, 30)
    array = np.arange(2 * 5 * 7).reshape(2, 5, 7)
    np.testing.assert_array_equal(center_crop(array, 3, 3), array[:, 1:4, 2:5])
    padded = center_crop(np.ones((1, 2, 2)), 4, 4)  # smaller than the crop: zeros around it
    assert padded.shape == (1, 4, 4) and padded.sum() == 4 and padded[0, 1:3, 1:3].all()


def test_bad_images_are_named(tmp_path):
    processor = ImageProcessor(size=8)
    with pytest.raises(ImageError, match="does not exist"):
        processor(str(tmp_path / "missing.png"))
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match="not an image Pillow can read"):
        processor(str(tmp_path / "notes.png"))
    with pytest.raises(ImageError, match="shape"):
        processor(np.zeros((2, 2, 2, 2, 2), np.uint8))
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        processor(np.full((4, 4, 3), 7.0, np.float32))
    with pytest.raises(ImageError, match="expected an image path"):
        processor(42)
    with pytest.raises(ImageError, match="resample"):
        ImageProcessor(resample="smooth")
