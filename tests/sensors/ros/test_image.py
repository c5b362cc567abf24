"""Images and CameraInfo: decoded values against images made by Pillow or numpy in the test."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from ros_drive import ros1_store, ros2_store, to_rosbags

from sensors.errors import CorruptDataError, InvalidValueError
from sensors.ros.image import (
    camera_intrinsics,
    decode_any_image,
    decode_compressed_image,
    decode_image,
    encode_camera_info,
    encode_compressed_image,
    encode_image,
)
from sensors.ros.types import typestore

HEADER = {"stamp": {"sec": 1, "nanosec": 2}, "frame_id": "cam"}


def rgb_image(h: int = 6, w: int = 10) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def compressed(data: bytes, fmt: str):
    return to_rosbags(ros2_store(), "sensor_msgs/msg/CompressedImage", {"header": HEADER, "format": fmt, "data": data})


def raw(image_bytes: bytes, h: int, w: int, encoding: str, step: int, big_endian: int = 0):
    return to_rosbags(ros2_store(), "sensor_msgs/msg/Image", {"header": HEADER, "height": h, "width": w,
                                                              "encoding": encoding, "is_bigendian": big_endian,
                                                              "step": step, "data": image_bytes})


def test_png_written_by_pillow_decodes_exactly() -> None:
    image = rgb_image()
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    np.testing.assert_array_equal(decode_compressed_image(compressed(buffer.getvalue(), "png")), image)


def test_jpeg_written_by_pillow_decodes_close() -> None:
    image = np.full((16, 16, 3), (200, 40, 90), np.uint8)  # flat colour: JPEG keeps it within a few levels
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=95)
    decoded = decode_compressed_image(compressed(buffer.getvalue(), "rgb8; jpeg compressed bgr8"))
    assert decoded.shape == image.shape and np.abs(decoded.astype(int) - image).max() <= 3


def test_grey_png_becomes_three_equal_channels() -> None:
    grey = rgb_image()[:, :, 0]
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG")
    decoded = decode_compressed_image(compressed(buffer.getvalue(), "png"))
    for c in range(3):
        np.testing.assert_array_equal(decoded[:, :, c], grey)


@pytest.mark.parametrize("data", [b"", b"\xff\xd8\xff\xe0 not really a jpeg", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_corrupt_compressed_image_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(CorruptDataError, match="does not decode"):
        decode_compressed_image(compressed(data, "jpeg"))


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_raw_encodings_with_row_padding(encoding: str) -> None:
    image = rgb_image()
    h, w, _ = image.shape
    layouts = {"rgb8": image, "bgr8": image[:, :, ::-1], "mono8": image[:, :, :1],
               "rgba8": np.dstack([image, np.full((h, w), 7, np.uint8)]),
               "bgra8": np.dstack([image[:, :, ::-1], np.full((h, w), 7, np.uint8)])}
    pixels = np.ascontiguousarray(layouts[encoding]).reshape(h, -1)
    step = pixels.shape[1] + 5
    padded = np.zeros((h, step), np.uint8)
    padded[:, : pixels.shape[1]] = pixels
    decoded = decode_image(raw(padded.tobytes(), h, w, encoding, step))
    expected = np.repeat(image[:, :, :1], 3, axis=2) if encoding == "mono8" else image
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize("big_endian", [0, 1])
def test_mono16_keeps_the_top_byte(big_endian: int) -> None:
    values = np.array([[0, 256, 65535], [4660, 512, 1]], np.uint16)
    data = values.astype(">u2" if big_endian else "<u2").tobytes()
    decoded = decode_image(raw(data, 2, 3, "mono16", 6, big_endian))
    np.testing.assert_array_equal(decoded[:, :, 0], values >> 8)


# Bayer mosaics: the 2x2 tile (rows top to bottom) of each ROS encoding.
TILES = {"bayer_rggb8": ("R", "G", "G", "B"), "bayer_bggr8": ("B", "G", "G", "R"),
         "bayer_gbrg8": ("G", "B", "R", "G"), "bayer_grbg8": ("G", "R", "B", "G")}


@pytest.mark.parametrize("encoding", sorted(TILES))
def test_bayer_demosaicing_recovers_a_flat_colour(encoding: str) -> None:
    colour = {"R": 210, "G": 120, "B": 30}
    h, w = 12, 16
    mosaic = np.zeros((h, w), np.uint8)
    tile = TILES[encoding]
    for i, channel in enumerate(tile):
        mosaic[i // 2::2, i % 2::2] = colour[channel]
    decoded = decode_image(raw(mosaic.tobytes(), h, w, encoding, w))
    inner = decoded[2:-2, 2:-2].reshape(-1, 3)
    np.testing.assert_array_equal(inner, np.tile([210, 120, 30], (len(inner), 1)))


def test_unknown_encoding_and_short_data() -> None:
    with pytest.raises(InvalidValueError, match="'yuv422' is not supported"):
        decode_image(raw(bytes(12), 2, 3, "yuv422", 6))
    with pytest.raises(CorruptDataError, match="do not fit"):
        decode_image(raw(bytes(10), 2, 3, "mono8", 6))


def test_any_image_by_message_kind() -> None:
    image = rgb_image()
    assert decode_any_image(raw(image.tobytes(), 6, 10, "rgb8", 30)).shape == (6, 10, 3)


def camera_info(store, k, p=None, width=640, height=480):
    p = np.hstack([k, np.zeros((3, 1))]) if p is None else p
    return to_rosbags(store, "sensor_msgs/msg/CameraInfo", {
        "header": HEADER, "height": height, "width": width, "distortion_model": "plumb_bob", "d": [0.1, 0, 0, 0, 0],
        "k": np.asarray(k, float).reshape(-1), "r": np.eye(3).reshape(-1), "p": np.asarray(p, float).reshape(-1),
        "binning_x": 0, "binning_y": 0, "roi": {"x_offset": 0, "y_offset": 0, "height": 0, "width": 0, "do_rectify": False}})


@pytest.mark.parametrize("ros1", [False, True], ids=["ros2", "ros1"])
def test_intrinsics_rectified_raw_and_scaled(ros1: bool) -> None:
    store = ros1_store() if ros1 else ros2_store()
    k = np.array([[500.0, 0, 320], [0, 510.0, 240], [0, 0, 1]])
    p = np.array([[480.0, 0, 322, 0], [0, 481.0, 241, 0], [0, 0, 1, 0]])
    info = camera_info(store, k, p)
    np.testing.assert_array_equal(camera_intrinsics(info, rectified=True), p[:, :3])
    np.testing.assert_array_equal(camera_intrinsics(info, rectified=False), k)
    # a half-size image (binned stream): fx, cx halve
    np.testing.assert_allclose(camera_intrinsics(info, (240, 320), rectified=False),
                               [[250.0, 0, 160], [0, 255.0, 120], [0, 0, 1]])
    # P all zero (some drivers): K
    np.testing.assert_array_equal(camera_intrinsics(camera_info(store, k, np.zeros((3, 4)))), k)


def test_zero_focal_length_is_rejected_with_the_reason() -> None:
    with pytest.raises(InvalidValueError, match="focal length fx=0.0.*uncalibrated"):
        camera_intrinsics(camera_info(ros2_store(), np.zeros((3, 3)), np.zeros((3, 4))))


@pytest.mark.parametrize("distro", ["humble", "jazzy", "noetic"])
def test_encoders_round_trip_through_serialization(distro: str) -> None:
    store = typestore(distro)
    image = rgb_image()
    serialize = store.serialize_ros1 if distro == "noetic" else store.serialize_cdr
    deserialize = store.deserialize_ros1 if distro == "noetic" else store.deserialize_cdr

    def through(msg):
        return deserialize(serialize(msg, msg.__msgtype__), msg.__msgtype__)

    png = through(encode_compressed_image(store, image, 5, "cam", "png"))
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(bytes(png.data)))), image)  # Pillow reads it
    for encoding in ("rgb8", "bgr8"):
        np.testing.assert_array_equal(decode_image(through(encode_image(store, image, 5, "cam", encoding))), image)
    k = np.array([[300.0, 0, 5], [0, 301.0, 3], [0, 0, 1]])
    info = through(encode_camera_info(store, k, (6, 10), 5, "cam"))
    np.testing.assert_array_equal(camera_intrinsics(info, (6, 10)), k)
    assert (info.height, info.width) == (6, 10)


@pytest.mark.parametrize("reduction", [2, 4])
def test_reduced_decoding_sizes(reduction: int) -> None:
    """JPEG scales in the decoder (sides rounded up), PNG after decoding (OpenCV rounds down);
    the intrinsics follow the size actually decoded, so either is consistent."""
    image = rgb_image(7, 10)
    for fmt, expected in (("JPEG", (-(-7 // reduction), -(-10 // reduction))), ("PNG", (7 // reduction, 10 // reduction))):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format=fmt)
        assert decode_compressed_image(compressed(buffer.getvalue(), fmt.lower()), reduction).shape[:2] == expected
    assert decode_any_image(raw(image.tobytes(), 7, 10, "rgb8", 30), reduction).shape[:2] == \
        (-(-7 // reduction), -(-10 // reduction))
    with pytest.raises(ValueError, match="reduction"):
        decode_compressed_image(compressed(b"", "png"), 3)
