"""Camera messages <-> the data model: ``sensor_msgs/CompressedImage``, ``sensor_msgs/Image`` and
``sensor_msgs/CameraInfo``.

Images become (H, W, 3) uint8 RGB (the data model's convention): JPEG/PNG through OpenCV;
raw ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8``, ``mono8`` (replicated to 3 channels), ``mono16``
(top byte) and the four 8-bit Bayer mosaics ``bayer_rggb8``, ``bayer_bggr8``, ``bayer_gbrg8``,
``bayer_grbg8`` (OpenCV's edge-aware demosaicing).

Intrinsics: a rectified image (``image_rect*`` topics) is described by the projection matrix
``P`` (its left 3x3 block), a raw one by ``K``; both are scaled when the image is not the size
the CameraInfo states (binning, a resized stream).
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from rosbags.typesys.store import Typestore

from sensors.errors import CorruptDataError, InvalidValueError
from sensors.ros.types import header

#: ROS Bayer encoding -> OpenCV conversion to RGB. OpenCV names a mosaic by the second row's
#: second and third pixels, so ROS ``rggb`` is OpenCV ``BG``.
BAYER_TO_RGB: dict[str, int] = {
    "bayer_rggb8": cv2.COLOR_BayerBG2RGB_EA,
    "bayer_bggr8": cv2.COLOR_BayerRG2RGB_EA,
    "bayer_gbrg8": cv2.COLOR_BayerGR2RGB_EA,
    "bayer_grbg8": cv2.COLOR_BayerGB2RGB_EA,
}
#: Raw encodings with their channel count and the conversion to RGB (None: already RGB).
RAW_ENCODINGS: dict[str, tuple[int, int | None]] = {
    "rgb8": (3, None), "bgr8": (3, cv2.COLOR_BGR2RGB), "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB), "mono8": (1, cv2.COLOR_GRAY2RGB),
}


#: Reduction factor -> OpenCV read flag (JPEG decodes at the reduced size directly, by DCT scaling).
REDUCED_READ = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                8: cv2.IMREAD_REDUCED_COLOR_8}


def _check_reduction(reduction: int) -> None:
    if reduction not in REDUCED_READ:
        raise ValueError(f"image reduction must be one of {tuple(REDUCED_READ)}, got {reduction}")


def decode_compressed_image(msg: Any, reduction: int = 1) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a ``sensor_msgs/CompressedImage`` (JPEG, PNG, or any format
    OpenCV reads; a grey image is replicated to 3 channels).

    Args:
        msg: the message.
        reduction: 1, 2, 4 or 8: decode at about 1/reduction of the size (JPEG in the decoder,
            much faster, sides rounded up; other formats after decoding, OpenCV rounds down).
            :func:`camera_intrinsics` scales K to the size actually decoded.

    Raises:
        CorruptDataError: the bytes do not decode to an image.
    """
    _check_reduction(reduction)
    data = np.frombuffer(memoryview(msg.data).cast("B"), dtype=np.uint8)
    image = cv2.imdecode(data, REDUCED_READ[reduction]) if data.size else None
    if image is None:
        raise CorruptDataError(None, f"compressed image ({msg.format or 'no format'}, {data.size} bytes) does not decode")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def decode_image(msg: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a raw ``sensor_msgs/Image`` (encodings in the module docstring).

    Raises:
        InvalidValueError: an unsupported encoding.
        CorruptDataError: ``data`` shorter than ``height * step`` or ``step`` too small.
    """
    encoding = str(msg.encoding).lower()
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.frombuffer(memoryview(msg.data).cast("B"), dtype=np.uint8)
    if encoding in BAYER_TO_RGB or encoding in RAW_ENCODINGS or encoding == "mono16":
        channels, pixel_bytes = (1, 2) if encoding == "mono16" else (RAW_ENCODINGS.get(encoding, (1, None))[0], 1)
    else:
        raise InvalidValueError(None, f"image encoding {msg.encoding!r} is not supported "
                                      f"(supported: {sorted([*RAW_ENCODINGS, *BAYER_TO_RGB, 'mono16'])})")
    row = width * channels * pixel_bytes
    if height == 0 or width == 0 or step < row or data.size < height * step:
        raise CorruptDataError(None, f"image {width}x{height} {encoding}: step {step} and {data.size} bytes do not fit")
    pixels = data[: height * step].reshape(height, step)[:, :row]
    if encoding == "mono16":
        order = ">" if msg.is_bigendian else "<"
        grey = (np.ascontiguousarray(pixels).view(order + "u2").reshape(height, width) >> 8).astype(np.uint8)
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    pixels = np.ascontiguousarray(pixels).reshape(height, width, channels)
    if encoding in BAYER_TO_RGB:
        return cv2.cvtColor(pixels[:, :, 0], BAYER_TO_RGB[encoding])
    conversion = RAW_ENCODINGS[encoding][1]
    if conversion is None:
        return pixels
    return cv2.cvtColor(pixels[:, :, 0] if channels == 1 else pixels, conversion)


def decode_any_image(msg: Any, reduction: int = 1) -> np.ndarray:
    """RGB (H, W, 3) uint8 of a CompressedImage or a raw Image (by the message's fields), at
    1/``reduction`` of its size (each side rounded up; raw images by area averaging)."""
    if not hasattr(msg, "encoding"):
        return decode_compressed_image(msg, reduction)
    _check_reduction(reduction)
    image = decode_image(msg)
    if reduction == 1:
        return image
    height, width = (-(-n // reduction) for n in image.shape[:2])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _matrix(msg: Any, name: str, shape: tuple[int, int]) -> np.ndarray:
    values = getattr(msg, name, None)
    if values is None:
        values = getattr(msg, name.upper())  # ROS 1 CameraInfo: K, P, D, R
    return np.asarray(values, dtype=np.float64).reshape(shape)


def camera_intrinsics(info: Any, image_size: tuple[int, int] | None = None, rectified: bool = True) -> np.ndarray:
    """K (3, 3) in pixels of the image a ``sensor_msgs/CameraInfo`` describes.

    Args:
        info: the CameraInfo (ROS 1 ``K``/``P`` or ROS 2 ``k``/``p``).
        image_size: (H, W) of the image actually received; K is scaled to it when the CameraInfo
            states another size. None: as stated.
        rectified: the image is rectified: use ``P[:, :3]`` (falls back to ``K`` when ``P`` is all
            zero); otherwise ``K``.

    Raises:
        InvalidValueError: a zero or negative focal length, a non-finite matrix or a zero size.
    """
    k = _matrix(info, "k", (3, 3))
    if rectified:
        p = _matrix(info, "p", (3, 4))[:, :3]
        if np.any(p != 0):
            k = p
    if not np.all(np.isfinite(k)):
        raise InvalidValueError(None, f"CameraInfo {info.header.frame_id!r}: intrinsics are not finite")
    if k[0, 0] <= 0 or k[1, 1] <= 0:
        raise InvalidValueError(None, f"CameraInfo {info.header.frame_id!r}: focal length fx={k[0, 0]}, fy={k[1, 1]} "
                                      "is not positive (uncalibrated camera)")
    if image_size is not None:
        width, height = int(info.width), int(info.height)
        if width <= 0 or height <= 0:
            raise InvalidValueError(None, f"CameraInfo {info.header.frame_id!r}: size {width}x{height} is empty")
        if (height, width) != tuple(image_size):
            k = np.diag([image_size[1] / width, image_size[0] / height, 1.0]) @ k
    k = k.copy()
    k[2] = (0.0, 0.0, 1.0)
    return k


def encode_compressed_image(store: Typestore, image: np.ndarray, stamp_ns: int, frame_id: str,
                            image_format: str = "jpeg", quality: int = 95) -> Any:
    """A ``sensor_msgs/CompressedImage`` of an (H, W, 3) uint8 RGB image (``jpeg`` or ``png``).

    Raises:
        ValueError: an unknown format.
    """
    if image_format not in ("jpeg", "png"):
        raise ValueError(f"image_format must be jpeg or png, got {image_format!r}")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if image_format == "jpeg" else []
    ok, data = cv2.imencode(".jpg" if image_format == "jpeg" else ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} image as {image_format}")
    return store.types["sensor_msgs/msg/CompressedImage"](
        header=header(store, stamp_ns, frame_id), format=image_format, data=data.reshape(-1))


def encode_image(store: Typestore, image: np.ndarray, stamp_ns: int, frame_id: str, encoding: str = "rgb8") -> Any:
    """A raw ``sensor_msgs/Image`` of an (H, W, 3) uint8 RGB image as ``rgb8``, ``bgr8`` or
    ``mono8`` (the grey of the first channel), rows without padding."""
    if encoding == "rgb8":
        pixels = image
    elif encoding == "bgr8":
        pixels = image[:, :, ::-1]
    elif encoding == "mono8":
        pixels = image[:, :, :1]
    else:
        raise ValueError(f"encode_image supports rgb8, bgr8, mono8, got {encoding!r}")
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width, channels = pixels.shape
    return store.types["sensor_msgs/msg/Image"](
        header=header(store, stamp_ns, frame_id), height=height, width=width, encoding=encoding,
        is_bigendian=0, step=width * channels, data=pixels.reshape(-1))


def encode_camera_info(store: Typestore, intrinsics: np.ndarray, size: tuple[int, int], stamp_ns: int, frame_id: str) -> Any:
    """A ``sensor_msgs/CameraInfo`` of a rectified pinhole camera: ``K`` = ``intrinsics``,
    ``P`` = ``[K | 0]``, no distortion (``plumb_bob`` with zeros), ``R`` = identity.

    Args:
        intrinsics: (3, 3) K in pixels.
        size: (H, W) of the image.
    """
    k = np.asarray(intrinsics, dtype=np.float64)
    types = store.types
    cls = types["sensor_msgs/msg/CameraInfo"]
    upper = "K" in cls.__dataclass_fields__
    matrices = {"d": np.zeros(5), "k": k.reshape(-1), "r": np.eye(3).reshape(-1),
                "p": np.hstack([k, np.zeros((3, 1))]).reshape(-1)}
    roi = types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return cls(header=header(store, stamp_ns, frame_id), height=int(size[0]), width=int(size[1]),
               distortion_model="plumb_bob", binning_x=0, binning_y=0, roi=roi,
               **{(name.upper() if upper else name): value for name, value in matrices.items()})
