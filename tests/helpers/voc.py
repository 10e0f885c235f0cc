"""Small PASCAL VOC sets written by the tests: photos and their hand-written annotations."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

from kiosk.evaluation.voc import AnnotatedFace

BLANK = np.full((480, 640, 3), 120, np.uint8)  # a frame with nobody in it


def write_annotation(path: Path, image_name: str, size: tuple[int, int], faces: list[AnnotatedFace]) -> None:
    """Write a minimal VOC file, as an annotation tool would."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = image_name
    size_el = ET.SubElement(root, "size")
    ET.SubElement(size_el, "width").text = str(size[0])
    ET.SubElement(size_el, "height").text = str(size[1])
    ET.SubElement(size_el, "depth").text = "3"
    for face in faces:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = face.label
        ET.SubElement(obj, "difficult").text = "1" if face.difficult else "0"
        bnd = ET.SubElement(obj, "bndbox")
        x, y, w, h = face.box
        for tag, value in (("xmin", x), ("ymin", y), ("xmax", x + w), ("ymax", y + h)):
            ET.SubElement(bnd, tag).text = str(int(value))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=False)


def add_photo(folder: Path, name: str, image: np.ndarray, faces: list[AnnotatedFace]) -> None:
    """``folder/images/name.jpg`` and its ``folder/annotations/name.xml``."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "images" / f"{name}.jpg"), image)
    write_annotation(folder / "annotations" / f"{name}.xml", f"{name}.jpg", (image.shape[1], image.shape[0]), faces)
