"""Single image files: PNG (8/16-bit), TIFF (8/16-bit), JPEG, EXR (half/float).

    image = read_image("shot.1001.exr")          # [H,W,3|4] float32, scene-linear
    width, height = image_size("shot.1001.png")   # from the header, no decoding
    write_image("out.0001.exr", image, exr_type="half")

PNG/TIFF/JPEG go through OpenCV (BGR on disk, RGB here); EXR through the OpenEXR package.
Sizes are read from the file headers so a sequence can be checked before any rendering.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..errors import MediaIOError, require

IMAGE_EXTENSIONS = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".exr"}


def _cv2():
    return require("cv2", "opencv-python-headless")


def _exr():
    return require("OpenEXR", "openexr")


def image_size(path) -> tuple:
    """(width, height) from the header (a few bytes read); MediaIOError if not that kind of image."""
    from ..files import check_regular_file

    path = check_regular_file(path)  # a pipe named like a frame would block here
    ext = path.suffix.lower()
    size = None
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            if ext == ".png" and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                size = struct.unpack(">II", head[16:24])
            elif ext in (".jpg", ".jpeg") and head[:2] == b"\xff\xd8":
                size = _jpeg_size(f)
            elif ext in (".tif", ".tiff") and head[:4] in (b"II*\x00", b"MM\x00*"):
                size = _tiff_size(f, "<" if head[:2] == b"II" else ">")
    except (OSError, struct.error) as exc:
        if isinstance(exc, OSError):
            raise MediaIOError(f"cannot read ({exc.strerror})", path=path) from None
        size = None
    if ext == ".exr" and head[:4] == b"\x76\x2f\x31\x01":
        try:
            window = _exr().File(str(path), header_only=True).header()["dataWindow"]
        except Exception:  # OpenEXR raises plain RuntimeError for damaged headers
            size = None
        else:
            size = (int(window[1][0] - window[0][0] + 1), int(window[1][1] - window[0][1] + 1))
    if not size or min(size) < 1:
        raise MediaIOError(f"not a readable {ext.lstrip('.').upper() or 'image'} file", path=path)
    return int(size[0]), int(size[1])


def _jpeg_size(f):
    """Walk the JPEG markers (seeking over segments) to the start-of-frame."""
    f.seek(2)
    while True:
        marker = f.read(4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        length = struct.unpack(">H", marker[2:4])[0]
        if length < 2:  # a damaged segment length would seek backwards forever
            return None
        if marker[1] in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">xHH", f.read(5))
            return w, h
        f.seek(length - 2, 1)


def _tiff_size(f, end: str):
    """ImageWidth and ImageLength from the first IFD."""
    f.seek(4)
    f.seek(struct.unpack(end + "I", f.read(4))[0])
    count = struct.unpack(end + "H", f.read(2))[0]
    entries = f.read(12 * count)
    found = {}
    for k in range(count):
        tag, typ = struct.unpack(end + "HH", entries[12 * k : 12 * k + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength (SHORT or LONG)
            fmt = end + ("H" if typ == 3 else "I")
            found[tag] = struct.unpack(fmt, entries[12 * k + 8 : 12 * k + 8 + struct.calcsize(fmt)])[0]
    return (found[256], found[257]) if len(found) == 2 else None


def read_image(path) -> np.ndarray:
    """[H,W,3|4] RGB(A): uint8 / uint16 for PNG, TIFF, JPEG; float32 (linear) for EXR."""
    from ..files import check_regular_file

    path = check_regular_file(path)
    if path.suffix.lower() == ".exr":
        return _read_exr(path)
    cv2 = _cv2()
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise MediaIOError(f"cannot read ({exc.strerror or exc})", path=path) from None
    if path.suffix.lower() == ".png":
        damage = png_damage(data)
        if damage:  # found here, before libpng prints its own line about it on stderr
            raise MediaIOError(f"damaged PNG ({damage})", path=path)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise MediaIOError("cannot decode the image (damaged or not an image)", path=path)
    if image.dtype not in (np.uint8, np.uint16):
        image = np.clip(image, 0, None).astype(np.float32) if image.dtype.kind == "f" else image.astype(np.uint16)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        return np.ascontiguousarray(np.repeat(image, 3, axis=-1))
    if image.shape[-1] == 4:
        return np.ascontiguousarray(image[..., [2, 1, 0, 3]])
    return np.ascontiguousarray(image[..., ::-1])


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_damage(data) -> str | None:
    """What is wrong with a PNG's chunk structure (truncated, a chunk failing its CRC), or None.

    A walk over the chunks with zlib's CRC-32: a fraction of the decoding time.
    """
    import zlib

    buf = memoryview(np.ascontiguousarray(data, dtype=np.uint8)).cast("B")
    if bytes(buf[:8]) != _PNG_SIGNATURE:
        return "no PNG signature"
    pos = 8
    while pos + 12 <= len(buf):
        length = struct.unpack(">I", buf[pos : pos + 4])[0]
        kind = bytes(buf[pos + 4 : pos + 8])
        end = pos + 12 + length
        if end > len(buf):
            return f"the file ends inside chunk {kind.decode('latin-1')!r} at byte {pos}: truncated"
        crc = struct.unpack(">I", buf[end - 4 : end])[0]
        if zlib.crc32(buf[pos + 4 : end - 4]) != crc:
            return f"chunk {kind.decode('latin-1')!r} at byte {pos} fails its CRC"
        if kind == b"IEND":
            return None
        pos = end
    return "no IEND chunk: truncated"


def _read_exr(path: Path) -> np.ndarray:
    exr = _exr()
    try:
        channels = exr.File(str(path), separate_channels=True).channels()
    except Exception as exc:  # OpenEXR raises plain RuntimeError
        raise MediaIOError(f"cannot read the EXR ({str(exc).splitlines()[0] if str(exc) else 'damaged'})",
                           path=path) from None
    names = {k.split(".")[-1].upper(): v for k, v in channels.items()}  # "rgba.R" layers -> "R"
    if all(c in names for c in "RGB"):
        order = "RGBA" if "A" in names else "RGB"
    elif "Y" in names:
        order = "YYY" + ("A" if "A" in names else "")
    else:
        raise MediaIOError(f"EXR has no R,G,B or Y channels (has {', '.join(sorted(channels))})", path=path)
    return np.ascontiguousarray(np.stack([names[c].pixels.astype(np.float32) for c in order], axis=-1))


def exr_pixel_dtype(path) -> np.dtype:
    """float16 for half EXR files, float32 for float ones (the first colour channel's type)."""
    channels = _exr().File(str(path), separate_channels=True).channels()
    return np.dtype(next(iter(channels.values())).pixels.dtype)


def write_image(path, image: np.ndarray, exr_type: str = "half", quality: int = 95) -> None:
    """Write [H,W,3|4] RGB(A) (or [H,W] grey, not for EXR) to `path`, format by extension.

    Callers write to a temporary name (runtime.files); `write_png` does that for PNGs.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".exr":
        exr = _exr()
        dtype = np.float16 if exr_type == "half" else np.float32
        name = "RGBA" if image.shape[-1] == 4 else "RGB"
        header = {"compression": exr.ZIP_COMPRESSION, "type": exr.scanlineimage}
        try:
            with exr.File(header, {name: np.ascontiguousarray(image.astype(dtype))}) as f:
                f.write(str(path))
        except Exception as exc:
            raise MediaIOError(f"cannot write the EXR ({exc})", path=path) from None
        return
    cv2 = _cv2()
    if image.ndim == 2:
        bgr = image
    else:
        bgr = image[..., [2, 1, 0, 3]] if image.shape[-1] == 4 else image[..., ::-1]
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext in (".jpg", ".jpeg") else []
    if ext == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]  # fast, still well compressed
    try:
        ok = cv2.imwrite(str(path), np.ascontiguousarray(bgr), params)
    except cv2.error as exc:
        raise MediaIOError(f"cannot write the image ({str(exc).strip().splitlines()[-1]})", path=path) from None
    if not ok:
        raise MediaIOError("cannot write the image", path=path)


def write_png(path, image: np.ndarray, overwrite: bool = True) -> Path:
    """Write a PNG through a temporary name (runtime.files). # [H,W], [H,W,1|3|4] uint8 | uint16, or float 0..1

    The one PNG writer of ganfx: pictures, sample grids, evaluation strips, demo stills.
    Float images are display values 0..1 (sRGB), written as 8-bit.
    """
    from ..files import atomic_path
    from ..frames import from_unit

    img = np.asarray(image)
    if img.dtype.kind == "f":
        img = from_unit(img, np.uint8)
    if img.dtype not in (np.uint8, np.uint16):
        raise MediaIOError(f"PNG takes uint8, uint16 or float pixels, got {img.dtype}", path=path)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (3, 4))):
        raise MediaIOError(f"PNG takes [H,W] or [H,W,1|3|4] pixels, got shape {list(img.shape)}", path=path)
    with atomic_path(path, overwrite=overwrite) as tmp:  # the temporary keeps the .png extension
        write_image(tmp, img)
    return Path(path)
