"""Reading PASCAL VOC-annotated photo folders (``images/`` + ``annotations/``).

The evaluation and the detection study both read the annotated scenes through this module, so
they agree on what a "face" is: the annotated box, converted to (x, y, w, h) in the jpg's pixels.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from kiosk.errors import KioskError
from kiosk.camera.media import IMAGE_EXTENSIONS
from kiosk.vision.preprocessing import Box

log = logging.getLogger(__name__)


class VocError(KioskError):
    """An annotation folder or file that cannot be read as PASCAL VOC."""


@dataclass(frozen=True)
class AnnotatedFace:
    label: str  # the VOC <name>, e.g. with_mask
    box: Box  # x, y, w, h in pixels of the annotated image
    difficult: bool = False


@dataclass(frozen=True)
class Scene:
    """One annotated photo: where its image is and which faces it holds."""

    photo_id: str  # the image file stem; model cards list held-out photos by this id
    image_path: Path
    faces: tuple[AnnotatedFace, ...]


def _int_field(element: ET.Element, tag: str, where: str) -> int:
    node = element.find(tag)
    if node is None or node.text is None:
        raise VocError(f"{where}: missing <{tag}>")
    try:
        return int(round(float(node.text.strip())))
    except ValueError:
        raise VocError(f"{where}: <{tag}> is not a number: {node.text.strip()!r}") from None


def parse_annotation(xml_path: Path) -> tuple[str, list[AnnotatedFace]]:
    """The image file name and the faces of one VOC XML file."""
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise VocError(f"{xml_path}: not valid XML ({exc})") from None
    except OSError as exc:
        raise VocError(f"{xml_path}: cannot read ({exc.strerror})") from None
    filename = (root.findtext("filename") or "").strip()
    faces = []
    for index, obj in enumerate(root.iter("object")):
        where = f"{xml_path} object {index}"
        label = (obj.findtext("name") or "").strip()
        bndbox = obj.find("bndbox")
        if not label or bndbox is None:
            raise VocError(f"{where}: needs <name> and <bndbox>")
        x0, y0 = _int_field(bndbox, "xmin", where), _int_field(bndbox, "ymin", where)
        x1, y1 = _int_field(bndbox, "xmax", where), _int_field(bndbox, "ymax", where)
        if x1 <= x0 or y1 <= y0:
            raise VocError(f"{where}: empty box xmin={x0} ymin={y0} xmax={x1} ymax={y1}")
        difficult = (obj.findtext("difficult") or "0").strip() == "1"
        faces.append(AnnotatedFace(label=label, box=(x0, y0, x1 - x0, y1 - y0), difficult=difficult))
    return filename, faces


def _find_image(images_dir: Path, filename: str, stem: str) -> Path | None:
    if filename and (images_dir / filename).is_file():
        return images_dir / filename
    for ext in sorted(IMAGE_EXTENSIONS):
        candidate = images_dir / f"{stem}{ext}"
        if candidate.is_file():
            return candidate
    return None


def iter_scenes(folder: Path) -> Iterator[Scene]:
    """Every annotated photo of ``folder`` (with ``images/`` and ``annotations/``), sorted by id.

    A broken annotation or a missing image is logged and skipped, so one bad file does not stop
    an evaluation of hundreds of photos.
    """
    folder = Path(folder)
    annotations_dir, images_dir = folder / "annotations", folder / "images"
    if not annotations_dir.is_dir() or not images_dir.is_dir():
        raise VocError(f"{folder}: expected the PASCAL VOC layout with images/ and annotations/ folders")
    for xml_path in sorted(annotations_dir.glob("*.xml")):
        try:
            filename, faces = parse_annotation(xml_path)
        except VocError as exc:
            log.warning("skipped: %s", exc)
            continue
        image_path = _find_image(images_dir, filename, xml_path.stem)
        if image_path is None:
            log.warning("skipped: %s: its image %s is not in %s", xml_path.name, filename or xml_path.stem, images_dir)
            continue
        yield Scene(photo_id=image_path.stem, image_path=image_path, faces=tuple(faces))
